// Adapts a plugin's C selection component (herald/plugin_abi.h) to a
// Component<SelectionContext>. Config: google.protobuf.Struct, passed to the
// plugin as JSON.
#include "core/strings.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/plugin_adapters.h"
#include "csf/prepared_profile.h"
#include "csf/selection_state.h"
#include "herald/selection.h"

namespace herald {
namespace {

using internal::Str;

// Renders a profile value as text for user_attr / context_attr.
bool ProfileText(const v1::Profile* profile, const char* name, std::string* out) {
  if (profile == nullptr || name == nullptr) return false;
  auto it = profile->values().find(name);
  if (it == profile->values().end()) return false;
  const v1::Value& v = it->second;
  switch (v.kind_case()) {
    case v1::Value::kStringValue: *out = v.string_value(); return true;
    case v1::Value::kIntValue: *out = Cat(v.int_value()); return true;
    case v1::Value::kDoubleValue: *out = Cat(v.double_value()); return true;
    case v1::Value::kBoolValue: *out = v.bool_value() ? "true" : "false"; return true;
    case v1::Value::kMoneyValue:
      *out = Cat(v.money_value().minor_units(), " ", v.money_value().currency());
      return true;
    default: return false;
  }
}

// What a view's `ctx` points to during one run.
struct ViewState {
  SelectionContext* ctx;
  std::string buffer;  // storage for the last rendered attribute
  std::string label;
};

size_t CandidateCount(void* p) { return static_cast<ViewState*>(p)->ctx->candidates.size(); }

int CandidateAttr(void* p, size_t index, const char* name, herald_str* out) {
  auto* v = static_cast<ViewState*>(p);
  SelectionContext& ctx = *v->ctx;
  if (index >= ctx.candidates.size() || name == nullptr || out == nullptr) return 0;
  const CompiledItem& item = ctx.item(index);
  const v1::CampaignItem& proto = *item.proto;
  const v1::Display& d = proto.has_ad() ? proto.ad().display() : proto.discount().display();
  std::string_view key = name;
  const v1::Catalog& catalog = ctx.catalog->catalog();
  if (key == "id") { *out = Str(item.id); return 1; }
  if (key == "name") { *out = Str(item.name); return 1; }
  if (key == "campaign") { *out = Str(item.campaign_id); return 1; }
  if (key == "type") { *out = Str(ItemKindName(item.kind)); return 1; }
  if (key == "customer") {
    if (item.campaign < 0) return 0;
    *out = Str(catalog.campaigns(item.campaign).customer_id());
    return 1;
  }
  if (key == "industry") {
    if (item.industry < 0) return 0;
    *out = Str(catalog.reference_tables().industries(item.industry).code());
    return 1;
  }
  if (key == "size") {
    if (item.size < 0) return 0;
    *out = Str(catalog.reference_tables().content_sizes(item.size).name());
    return 1;
  }
  if (key == "click_url") { *out = Str(d.click_url()); return 1; }
  if (key == "image_url") { *out = Str(d.image_url()); return 1; }
  if (key == "text") { *out = Str(d.text()); return 1; }
  auto it = d.fields().find(std::string(key));
  if (it != d.fields().end()) { *out = Str(it->second); return 1; }
  return 0;
}

double CandidateScore(void* p, size_t index) {
  auto* v = static_cast<ViewState*>(p);
  return index < v->ctx->candidates.size() ? v->ctx->candidates[index].score : 0;
}

void MultiplyScore(void* p, size_t index, double factor, const char* reason) {
  auto* v = static_cast<ViewState*>(p);
  if (index >= v->ctx->candidates.size() || !(factor >= 0) || !std::isfinite(factor)) return;
  v->ctx->MultiplyScore(index, factor, reason != nullptr ? reason : "");
}

int UserAttr(void* p, const char* name, herald_str* out) {
  auto* v = static_cast<ViewState*>(p);
  if (out == nullptr) return 0;
  const SelectionRequest& request = *v->ctx->request;
  if (!ProfileText(RequestProfile(request.prepared_user, request.user), name, &v->buffer)) return 0;
  *out = Str(v->buffer);
  return 1;
}

int ContextAttr(void* p, const char* name, herald_str* out) {
  auto* v = static_cast<ViewState*>(p);
  if (out == nullptr) return 0;
  const SelectionRequest& request = *v->ctx->request;
  if (!ProfileText(RequestProfile(request.prepared_context, request.context), name, &v->buffer)) return 0;
  *out = Str(v->buffer);
  return 1;
}

herald_str PageGroup(void* p) {
  auto* v = static_cast<ViewState*>(p);
  const auto& groups = v->ctx->request->page_groups;
  return groups.empty() ? herald_str{"", 0} : Str(groups.front());
}

int32_t RequestedCount(void* p) { return static_cast<ViewState*>(p)->ctx->request->count; }
int Tracing(void* p) { return static_cast<ViewState*>(p)->ctx->trace != nullptr; }

int CandidateNumber(void* p, size_t index, const char* name, double* out) {
  auto* v = static_cast<ViewState*>(p);
  if (index >= v->ctx->candidates.size() || name == nullptr || out == nullptr) return 0;
  const CompiledItem& item = v->ctx->item(index);
  const std::string_view key = name;
  if (key == "exposure_limit") *out = item.exposure_limit;
  else if (key == "max_per_day") *out = item.max_per_day;
  else if (key == "max_per_week") *out = item.max_per_week;
  else if (key == "weight") *out = item.weight;
  else return 0;
  return 1;
}

// LoadHistory writes one exposure entry per item seen; the first is the one.
int CandidateExposure(void* p, size_t index, herald_exposure* out) {
  auto* v = static_cast<ViewState*>(p);
  if (index >= v->ctx->candidates.size() || out == nullptr) return 0;
  const uint32_t item = v->ctx->item(index).index;
  for (const Exposure& e : v->ctx->exposures) {
    if (e.item != item) continue;
    *out = herald_exposure{e.count, e.today, e.this_week};
    return 1;
  }
  return 0;
}

herald_str SessionId(void* p) { return Str(static_cast<ViewState*>(p)->ctx->request->session_id); }

int UserValue(void* p, const char* name, herald_value* out) {
  auto* v = static_cast<ViewState*>(p);
  const SelectionRequest& request = *v->ctx->request;
  const v1::Profile* profile = RequestProfile(request.prepared_user, request.user);
  if (profile == nullptr || name == nullptr || out == nullptr) return 0;
  auto it = profile->values().find(name);
  return it != profile->values().end() && internal::ToPluginValue(it->second, out) ? 1 : 0;
}

class PluginSelectionComponent final : public SelectionComponent {
 public:
  explicit PluginSelectionComponent(std::unique_ptr<internal::PluginInstance> plugin)
      : plugin_(std::move(plugin)) {}

