// score_boost: a selection-pipeline scorer shipped as a loadable plugin.
//
// Multiplies the score of every candidate whose attribute `attribute` equals
// `value` by `factor`, optionally only when the user's attribute
// `user_attribute` equals `user_value`:
//
//   components { name: "ScoreBoost"
//                json_config: '{"attribute":"industry","value":"beverage","factor":1.5}' }
//
// It talks to Herald only through herald/plugin_abi.h; its C++ and
// nlohmann::json stay inside this shared object.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "herald/plugin_abi.h"
#include "nlohmann/json.hpp"

namespace {

struct ScoreBoost {
  std::string attribute;
  std::string value;
  double factor = 1.0;
  std::string user_attribute;
  std::string user_value;
  std::string reason;
};

void* Create(const char* config_json, size_t config_size, herald_error* error) {
  nlohmann::json config = nlohmann::json::parse(config_json, config_json + config_size, nullptr,
                                                /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    error->set(error, "config must be a JSON object");
    return nullptr;
  }
  auto* boost = new ScoreBoost();
  auto text = [&](const char* key, std::string* out) {
    auto it = config.find(key);
    if (it != config.end() && it->is_string()) *out = it->get<std::string>();
  };
  text("attribute", &boost->attribute);
  text("value", &boost->value);
  text("user_attribute", &boost->user_attribute);
  text("user_value", &boost->user_value);
  auto factor = config.find("factor");
  if (factor != config.end() && factor->is_number()) boost->factor = factor->get<double>();
  if (boost->attribute.empty()) {
    delete boost;
    error->set(error, "\"attribute\" is required (a candidate attribute such as industry or campaign)");
    return nullptr;
  }
  if (!(boost->factor >= 0) || !std::isfinite(boost->factor)) {
    delete boost;
    error->set(error, "\"factor\" must be a finite number >= 0");
    return nullptr;
  }
  boost->reason = "score_boost: " + boost->attribute + " is " + boost->value;
  return boost;
}

void Destroy(void* instance) { delete static_cast<ScoreBoost*>(instance); }

bool Equals(herald_str s, const std::string& want) {
  return s.size == want.size() && std::memcmp(s.data, want.data(), s.size) == 0;
}

herald_code Run(void* instance, const void* view_ptr, herald_error* error) {
  const auto* boost = static_cast<const ScoreBoost*>(instance);
  const auto* view = static_cast<const herald_selection_view*>(view_ptr);
  if (!boost->user_attribute.empty()) {
    herald_str user;
    if (!view->user_attr(view->ctx, boost->user_attribute.c_str(), &user) ||
        !Equals(user, boost->user_value)) {
      return HERALD_OK;
    }
  }
  size_t n = view->candidate_count(view->ctx);
  for (size_t i = 0; i < n; ++i) {
    herald_str attr;
    if (view->candidate_attr(view->ctx, i, boost->attribute.c_str(), &attr) &&
        Equals(attr, boost->value)) {
      view->multiply_score(view->ctx, i, boost->factor, boost->reason.c_str());
    }
  }
  return HERALD_OK;
}

// Matching candidates are multiplied by `factor`, the others left as they
// are: no score grows by more than max(factor, 1), and saying so keeps the
// selector's pruning on.
double MaxScoreMultiplier(void* instance) { return std::max(1.0, static_cast<ScoreBoost*>(instance)->factor); }

// Reads the candidates the earlier stages produced; writes no other fact.
const char* const kReads[] = {"candidates", nullptr};
const char* const kWrites[] = {nullptr};

herald_code Register(herald_registrar* registrar, herald_error* error) {
  static const herald_component_desc kDesc = {
      sizeof(herald_component_desc),
      "selection",
      "ScoreBoost",
      "multiplies the scores of candidates with a given attribute",
      &Create,
      &Destroy,
      &Run,
      &MaxScoreMultiplier,
      kReads,
      kWrites,
      nullptr,  // not a destination
      nullptr,  // create is enough: no secrets, no files
  };
  return registrar->register_component(registrar, &kDesc, error);
}

const herald_plugin kPlugin = {HERALD_PLUGIN_ABI_VERSION, "score_boost", "1.0", &Register};

}  // namespace

HERALD_PLUGIN_DEFINE_ABI_HASH()
extern "C" HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { return &kPlugin; }
