/* A plugin from before the ABI was identified by a hash: it exports the entry
 * point but no herald_plugin_abi_hash. The host must refuse it without calling
 * the entry point, which would abort here. */
#include <stdlib.h>

#include "herald/plugin_abi.h"
HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { abort(); }
