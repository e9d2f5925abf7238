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
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "herald/selection.h"

namespace herald {
namespace {

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

herald_str Str(std::string_view s) { return herald_str{s.data(), s.size()}; }

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
  const SelectionRequest& request = *v->ctx->request;
  if (!ProfileText(RequestProfile(request.prepared_user, request.user), name, &v->buffer)) return 0;
  *out = Str(v->buffer);
  return 1;
}

int ContextAttr(void* p, const char* name, herald_str* out) {
  auto* v = static_cast<ViewState*>(p);
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

class PluginSelectionComponent final : public SelectionComponent {
 public:
  PluginSelectionComponent(const herald_component_desc& desc, void* instance)
      : desc_(desc), instance_(instance) {}
  ~PluginSelectionComponent() override { desc_.destroy(instance_); }

  absl::Status Run(SelectionContext& ctx) const override {
    ViewState state{&ctx, {}, {}};
    herald_selection_view view{&state,        &CandidateCount, &CandidateAttr, &CandidateScore,
                               &MultiplyScore, &UserAttr,       &ContextAttr,   &PageGroup,
                               &RequestedCount, &Tracing};
    internal::ErrorSink sink;
    herald_code code = desc_.run(instance_, &view, &sink.error);
    ctx.RemoveZeroScores();
    if (code != HERALD_OK) {
      return absl::Status(static_cast<absl::StatusCode>(code == HERALD_OK ? HERALD_INTERNAL : code),
                          Cat("plugin component ", desc_.name, ": ",
                                       sink.message.empty() ? "failed" : sink.message));
    }
    return absl::OkStatus();
  }

  double MaxScoreMultiplier(const SelectionContext&) const override {
    if (desc_.max_score_multiplier == nullptr) return std::numeric_limits<double>::infinity();
    double bound = desc_.max_score_multiplier(instance_);
    return std::isfinite(bound) && bound > 0 ? bound : std::numeric_limits<double>::infinity();
  }

 private:
  herald_component_desc desc_;
  void* instance_;
};

class PluginSelectionFactory final : public FactoryBase {
 public:
  PluginSelectionFactory(const herald_component_desc& desc, std::string plugin)
      : desc_(desc), plugin_(std::move(plugin)) {
    name_ = desc.name;
    description_ = desc.description != nullptr ? desc.description : "";
    CatTo(description_, description_.empty() ? "" : " ", "(plugin ", plugin_, ")");
  }
  std::string_view family() const override { return kSelectionFamily.name; }
  std::string_view name() const override { return name_; }
  std::string_view description() const override { return description_; }
  std::unique_ptr<google::protobuf::Message> CreateEmptyConfig() const override {
    return std::make_unique<google::protobuf::Struct>();
  }
  absl::StatusOr<std::unique_ptr<Extension>> Create(const google::protobuf::Message& config,
                                                    const CreateContext&) const override {
    if (config.GetDescriptor() != google::protobuf::Struct::descriptor()) {
      return absl::InvalidArgumentError(Cat(
          "plugin component ", name_, ": config must be google.protobuf.Struct (json_config)"));
    }
    std::string json;
    auto status = google::protobuf::util::MessageToJsonString(config, &json);
    if (!status.ok()) return absl::InvalidArgumentError(std::string(status.message()));
    internal::ErrorSink sink;
    void* instance = desc_.create(json.data(), json.size(), &sink.error);
    if (instance == nullptr) {
      return absl::InvalidArgumentError(Cat("plugin component ", name_, " (", plugin_,
                                                     "): ", sink.message.empty() ? "create failed" : sink.message));
    }
    return std::unique_ptr<Extension>(new PluginSelectionComponent(desc_, instance));
  }

 private:
  herald_component_desc desc_;
  std::string plugin_, name_, description_;
};

}  // namespace

namespace internal {
absl::StatusOr<std::unique_ptr<FactoryBase>> MakeSelectionPluginFactory(
    const herald_component_desc& desc, const std::string& plugin) {
  // A plugin built before a field was added passes a shorter struct: copy
  // what it has and leave the rest zero (NULL).
  herald_component_desc full{};
  std::memcpy(&full, &desc, std::min<size_t>(desc.struct_size, sizeof(full)));
  return std::unique_ptr<FactoryBase>(new PluginSelectionFactory(full, plugin));
}
}  // namespace internal

}  // namespace herald
