/* A "conversion" family plugin (a component of the export pipeline, run on
 * a page): hashes each live event's identity by Google's rules and sets
 * aside, as "no_email", the events left without a hashed email. */
#include <stddef.h>
#include "herald/plugin_abi.h"
static char kInstance;
static void* Create(const char* c, size_t n, herald_error* e) { (void)c; (void)n; (void)e; return &kInstance; }
static void Destroy(void* i) { (void)i; }
static herald_code Run(void* instance, const void* view, herald_error* error) {
  const herald_conversion_view* v = (const herald_conversion_view*)view;
  (void)instance;
  (void)error;
  for (size_t i = 0; i < v->event_count(v->ctx); ++i) {
    herald_str em;
    if (v->event_state(v->ctx, i) != HERALD_EVENT_LIVE) continue;
    v->prepare_identity(v->ctx, i, HERALD_IDENTITY_GOOGLE, NULL);
    if (!v->event_text(v->ctx, i, "identity.em", &em)) {
      v->set_state(v->ctx, i, HERALD_EVENT_INVALID, "no_email", "the marker needs an email");
      if (v->tracing(v->ctx)) v->note(v->ctx, "event", "invalid", "no email");
    }
  }
  v->set_state(v->ctx, 99999, 42, "ignored", "an index and a state out of range change nothing");
  return HERALD_OK;
}
static const char* const kNone[] = {NULL};
static herald_code Register(herald_registrar* r, herald_error* e) {
  static herald_component_desc desc;
  desc.struct_size = sizeof desc;
  desc.family = "conversion";
  desc.name = "ConversionMarker";
  desc.create = &Create;
  desc.destroy = &Destroy;
  desc.run = &Run;
  desc.reads = kNone;
  desc.writes = kNone;
  return r->register_component(r, &desc, e);
}
static const herald_plugin kPlugin = {HERALD_PLUGIN_ABI_VERSION, "conversion_marker", "0", &Register};
HERALD_PLUGIN_DEFINE_ABI_HASH()
HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { return &kPlugin; }
