/* A shared object without herald_plugin_entry. */
#include "herald/plugin_abi.h"
HERALD_PLUGIN_EXPORT int not_a_herald_plugin(void) { return 42; }
