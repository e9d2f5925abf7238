/* A plugin with the right ABI hash but another ABI generation number: the
 * host must refuse it. */
#include "herald/plugin_abi.h"
static herald_code Register(herald_registrar* r, herald_error* e) { (void)r; (void)e; return HERALD_OK; }
static const herald_plugin kPlugin = {HERALD_PLUGIN_ABI_VERSION + 41u, "wrong_abi", "0", &Register};
HERALD_PLUGIN_DEFINE_ABI_HASH()
HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { return &kPlugin; }
