// Internal: compiling a catalog's target groups against the targeting schema.
#ifndef HERALD_LIB_CSF_TARGET_GROUPS_H_
#define HERALD_LIB_CSF_TARGET_GROUPS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "herald/campaign_cache.h"

namespace herald {

// Errors name the target group and entry: 'target group "tg1" / entry #2: 1:6: unknown field ...'.
absl::StatusOr<std::vector<CompiledTargetGroup>> CompileTargetGroups(
    const v1::Catalog& catalog, const TargetingSchema& targeting, double default_boost);

}  // namespace herald

#endif  // HERALD_LIB_CSF_TARGET_GROUPS_H_
