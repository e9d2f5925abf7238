/* tier_boost: boosts one campaign's ads for users of a given tier.
 *
 * A selection-pipeline component written in plain C against
 * <herald/plugin_abi.h>, to show what a third party writes. Config (JSON):
 *   {"campaign": "spring-paint", "tier": "gold", "factor": 2}
 * Users whose profile attribute "tier" equals the configured tier see that
 * campaign's candidates' scores multiplied by `factor`.
 *
 * The JSON reading below is deliberately tiny (flat object of strings and
 * numbers); a real plugin would use a JSON library.
 */
#include <stdlib.h>
#include <string.h>

#include "herald/plugin_abi.h"

typedef struct {
  char campaign[128];
  char tier[64];
  double factor;
} tier_boost;

/* Copies the value of "key" (a string or a number) from a flat JSON object. */
static int json_value(const char* json, size_t n, const char* key, char* out, size_t cap) {
  char pattern[80];
  size_t klen = strlen(key);
  if (klen + 3 > sizeof pattern) return 0;
  pattern[0] = '"';
  memcpy(pattern + 1, key, klen);
  pattern[klen + 1] = '"';
  pattern[klen + 2] = '\0';
  for (size_t i = 0; i + klen + 2 <= n; ++i) {
    if (memcmp(json + i, pattern, klen + 2) != 0) continue;
    size_t j = i + klen + 2;
    while (j < n && (json[j] == ' ' || json[j] == ':')) ++j;
    int quoted = j < n && json[j] == '"';
    if (quoted) ++j;
    size_t k = 0;
    while (j < n && k + 1 < cap && (quoted ? json[j] != '"' : (json[j] != ',' && json[j] != '}'))) {
      out[k++] = json[j++];
    }
    out[k] = '\0';
    return 1;
  }
  return 0;
}

static void* create(const char* json, size_t n, herald_error* error) {
  tier_boost* b = calloc(1, sizeof *b);
  char factor[32] = "";
  if (b == NULL) {
    error->set(error, "out of memory");
    return NULL;
  }
  if (!json_value(json, n, "campaign", b->campaign, sizeof b->campaign) ||
      !json_value(json, n, "tier", b->tier, sizeof b->tier)) {
    free(b);
    error->set(error, "\"campaign\" and \"tier\" are required");
    return NULL;
  }
  b->factor = json_value(json, n, "factor", factor, sizeof factor) ? strtod(factor, NULL) : 2.0;
  if (!(b->factor >= 0)) {
    free(b);
    error->set(error, "\"factor\" must be >= 0");
    return NULL;
  }
  return b;
}

static void destroy(void* instance) { free(instance); }

static int equals(herald_str s, const char* want) {
  return s.size == strlen(want) && memcmp(s.data, want, s.size) == 0;
}

static herald_code run(void* instance, const void* view_ptr, herald_error* error) {
  const tier_boost* b = instance;
  const herald_selection_view* view = view_ptr;
  herald_str tier, campaign;
  (void)error;
  if (!view->user_attr(view->ctx, "tier", &tier) || !equals(tier, b->tier)) return HERALD_OK;
  for (size_t i = 0; i < view->candidate_count(view->ctx); ++i) {
    if (view->candidate_attr(view->ctx, i, "campaign", &campaign) && equals(campaign, b->campaign)) {
      view->multiply_score(view->ctx, i, b->factor, "tier_boost: user tier matches");
    }
  }
  return HERALD_OK;
}

/* No score grows by more than the factor (or 1): saying so keeps pruning on. */
static double max_score_multiplier(void* instance) {
  double factor = ((const tier_boost*)instance)->factor;
  return factor > 1 ? factor : 1;
}

/* It reads the candidates and writes no other fact: declaring so keeps the
 * pipeline's contract check on for the components after it. */
static const char* const reads[] = {"candidates", NULL};
static const char* const writes[] = {NULL};

static herald_code register_components(herald_registrar* registrar, herald_error* error) {
  static const herald_component_desc desc = {
      sizeof(herald_component_desc), "selection", "TierBoost",
      "boosts a campaign's ads for users of one tier", &create, &destroy, &run, &max_score_multiplier,
      reads, writes, NULL, NULL};
  return registrar->register_component(registrar, &desc, error);
}

static const herald_plugin plugin = {HERALD_PLUGIN_ABI_VERSION, "tier_boost", "1.0",
                                     &register_components};

/* The ABI this plugin is built against (the hash of herald/plugin_abi.h);
 * the host refuses the plugin if its own differs. */
HERALD_PLUGIN_DEFINE_ABI_HASH()

HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { return &plugin; }
