/* A plugin whose registration fails with a message. */
#include "herald/plugin_abi.h"
static herald_code Register(herald_registrar* r, herald_error* e) {
  (void)r;
  e->set(e, "license file missing");
  return HERALD_FAILED_PRECONDITION;
}
static const herald_plugin kPlugin = {HERALD_PLUGIN_ABI_VERSION, "failing", "0", &Register};
HERALD_PLUGIN_DEFINE_ABI_HASH()
HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { return &kPlugin; }
