// Internal: what a PreparedProfile holds (herald/selection.h), and how
// LoadContext reads a request's user and context through it.
#ifndef HERALD_LIB_CSF_PREPARED_PROFILE_H_
#define HERALD_LIB_CSF_PREPARED_PROFILE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/catalog_schemas.h"
#include "herald/expr.h"
#include "herald/model/common.pb.h"
#include "herald/selection.h"

namespace herald {

struct PreparedProfile::Data {
  Role role = Role::kUser;
  uint64_t catalog_generation = 0;
  v1::Profile profile;
  // One entry per attribute of the role's slot list (TargetingSchema::user or
  // ::context), in its order: the value, or absent. Strings point into
  // `profile`, list elements into `lists`; neither changes after Build.
  std::vector<expr::Value> values;
  std::vector<uint8_t> present;
  std::vector<AttributeStorage> lists;
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
