#include "core/strings.h"
#include "herald/registry.h"

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"

namespace herald {

struct Registry::Factories {
  mutable absl::Mutex mu;
  absl::btree_map<std::pair<std::string, std::string>, std::unique_ptr<FactoryBase>> by_key
      ABSL_GUARDED_BY(mu);

  const FactoryBase* FindLocked(std::string_view family, std::string_view name) const
      ABSL_SHARED_LOCKS_REQUIRED(mu) {
    auto it = by_key.find(std::make_pair(std::string(family), std::string(name)));
    return it == by_key.end() ? nullptr : it->second.get();
  }
};

Registry::Registry(const Registry* parent) : parent_(parent), factories_(std::make_unique<Factories>()) {}
Registry::~Registry() = default;

Registry& Registry::Default() {
  static Registry* const registry = new Registry();
  return *registry;
}

absl::Status Registry::Register(std::unique_ptr<FactoryBase> factory) {
  if (factory == nullptr) return absl::InvalidArgumentError("cannot register a null factory");
  if (factory->name().empty() || factory->family().empty()) {
    return absl::InvalidArgumentError("a factory needs a non-empty family and name");
  }
  std::string family(factory->family()), name(factory->name());
  if (parent_ != nullptr && parent_->Find(family, name).ok()) {
    return absl::AlreadyExistsError(
        Cat(family, " \"", name, "\" is already registered (in a parent registry)"));
  }
  absl::MutexLock lock(&factories_->mu);
  auto [it, inserted] = factories_->by_key.try_emplace(std::make_pair(family, name), nullptr);
  if (!inserted) {
    return absl::AlreadyExistsError(Cat(family, " \"", name, "\" is already registered"));
  }
  it->second = std::move(factory);
  return absl::OkStatus();
}

bool Registry::RegisterIfAbsent(std::unique_ptr<FactoryBase> factory) {
  if (factory == nullptr) return false;
  return Register(std::move(factory)).ok();
}

absl::StatusOr<const FactoryBase*> Registry::Find(std::string_view family,
                                                  std::string_view name) const {
  for (const Registry* r = this; r != nullptr; r = r->parent_) {
    absl::ReaderMutexLock lock(&r->factories_->mu);
    if (const FactoryBase* f = r->factories_->FindLocked(family, name)) return f;
  }
  std::vector<std::string> known = Names(family);
  if (known.empty()) {
    return absl::NotFoundError(
        Cat("unknown ", family, " \"", name, "\": no ", family, " is registered"));
  }
  return absl::NotFoundError(Cat("unknown ", family, " \"", name,
                                          "\"; known: ", Join(known, ", ")));
}

std::vector<std::string> Registry::Names(std::string_view family) const {
  std::vector<std::string> out;
  for (const FactoryBase* f : All()) {
    if (f->family() == family) out.emplace_back(f->name());
  }
  return out;
}

std::vector<std::string> Registry::Families() const {
  std::vector<std::string> out;
  for (const FactoryBase* f : All()) {
    if (out.empty() || out.back() != f->family()) out.emplace_back(f->family());
  }
  return out;
}

std::vector<const FactoryBase*> Registry::All() const {
  absl::btree_map<std::pair<std::string, std::string>, const FactoryBase*> merged;
  for (const Registry* r = this; r != nullptr; r = r->parent_) {
    absl::ReaderMutexLock lock(&r->factories_->mu);
    for (const auto& [key, factory] : r->factories_->by_key) merged.emplace(key, factory.get());
  }
  std::vector<const FactoryBase*> out;
  out.reserve(merged.size());
  for (const auto& [key, factory] : merged) out.push_back(factory);
  return out;
}

}  // namespace herald
