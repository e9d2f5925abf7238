// RegisterBuiltins (herald/builtins.h): every built-in component, store
// backend and plugin family of the modules this library was built with. The
// one place that names the modules, on top of them all, so that core names
// none (docs/architecture.md, "Modules"); a library built from a subset
// (HERALD_ONLY_MODULES) registers that subset's built-ins.
#include "herald/builtins.h"

#ifdef HERALD_WITH_CONVERSION
#include "herald/conversion.h"
#endif
#ifdef HERALD_WITH_DISCOUNT
#include "herald/discount.h"
#endif
#ifdef HERALD_WITH_MAIL
#include "herald/mail.h"
#endif
#ifdef HERALD_WITH_CSF
#include "herald/selection.h"
#endif
#ifdef HERALD_WITH_STORE
#include "herald/store.h"
#endif

namespace herald {

absl::Status RegisterBuiltins(Registry* registry) {
  if (registry == nullptr) return absl::InvalidArgumentError("RegisterBuiltins: null registry");
#ifdef HERALD_WITH_CSF
  RegisterSelectionComponents(registry);
#endif
#ifdef HERALD_WITH_DISCOUNT
  RegisterDiscountComponents(registry);
#endif
#ifdef HERALD_WITH_MAIL
  RegisterMailComponents(registry);
#endif
#ifdef HERALD_WITH_CONVERSION
  RegisterConversionComponents(registry);
#endif
#ifdef HERALD_WITH_STORE
  if (absl::Status s = RegisterStoreBackends(registry); !s.ok()) return s;
#endif
  return absl::OkStatus();
}

}  // namespace herald
