// Internal: the state of one export run, shared by the conversion components.
#ifndef HERALD_LIB_CONVERSION_RUN_H_
#define HERALD_LIB_CONVERSION_RUN_H_

#include <functional>
#include <string>

#include "herald/conversion.h"
#include "core/string_map.h"

namespace herald {

class ExportRun {
 public:
  const ExporterOptions* options = nullptr;
  ExportReport report;
  IdentifierHasher hasher;
  StringMap<const v1::ConversionAction*> actions;  // ActionKey -> the catalog's action
  std::function<void(absl::Duration)> sleep;

  static std::string ActionKey(std::string_view issue, std::string_view group, std::string_view name) {
    std::string key;
    key.reserve(issue.size() + group.size() + name.size() + 2);
    key.append(issue).push_back('\x1f');
    key.append(group).push_back('\x1f');
    key.append(name);
    return key;
  }
};

}  // namespace herald

#endif  // HERALD_LIB_CONVERSION_RUN_H_
