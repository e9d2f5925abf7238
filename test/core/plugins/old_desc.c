/* A plugin built before herald_component_desc grew max_score_multiplier:
 * its struct_size stops before that field, which the host must not read. */
#include <string.h>

#include "herald/plugin_abi.h"

static void* Create(const char* config, size_t size, herald_error* error) {
  (void)config;
  (void)size;
  (void)error;
  static int instance;
  return &instance;
}
static void Destroy(void* instance) { (void)instance; }
static herald_code Run(void* instance, const void* view, herald_error* error) {
  (void)instance;
  (void)view;
  (void)error;
  return HERALD_OK;
}
static double Garbage(void* instance) {
  (void)instance;
  return 1;
}
static herald_code Register(herald_registrar* r, herald_error* e) {
  /* The field after the old end holds a pointer the host must ignore. */
  static herald_component_desc desc;
  memset(&desc, 0, sizeof desc);
  desc.struct_size = HERALD_COMPONENT_DESC_SIZE_V1;
  desc.family = "selection";
  desc.name = "OldComponent";
  desc.create = &Create;
  desc.destroy = &Destroy;
  desc.run = &Run;
  desc.max_score_multiplier = &Garbage;
  return r->register_component(r, &desc, e);
}
static const herald_plugin kPlugin = {HERALD_PLUGIN_ABI_VERSION, "old_desc", "0", &Register};
HERALD_PLUGIN_DEFINE_ABI_HASH()
HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { return &kPlugin; }
