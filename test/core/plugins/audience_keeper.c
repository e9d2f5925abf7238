/* A destination plugin with audiences: add_audience_members writes each
 * member it is given ("audience em ph ad_user_data ad_personalization") to
 * audience.txt in its base folder, and refuses the audience "refused" with
 * an error message. Sending is not its point: every batch is accepted and
 * its events delivered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/plugin_abi.h"

typedef struct Keeper {
  char path[4096];
} Keeper;

static void* CreateInContext(const herald_create_context* context, herald_error* error) {
  Keeper* k = (Keeper*)calloc(1, sizeof(Keeper));
  if (k == NULL) {
    error->set(error, "out of memory");
    return NULL;
  }
  const char* dir = context->base_dir.size > 0 ? context->base_dir.data : ".";
  const int dir_size = context->base_dir.size > 0 ? (int)context->base_dir.size : 1;
  snprintf(k->path, sizeof k->path, "%.*s/audience.txt", dir_size, dir);
  return k;
}

static void Destroy(void* instance) { free(instance); }

static void Limits(void* instance, int32_t* max_batch_events, int64_t* max_age_seconds) {
  (void)instance;
  *max_batch_events = 100;
  *max_age_seconds = 90 * 86400;
}

static void Prepare(void* instance, const herald_conversion_view* events) {
  (void)instance;
  (void)events;
}

static void SendBatch(void* instance, const herald_conversion_view* events, herald_batch_result* result) {
  (void)instance;
  for (size_t i = 0; i < events->event_count(events->ctx); ++i) {
    events->set_state(events->ctx, i, HERALD_EVENT_DELIVERED, NULL, NULL);
  }
  result->outcome = HERALD_BATCH_ACCEPTED;
}

static herald_code AddAudienceMembers(void* instance, herald_str audience, const herald_audience_member* members,
                                      size_t count, herald_error* error) {
  Keeper* k = (Keeper*)instance;
  if (audience.size == 7 && memcmp(audience.data, "refused", 7) == 0) {
    error->set(error, "the platform refused audience \"refused\"");
    return HERALD_FAILED_PRECONDITION;
  }
  FILE* out = fopen(k->path, "a");
  if (out == NULL) {
    error->set(error, "cannot write audience.txt");
    return HERALD_INTERNAL;
  }
  for (size_t i = 0; i < count; ++i) {
    fprintf(out, "%.*s %.*s %.*s %d %d\n", (int)audience.size, audience.data, (int)members[i].em.size,
            members[i].em.data, (int)members[i].ph.size, members[i].ph.data, (int)members[i].ad_user_data,
            (int)members[i].ad_personalization);
  }
  fclose(out);
  return HERALD_OK;
}

static void Describe(void* instance, char* buffer, size_t size) {
  (void)instance;
  snprintf(buffer, size, "audience keeper");
}

static const herald_destination_ops kOps = {sizeof(herald_destination_ops), &Limits, &Prepare, NULL, &SendBatch,
                                            &AddAudienceMembers, &Describe};

static herald_code Register(herald_registrar* r, herald_error* e) {
  static herald_component_desc desc;
  desc.struct_size = sizeof desc;
  desc.family = "destination";
  desc.name = "audience_keeper";
  desc.destroy = &Destroy;
  desc.destination = &kOps;
  desc.create_in_context = &CreateInContext;
  return r->register_component(r, &desc, e);
}

static const herald_plugin kPlugin = {HERALD_PLUGIN_ABI_VERSION, "audience_keeper", "1", &Register};
HERALD_PLUGIN_DEFINE_ABI_HASH()
HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { return &kPlugin; }
