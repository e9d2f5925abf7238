#include "herald/builtins.h"

#include "herald/conversion.h"
#include "herald/discount.h"
#include "herald/mail.h"
#include "herald/selection.h"
#include "herald/store.h"

namespace herald {

absl::Status RegisterBuiltins(Registry* registry) {
  if (registry == nullptr) return absl::InvalidArgumentError("RegisterBuiltins: null registry");
  RegisterSelectionComponents(registry);
  RegisterDiscountComponents(registry);
  RegisterMailComponents(registry);
  RegisterConversionComponents(registry);
  if (absl::Status s = RegisterStoreBackends(registry); !s.ok()) return s;
  return absl::OkStatus();
}

}  // namespace herald
