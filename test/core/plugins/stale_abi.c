/* A plugin built against another herald/plugin_abi.h (its hash differs), as
 * after any change to the header: the host must refuse it without calling its
 * entry point, which would abort here. */
#include <stdlib.h>

#include "herald/plugin_abi.h"
HERALD_PLUGIN_EXPORT const char* herald_plugin_abi_hash(void) {
  return "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
}
HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { abort(); }
