/* PluginExposureLimit: the built-in ExposureLimit (selection, "filter"
 * stage) as a C-ABI plugin, in plain C, from herald/plugin_abi.h alone.
 *
 * For each candidate whose ad has an exposure limit or a frequency cap, the
 * user's exposure to it (loaded by LoadHistory) is compared with, in this
 * order: the exposure limit (count in this session, or in all without a
 * session id), the daily cap, the weekly cap. The first that is reached
 * removes the candidate (factor 0) with the built-in's trace reason. It
 * declares that it reads the candidates and the history and never raises a
 * score, so the pipeline is checked and the selector keeps pruning. */
#include <stdio.h>
#include <stdlib.h>

#include "herald/plugin_abi.h"

/* No config and no state: the instance is a non-NULL token. */
static char kInstance;

static void* Create(const char* config, size_t size, herald_error* error) {
  (void)config;
  (void)size;
  (void)error;
  return &kInstance;
}

static void Destroy(void* instance) { (void)instance; }

static double MaxScoreMultiplier(void* instance) {
  (void)instance;
  return 1.0;
}

static int Number(const herald_selection_view* v, size_t i, const char* name) {
  double value = 0;
  return v->candidate_number(v->ctx, i, name, &value) ? (int)value : 0;
}

/* The rule the exposure reaches first, written into reason; 0 when none. */
static int Reached(const herald_selection_view* v, size_t i, const herald_exposure* seen, char* reason,
                   size_t size) {
  const int limit = Number(v, i, "exposure_limit");
  const int per_day = Number(v, i, "max_per_day");
  const int per_week = Number(v, i, "max_per_week");
  if (limit > 0 && seen->count >= limit) {
    snprintf(reason, size, "exposure limit %d reached%s", limit,
             v->session_id(v->ctx).size > 0 ? " in this session" : "");
    return 1;
  }
  if (per_day > 0 && seen->today >= per_day) {
    snprintf(reason, size, "frequency cap %d a day reached", per_day);
    return 1;
  }
  if (per_week > 0 && seen->this_week >= per_week) {
    snprintf(reason, size, "frequency cap %d a week reached", per_week);
    return 1;
  }
  return 0;
}

static herald_code Run(void* instance, const void* view, herald_error* error) {
  const herald_selection_view* v = (const herald_selection_view*)view;
  (void)instance;
  (void)error;
  const size_t count = v->candidate_count(v->ctx);
  for (size_t i = 0; i < count; ++i) {
    herald_exposure seen;
    char reason[96];
    if (!v->candidate_exposure(v->ctx, i, &seen)) continue;
    if (Reached(v, i, &seen, reason, sizeof reason)) v->multiply_score(v->ctx, i, 0.0, reason);
  }
  return HERALD_OK;
}

static const char* const kReads[] = {"candidates", "history", NULL};
static const char* const kWrites[] = {NULL};

static herald_code Register(herald_registrar* registrar, herald_error* error) {
  static herald_component_desc desc;
  desc.struct_size = sizeof desc;
  desc.family = "selection";
  desc.name = "PluginExposureLimit";
  desc.description = "removes ads whose exposure limit or daily / weekly frequency cap the user reached";
  desc.create = &Create;
  desc.destroy = &Destroy;
  desc.run = &Run;
  desc.max_score_multiplier = &MaxScoreMultiplier;
  desc.reads = kReads;
  desc.writes = kWrites;
  return registrar->register_component(registrar, &desc, error);
}

static const herald_plugin kPlugin = {HERALD_PLUGIN_ABI_VERSION, "replacement_exposure_limit", "1.0", &Register};

HERALD_PLUGIN_DEFINE_ABI_HASH()
HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { return &kPlugin; }
