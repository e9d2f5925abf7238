/* A valid selection plugin that does nothing: a subset without csf must
 * refuse it by family, naming the families it has. */
#include <stddef.h>
#include "herald/plugin_abi.h"
static void* Create(const char* c, size_t n, herald_error* e) { (void)c; (void)n; (void)e; return (void*)1; }
static void Destroy(void* i) { (void)i; }
static herald_code Run(void* i, const void* v, herald_error* e) { (void)i; (void)v; (void)e; return HERALD_OK; }
static herald_code Register(herald_registrar* r, herald_error* e) {
  static herald_component_desc desc;
  desc.struct_size = sizeof desc;
  desc.family = "selection";
  desc.name = "Nothing";
  desc.create = &Create;
  desc.destroy = &Destroy;
  desc.run = &Run;
  return r->register_component(r, &desc, e);
}
static const herald_plugin kPlugin = {HERALD_PLUGIN_ABI_VERSION, "selection_plugin", "0", &Register};
HERALD_PLUGIN_DEFINE_ABI_HASH()
HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { return &kPlugin; }
