#include "core/strings.h"
#include "csf/target_groups.h"

#include "absl/strings/str_cat.h"

namespace herald {

absl::StatusOr<std::vector<CompiledTargetGroup>> CompileTargetGroups(
    const v1::Catalog& catalog, const TargetingSchema& targeting, double default_boost) {
  expr::CompileOptions options;
  options.default_time_zone = catalog.time_zone().empty() ? "UTC" : catalog.time_zone();
  std::vector<CompiledTargetGroup> out;
  for (const auto& tg : catalog.target_groups()) {
    CompiledTargetGroup group;
    group.id = tg.id();
    for (int i = 0; i < tg.entries_size(); ++i) {
      const auto& entry = tg.entries(i);
      auto program = expr::CompileFilter(entry.expression(), targeting.schema, options);
      if (!program.ok()) {
        return absl::InvalidArgumentError(Cat("target group \"", tg.id(), "\" / entry #",
                                                       i + 1, ": ", program.status().message()));
      }
      CompiledTargetEntry compiled;
      compiled.action = entry.action() == v1::TARGET_ACTION_UNSPECIFIED ? v1::TARGET_ACTION_TARGET
                                                                        : entry.action();
      compiled.boost = entry.boost() > 0 ? entry.boost() : default_boost;
      compiled.program = std::move(*program);
      compiled.source = entry.expression();
      group.entries.push_back(std::move(compiled));
    }
    out.push_back(std::move(group));
  }
  return out;
}

}  // namespace herald
