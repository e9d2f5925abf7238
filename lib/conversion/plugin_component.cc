// Adapts a plugin's C conversion component ("conversion": a component of
// the export pipeline, run on a page) and C destination ("destination":
// herald_destination_ops) to Herald's ConversionComponent and Destination.
// Both see events through herald_conversion_view: the record's fields, the
// hashed identity (prepared by the built-ins' own PrepareIdentity: the
// "identifiers" service), the state and the payload. The raw personal data
// of a subject is never shown to a plugin: only its hashes.
#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/plugin_adapters.h"
#include "herald/conversion.h"
#include "herald/trace.h"

namespace herald {
namespace {

using internal::Str;
using internal::View;

// What a view's `ctx` points to during one call.
struct EventsState {
  std::vector<ConversionEvent*> events;
  absl::Time now;
  Trace* trace = nullptr;
  IdentifierHasher* hasher = nullptr;  // borrowed; or made on first use
  std::unique_ptr<IdentifierHasher> own_hasher;
};

EventsState& State(void* p) { return *static_cast<EventsState*>(p); }
ConversionEvent* Event(void* p, size_t index) {
  EventsState& s = State(p);
  return index < s.events.size() ? s.events[index] : nullptr;
}

size_t EventCount(void* p) { return State(p).events.size(); }

std::string_view OutcomeText(const v1::InteractionRecord& r) {
  switch (r.outcome()) {
    case v1::OUTCOME_ACCEPTED: return "Accepted";
    case v1::OUTCOME_REJECTED: return "Rejected";
    case v1::OUTCOME_IMPRESSION: return "Impression";
    case v1::OUTCOME_CLICKED: return "Clicked";
    case v1::OUTCOME_CUSTOM: return r.custom_outcome();
    default: return {};
  }
}

const std::string* IdentityField(const HashedIdentity& id, std::string_view key) {
  const std::pair<std::string_view, const std::string*> fields[] = {
      {"em", &id.em}, {"ph", &id.ph}, {"fn", &id.fn}, {"ln", &id.ln}, {"ct", &id.ct}, {"st", &id.st},
      {"zp", &id.zp}, {"country", &id.country}, {"db", &id.db}, {"ge", &id.ge}, {"external_id", &id.external_id}};
  for (const auto& [name, value] : fields) {
    if (name == key) return value;
  }
  return nullptr;
}

// The record's text field `key`, or null for an unknown name.
std::optional<std::string_view> RecordText(const ConversionEvent& e, std::string_view key) {
  const v1::InteractionRecord& r = *e.record;
  if (key == "event_id") return e.event_id;
  if (key == "order_id") return e.order_id;
  if (key == "channel") return r.channel();
  if (key == "outcome") return OutcomeText(r);
  if (key == "action.issue") return r.action().issue();
  if (key == "action.group") return r.action().group();
  if (key == "action.name") return r.action().name();
  if (key == "currency") return r.value().currency();
  if (key == "reason") return e.reason;
  if (key == "detail") return e.detail;
  if (key == "payload") return e.payload;
  // Click identifiers are the platforms' own tokens, not personal data.
  if (key == "click.gclid") return r.subject().gclid();
  if (key == "click.gbraid") return r.subject().gbraid();
  if (key == "click.wbraid") return r.subject().wbraid();
  if (key == "click.fbc") return r.subject().fbc();
  if (key == "click.fbp") return r.subject().fbp();
  return std::nullopt;
}

int EventText(void* p, size_t index, const char* name, herald_str* out) {
  const ConversionEvent* e = Event(p, index);
  if (e == nullptr || e->record == nullptr || name == nullptr || out == nullptr) return 0;
  const std::string_view key = name;
  std::optional<std::string_view> value;
  if (key.substr(0, 9) == "identity.") {
    const std::string* field = IdentityField(e->identity, key.substr(9));
    if (field != nullptr) value = *field;
  } else {
    value = RecordText(*e, key);
  }
  if (!value.has_value() || value->empty()) return 0;
  *out = Str(*value);
  return 1;
}

int EventNumber(void* p, size_t index, const char* name, int64_t* out) {
  const ConversionEvent* e = Event(p, index);
  if (e == nullptr || e->record == nullptr || name == nullptr || out == nullptr) return 0;
  const std::string_view key = name;
  const v1::InteractionRecord& r = *e->record;
  if (key == "sequence") *out = e->sequence;
  else if (key == "time") *out = r.time().seconds();
  else if (key == "attempts") *out = e->attempts;
  else if (key == "value_minor" && r.has_value() && !r.value().currency().empty()) *out = r.value().minor_units();
  else return 0;
  return 1;
}

constexpr std::pair<herald_event_state, EventState> kStates[] = {
    {HERALD_EVENT_LIVE, EventState::kLive},          {HERALD_EVENT_DELIVERED, EventState::kDelivered},
    {HERALD_EVENT_DUPLICATE, EventState::kDuplicate}, {HERALD_EVENT_INVALID, EventState::kInvalid},
    {HERALD_EVENT_FAILED, EventState::kFailed},       {HERALD_EVENT_TRANSIENT, EventState::kTransient},
    {HERALD_EVENT_SKIPPED, EventState::kSkipped},     {HERALD_EVENT_NO_CONSENT, EventState::kNoConsent}};

herald_event_state GetState(void* p, size_t index) {
  const ConversionEvent* e = Event(p, index);
  if (e == nullptr) return HERALD_EVENT_SKIPPED;
  for (const auto& [abi, state] : kStates) {
    if (state == e->state) return abi;
  }
  return HERALD_EVENT_SKIPPED;
}

// `state` is read as the number a plugin passed, never as the enum, so an
// unknown value is ignored rather than undefined.
void SetState(void* p, size_t index, int32_t state, const char* reason, const char* detail) {
  ConversionEvent* e = Event(p, index);
  if (e == nullptr) return;
  for (const auto& [abi, ours] : kStates) {
    if (static_cast<int32_t>(abi) == state) e->Set(ours, View(reason), View(detail));
  }
}

void PrepareIdentityFor(void* p, size_t index, int32_t rules, const char* default_region) {
  ConversionEvent* e = Event(p, index);
  if (e == nullptr || e->record == nullptr) return;
  EventsState& s = State(p);
  if (s.hasher == nullptr) {
    s.own_hasher = std::make_unique<IdentifierHasher>();
    s.hasher = s.own_hasher.get();
  }
  IdentityRules chosen = rules == HERALD_IDENTITY_GOOGLE ? kGoogleIdentityRules : kMetaIdentityRules;
  chosen.default_region = View(default_region);
  PrepareIdentity(e->record->subject(), chosen, e->identity, *s.hasher);
}

void SetPayload(void* p, size_t index, const char* data, size_t size) {
  ConversionEvent* e = Event(p, index);
  if (e != nullptr) e->payload.assign(data == nullptr ? "" : data, data == nullptr ? 0 : size);
}

int64_t Now(void* p) { return absl::ToUnixSeconds(State(p).now); }
void Note(void* p, const char* subject, const char* verdict, const char* reason) {
  if (State(p).trace != nullptr) State(p).trace->Note(View(subject), View(verdict), View(reason));
}
int Tracing(void* p) { return State(p).trace != nullptr; }

herald_conversion_view ViewOf(EventsState& state) {
  return herald_conversion_view{&state,   &EventCount, &EventText,          &EventNumber, &GetState,
                                &SetState, &PrepareIdentityFor, &SetPayload, &Now,        &Note,
                                &Tracing};
}

class PluginConversionComponent final : public ConversionComponent {
 public:
  explicit PluginConversionComponent(std::unique_ptr<internal::PluginInstance> plugin)
      : plugin_(std::move(plugin)) {}

