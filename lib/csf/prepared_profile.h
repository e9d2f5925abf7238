// Internal: what a PreparedProfile is (herald/selection.h), and how
// LoadContext reads a request's user and context through it.
#ifndef HERALD_LIB_CSF_PREPARED_PROFILE_H_
#define HERALD_LIB_CSF_PREPARED_PROFILE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "core/catalog_schemas.h"
#include "herald/expr.h"
#include "herald/model/common.pb.h"
#include "herald/selection.h"

namespace herald {

// What a PreparedProfile is.
struct PreparedProfileData final : PreparedProfile {
  // What a request reads comes first, in one block (the values inline for up
  // to 8 attributes): a user's prepared profile is usually cold, and this way
  // it costs one or two cache misses, not one per indirection.
  uint64_t catalog_generation = 0;
  Role role = Role::kUser;
  // One value per attribute of the role's slot list (TargetingSchema::user
  // or ::context), in its order; an absent attribute holds the absent value
  // (Activation::Get of an unset slot). Strings point into `profile`, list
  // elements into `lists`; neither changes after Build.
  absl::InlinedVector<expr::Value, 8> values;
  v1::Profile profile;
  std::vector<AttributeStorage> lists;

  static const PreparedProfileData& Of(const PreparedProfile& p) {
    return static_cast<const PreparedProfileData&>(p);
  }
};

// Sets the activation's slots of one role from, in order of preference: the
// prepared profile when it was built for `generation` and this role; the
// prepared profile's own copy of the profile (built for another snapshot);
// the plain profile. `lists` holds list and map storage for the last two.
void LoadProfileSlots(const std::vector<std::pair<std::string, expr::Slot>>& slots,
                      const PreparedProfile* prepared, PreparedProfile::Role role,
                      uint64_t generation, const v1::Profile* profile,
                      expr::Activation* activation, std::vector<AttributeStorage>* lists);

// The profile a request's user (or context) attributes come from, for
// components that read attributes by name (plugins): the prepared one's copy
// when given, else the plain one; null when neither is.
const v1::Profile* RequestProfile(const PreparedProfile* prepared, const v1::Profile* profile);

}  // namespace herald

#endif  // HERALD_LIB_CSF_PREPARED_PROFILE_H_
