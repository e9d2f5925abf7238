/* A shared object with the ABI hash but without herald_plugin_entry. */
#include "herald/plugin_abi.h"
HERALD_PLUGIN_DEFINE_ABI_HASH()
HERALD_PLUGIN_EXPORT int not_a_herald_plugin(void) { return 42; }
