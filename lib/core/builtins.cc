#include "herald/builtins.h"

#include "herald/selection.h"
#include "herald/store.h"

namespace herald {


absl::Status RegisterBuiltins(Registry* registry) {
  if (registry == nullptr) return absl::InvalidArgumentError("RegisterBuiltins: null registry");
  RegisterSelectionComponents(registry);
  return absl::OkStatus();
}

}  // namespace herald