  ComponentContract Contract() const override { return internal::PluginContract(plugin_->desc); }

  absl::Status Run(ExportContext& ctx) const override {
    EventsState state;
    state.now = ctx.now;
    state.trace = ctx.trace;
    state.hasher = RunHasher(ctx);  // the run's: its phone cache serves every page
    state.events.reserve(ctx.events.size());
    for (ConversionEvent& e : ctx.events) state.events.push_back(&e);
    const herald_conversion_view view = ViewOf(state);
    internal::ErrorSink sink;
    const herald_code code = plugin_->desc.run(plugin_->instance, &view, &sink.error);
    return code == HERALD_OK ? absl::OkStatus() : sink.ToStatus(code, plugin_->desc.name);
  }

 private:
  std::unique_ptr<internal::PluginInstance> plugin_;
};

BatchOutcome OutcomeOf(int32_t outcome) {
  switch (outcome) {
    case HERALD_BATCH_ACCEPTED: return BatchOutcome::kAccepted;
    case HERALD_BATCH_REJECTED: return BatchOutcome::kRejected;
    case HERALD_BATCH_TOO_LARGE: return BatchOutcome::kTooLarge;
    case HERALD_BATCH_FATAL: return BatchOutcome::kFatal;
    default: return BatchOutcome::kRetryable;  // anything else is not definite
  }
}

class PluginDestination final : public Destination {
 public:
  explicit PluginDestination(std::unique_ptr<internal::PluginInstance> plugin)
      : plugin_(std::move(plugin)), ops_(*plugin_->desc.destination) {
    int32_t max_events = 0;
    int64_t max_age_seconds = 0;
    ops_.limits(plugin_->instance, &max_events, &max_age_seconds);
    // Out-of-range limits are the plugin's mistake: kept inside what the
    // exporter can work with rather than trusted.
    limits_.max_batch_events = std::clamp<int32_t>(max_events, 1, 10000);
    if (max_age_seconds > 0) limits_.max_age = absl::Seconds(max_age_seconds);
  }

