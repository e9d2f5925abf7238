#include "csf/prepared_profile.h"

#include <utility>

#include "herald/campaign_cache.h"

namespace herald {

std::unique_ptr<const PreparedProfile> PreparedProfile::Build(const CompiledCatalog& catalog, Role role,
                                                             v1::Profile profile) {
  auto data = std::make_unique<PreparedProfileData>();
  data->role = role;
  data->catalog_generation = catalog.generation();
  data->profile = std::move(profile);
  const TargetingSchema& targeting = catalog.targeting();
  const auto& slots = role == Role::kUser ? targeting.user : targeting.context;
  // Read the profile once, the way a request would, into an activation of
  // our own, and keep what each slot got. The values point into
  // data->profile and data->lists, which live (unchanged) as long as `data`.
  expr::Activation activation(targeting.schema);
  FillProfileSlots(slots, &data->profile, &activation, &data->lists);
  data->values.reserve(slots.size());
  for (const auto& [name, slot] : slots) data->values.push_back(activation.Get(slot));
  return data;
}

PreparedProfile::Role PreparedProfile::role() const { return PreparedProfileData::Of(*this).role; }

const v1::Profile& PreparedProfile::profile() const { return PreparedProfileData::Of(*this).profile; }

uint64_t PreparedProfile::catalog_generation() const {
  return PreparedProfileData::Of(*this).catalog_generation;
}

void LoadProfileSlots(const std::vector<std::pair<std::string, expr::Slot>>& slots,
                      const PreparedProfile* prepared, PreparedProfile::Role role,
                      uint64_t generation, const v1::Profile* profile,
                      expr::Activation* activation, std::vector<AttributeStorage>* lists) {
  const PreparedProfileData* data = prepared != nullptr ? &PreparedProfileData::Of(*prepared) : nullptr;
  if (data != nullptr && data->catalog_generation == generation && data->role == role &&
      data->values.size() == slots.size()) {
    for (size_t i = 0; i < slots.size(); ++i) activation->Set(slots[i].second, data->values[i]);
    return;
  }
  if (prepared != nullptr) profile = &prepared->profile();  // built for another snapshot
  FillProfileSlots(slots, profile, activation, lists);
}

const v1::Profile* RequestProfile(const PreparedProfile* prepared, const v1::Profile* profile) {
  return prepared != nullptr ? &prepared->profile() : profile;
}

}  // namespace herald