  ComponentContract Contract() const override { return internal::PluginContract(plugin_->desc); }

  absl::Status Run(SelectionContext& ctx) const override {
    ViewState state{&ctx, {}, {}};
    herald_selection_view view{&state,          &CandidateCount,  &CandidateAttr,     &CandidateScore,
                               &MultiplyScore,  &UserAttr,        &ContextAttr,       &PageGroup,
                               &RequestedCount, &Tracing,         &CandidateNumber,   &CandidateExposure,
                               &SessionId,      &UserValue};
    internal::ErrorSink sink;
    herald_code code = plugin_->desc.run(plugin_->instance, &view, &sink.error);
    ctx.RemoveZeroScores();
    return code == HERALD_OK ? absl::OkStatus() : sink.ToStatus(code, plugin_->desc.name);
  }

  double MaxScoreMultiplier(const SelectionContext&) const override {
    const herald_component_desc& desc = plugin_->desc;
    if (desc.max_score_multiplier == nullptr) return std::numeric_limits<double>::infinity();
    double bound = desc.max_score_multiplier(plugin_->instance);
    return std::isfinite(bound) && bound > 0 ? bound : std::numeric_limits<double>::infinity();
  }

 private:
  std::unique_ptr<internal::PluginInstance> plugin_;
};

}  // namespace

namespace internal {
absl::StatusOr<std::unique_ptr<FactoryBase>> MakeSelectionPluginFactory(const herald_component_desc& desc,
                                                                         const std::string& plugin) {
  return MakePluginFactory(kSelectionFamily.name, desc, plugin, [](std::unique_ptr<PluginInstance> instance) {
    return std::unique_ptr<Extension>(new PluginSelectionComponent(std::move(instance)));
  });
}

// Plugins of this module's family load wherever the module is linked in.
[[maybe_unused]] const bool kSelectionAdapted = AddPluginFamily("selection", &MakeSelectionPluginFactory);
}  // namespace internal

}  // namespace herald