  const DestinationLimits& limits() const override { return limits_; }

  void Prepare(ConversionEvent& event, IdentifierHasher& hasher) const override {
    EventsState state;
    state.events = {&event};
    state.now = absl::Now();
    state.hasher = &hasher;
    const herald_conversion_view view = ViewOf(state);
    ops_.prepare(plugin_->instance, &view);
  }

  void Validate(ConversionEvent& event, absl::Time now) const override {
    if (ops_.validate == nullptr) return;
    EventsState state;
    state.events = {&event};
    state.now = now;
    const herald_conversion_view view = ViewOf(state);
    ops_.validate(plugin_->instance, &view);
  }

  BatchResult SendBatch(std::span<ConversionEvent* const> events) override {
    EventsState state;
    state.events.assign(events.begin(), events.end());
    state.now = absl::Now();
    const herald_conversion_view view = ViewOf(state);
    herald_batch_result answer{};
    answer.outcome = HERALD_BATCH_RETRYABLE;  // a send_batch that says nothing is retried
    ops_.send_batch(plugin_->instance, &view, &answer);
    BatchResult result;
    result.outcome = OutcomeOf(answer.outcome);
    result.http_status = answer.http_status;
    if (answer.retry_after_ms > 0) result.retry_after = absl::Milliseconds(answer.retry_after_ms);
    if (answer.message != nullptr) result.message = answer.message;
    return result;
  }

  absl::Status AddAudienceMembers(std::string_view audience, std::span<const AudienceMember> members) override {
    if (ops_.add_audience_members == nullptr) return Destination::AddAudienceMembers(audience, members);
    std::vector<herald_audience_member> given;
    given.reserve(members.size());
    for (const AudienceMember& m : members) {
      given.push_back({Str(m.em), Str(m.ph), m.ad_user_data, m.ad_personalization});
    }
    internal::ErrorSink sink;
    const herald_code code =
        ops_.add_audience_members(plugin_->instance, Str(audience), given.data(), given.size(), &sink.error);
    return code == HERALD_OK ? absl::OkStatus() : sink.ToStatus(code, plugin_->desc.name);
  }

  std::string Describe() const override {
    char buffer[512] = {0};
    ops_.describe(plugin_->instance, buffer, sizeof(buffer));
    buffer[sizeof(buffer) - 1] = '\0';  // a plugin that filled it all is cut, not overrun
    return absl::StrCat(buffer, " (plugin ", plugin_->desc.name, ")");
  }

 private:
  std::unique_ptr<internal::PluginInstance> plugin_;
  const herald_destination_ops& ops_;
  DestinationLimits limits_;
};

}  // namespace

namespace internal {
absl::StatusOr<std::unique_ptr<FactoryBase>> MakeConversionPluginFactory(const herald_component_desc& desc,
                                                                          const std::string& plugin) {
  return MakePluginFactory(kConversionFamily.name, desc, plugin, [](std::unique_ptr<PluginInstance> instance) {
    return std::unique_ptr<Extension>(new PluginConversionComponent(std::move(instance)));
  });
}

absl::StatusOr<std::unique_ptr<FactoryBase>> MakeDestinationPluginFactory(const herald_component_desc& desc,
                                                                           const std::string& plugin) {
  return MakePluginFactory(ExtensionTraits<Destination>::kFamily, desc, plugin,
                           [](std::unique_ptr<PluginInstance> instance) {
                             return std::unique_ptr<Extension>(new PluginDestination(std::move(instance)));
                           });
}

// Plugins of this module's families load wherever the module is linked in.
[[maybe_unused]] const bool kConversionAdapted = AddPluginFamily("conversion", &MakeConversionPluginFactory);
[[maybe_unused]] const bool kDestinationAdapted = AddPluginFamily("destination", &MakeDestinationPluginFactory);
}  // namespace internal

}  // namespace herald
