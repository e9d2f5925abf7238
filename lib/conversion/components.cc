// The built-in components of the conversion pipeline (herald/conversion.h)
// and their registration.
#include <fstream>

#include "core/component_factory.h"
#include "absl/random/random.h"
#include "conversion/destinations.h"
#include "conversion/encode.h"
#include "conversion/run.h"
#include "core/strings.h"
#include "herald/conversion.h"
#include "herald/model/conversion_config.pb.h"

namespace herald {

namespace {

using Comp = ConversionComponent;

template <typename Config, typename Impl>
std::unique_ptr<FactoryBase> Factory(std::string name, std::string description) {
  return internal::ComponentFactory<Comp, Config, Impl>(std::move(name), std::move(description));
}

using internal::ConfigError;

absl::Status NoRun(std::string_view component) {
  return absl::FailedPreconditionError(
      Cat(component, ": the context has no export run or destination (run it through ConversionExporter)"));
}

void Note(ExportContext& ctx, const ConversionEvent& e, std::string_view verdict, std::string_view reason) {
  if (ctx.trace != nullptr) ctx.trace->Note(e.event_id, verdict, reason);
}

bool IsEnabled(const v1::ConversionAction& a) {
  bool offline = a.has_offline_conversion_enabled() ? a.offline_conversion_enabled() : a.paid_sync_enabled();
  return a.paid_sync_enabled() && offline;
}

// ---------------------------------------------------------------- select

class SelectConversions final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<SelectConversions>> Make(const v1::SelectConversionsConfig& config) {
    auto c = std::make_unique<SelectConversions>();
    for (const std::string& o : config.custom_outcomes()) {
      if (o.empty()) return ConfigError("SelectConversions", "custom_outcomes may not hold an empty name");
      c->custom_.try_emplace(o, true);
    }
    return c;
  }

  ComponentContract Contract() const override { return {{}, {"events"}, {}}; }

  absl::Status Run(ExportContext& ctx) const override {
    if (ctx.run == nullptr) return NoRun("SelectConversions");
    ctx.events.clear();
    ctx.events.reserve(ctx.records.size());
    std::string key;
    for (const v1::InteractionRecord& r : ctx.records) {
      bool accepted = r.outcome() == v1::OUTCOME_ACCEPTED ||
                      (r.outcome() == v1::OUTCOME_CUSTOM && custom_.contains(r.custom_outcome()));
      if (!accepted) continue;
      key = ExportRun::ActionKey(r.action().issue(), r.action().group(), r.action().name());
      auto it = ctx.run->actions.find(key);
      if (it == ctx.run->actions.end() || !IsEnabled(*it->second)) {
        if (ctx.trace != nullptr) {
          ctx.trace->Note(r.interaction_id(), "skipped",
                          it == ctx.run->actions.end() ? "action not in the catalog"
                                                       : "action not enabled for offline conversion");
        }
        continue;
      }
      ConversionEvent& e = ctx.events.emplace_back();
      e.record = &r;
      e.action = it->second;
      e.sequence = r.sequence();
      e.event_id = r.interaction_id().empty() ? Cat("seq-", r.sequence()) : r.interaction_id();
      e.order_id = r.order_id().empty() ? e.event_id : r.order_id();
      Note(ctx, e, "selected", ConversionAudienceName(*e.action));
    }
    return absl::OkStatus();
  }

 private:
  StringMap<bool> custom_;
};

// ---------------------------------------------------------------- prepare

class PrepareEvents final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<PrepareEvents>> Make(const v1::PrepareEventsConfig&) {
    return std::make_unique<PrepareEvents>();
  }
  ComponentContract Contract() const override { return {{"events"}, {"prepared"}, {}}; }
  absl::Status Run(ExportContext& ctx) const override {
    if (ctx.run == nullptr || ctx.destination == nullptr) return NoRun("PrepareEvents");
    const ConsentRequirements consent = ctx.destination->consent();
    for (ConversionEvent& e : ctx.events) {
      if (e.state != EventState::kLive) continue;
      // Consent first: a person who may not be exported here is neither
      // hashed nor serialized, only finished and counted.
      if (std::string_view refusal = ConsentRefusal(e.record->consent(), consent); !refusal.empty()) {
        e.Set(EventState::kNoConsent, refusal, "the person's consent does not allow this destination");
        Note(ctx, e, "no_consent", refusal);
        continue;
      }
      ctx.destination->Prepare(e, ctx.run->hasher);
      // Identifiers the destination's rules refused are left out of the
      // event, not sent wrong: counted so that a run shows what it dropped.
      std::string dropped;
      for (uint32_t bits = e.identity.dropped; bits != 0; bits &= bits - 1) {
        std::string_view name = IdentifierDropName(bits & (~bits + 1));
        ++ctx.run->report.identifiers_dropped[std::string(name)];
        if (ctx.trace != nullptr) CatTo(dropped, dropped.empty() ? "dropped " : ", ", name);
      }
      Note(ctx, e, "prepared", dropped);
    }
    return absl::OkStatus();
  }
};

// ---------------------------------------------------------------- validate

class ValidateEvents final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<ValidateEvents>> Make(const v1::ValidateEventsConfig& config) {
    if (config.max_future_seconds() < 0) return ConfigError("ValidateEvents", "max_future_seconds must be >= 0");
    if (config.max_age_days() < 0) return ConfigError("ValidateEvents", "max_age_days must be >= 0");
    auto c = std::make_unique<ValidateEvents>();
    c->max_future_ = absl::Seconds(config.max_future_seconds() > 0 ? config.max_future_seconds() : 600);
    c->max_age_days_ = config.max_age_days();
    return c;
  }
  // The destination validates the identifiers PrepareEvents hashed: without
  // them every Meta or Google event would be set aside as invalid, which is
  // final (the watermark passes it).
  ComponentContract Contract() const override { return {{"prepared"}, {}, {}}; }
  absl::Status Run(ExportContext& ctx) const override {
    if (ctx.destination == nullptr) return NoRun("ValidateEvents");
    absl::Duration max_age =
        max_age_days_ > 0 ? absl::Hours(24 * max_age_days_) : ctx.destination->limits().max_age;
    for (ConversionEvent& e : ctx.events) {
      if (e.state != EventState::kLive) continue;
      absl::Time t = absl::FromUnixSeconds(e.record->time().seconds());
      if (!e.record->has_time()) {
        e.Set(EventState::kInvalid, "missing_time", "the interaction has no time");
      } else if (t > ctx.now + max_future_) {
        e.Set(EventState::kInvalid, "future_time", "the event time is in the future");
      } else if (max_age != absl::InfiniteDuration() && ctx.now - t > max_age) {
        e.Set(EventState::kInvalid, "too_old",
              Cat("older than the destination's limit of ", absl::ToInt64Hours(max_age) / 24, " days"));
      } else {
        ctx.destination->Validate(e, ctx.now);
      }
      if (e.state == EventState::kInvalid) Note(ctx, e, "invalid", Cat(e.reason, ": ", e.detail));
    }
    return absl::OkStatus();
  }

 private:
  absl::Duration max_future_;
  int max_age_days_ = 0;
};

// ---------------------------------------------------------------- send

class SendEvents final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<SendEvents>> Make(const v1::SendEventsConfig& config) {
    if (config.retries() < 0) return ConfigError("SendEvents", "retries must be >= 0");
    if (config.backoff_ms() < 0 || config.max_backoff_ms() < 0 || config.max_retry_after_ms() < 0) {
      return ConfigError("SendEvents", "backoff_ms, max_backoff_ms and max_retry_after_ms must be >= 0");
    }
    if (config.batch_size() < 0) return ConfigError("SendEvents", "batch_size must be >= 0");
    auto c = std::make_unique<SendEvents>();
    c->retries_ = config.retries() > 0 ? config.retries() : 5;
    c->backoff_ = absl::Milliseconds(config.backoff_ms() > 0 ? config.backoff_ms() : 1000);
    c->max_backoff_ = absl::Milliseconds(config.max_backoff_ms() > 0 ? config.max_backoff_ms() : 60000);
    c->max_retry_after_ = absl::Milliseconds(config.max_retry_after_ms() > 0 ? config.max_retry_after_ms() : 300000);
    c->batch_size_ = config.batch_size();
    return c;
  }

  // Sends the payloads PrepareEvents serialized, to people whose consent it
  // checked.
  ComponentContract Contract() const override { return {{"prepared"}, {"outcomes"}, {}}; }

  absl::Status Run(ExportContext& ctx) const override {
    if (ctx.run == nullptr || ctx.destination == nullptr) return NoRun("SendEvents");
    std::vector<ConversionEvent*> live;
    for (ConversionEvent& e : ctx.events) {
      if (e.state == EventState::kLive) live.push_back(&e);
    }
    int limit = ctx.destination->limits().max_batch_events;
    if (batch_size_ > 0) limit = std::min(limit, batch_size_);
    limit = std::max(limit, 1);
    for (size_t start = 0; start < live.size(); start += static_cast<size_t>(limit)) {
      size_t end = std::min(live.size(), start + static_cast<size_t>(limit));
      std::vector<ConversionEvent*> batch(live.begin() + static_cast<long>(start), live.begin() + static_cast<long>(end));
      if (ctx.stop) {
        for (ConversionEvent* e : batch) e->Set(EventState::kTransient, "not_sent", ctx.stop_reason);
        continue;
      }
      if (absl::Status s = SendChunk(ctx, batch); !s.ok()) {
        for (size_t i = end; i < live.size(); ++i) live[i]->Set(EventState::kTransient, "not_sent", std::string(s.message()));
        return s;
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Duration Delay(int attempt) const {
    thread_local absl::BitGen gen;
    absl::Duration d = backoff_;
    for (int i = 0; i < attempt && d < max_backoff_; ++i) d *= 2;
    d = std::min(d, max_backoff_);
    return d * absl::Uniform(gen, 0.75, 1.25);
  }

  absl::Status SendChunk(ExportContext& ctx, std::vector<ConversionEvent*> events) const {
    ExportReport& report = ctx.run->report;
    int attempt = 0;
    while (!events.empty()) {
      for (ConversionEvent* e : events) ++e->attempts;
      BatchResult result = ctx.destination->SendBatch(events);
      ++report.requests;
      // A single event too large for the platform is not refused by it: retried, held.
      if (result.outcome == BatchOutcome::kTooLarge && events.size() == 1) result.outcome = BatchOutcome::kRetryable;
      switch (result.outcome) {
        case BatchOutcome::kAccepted: {
          std::vector<ConversionEvent*> again;
          for (ConversionEvent* e : events) {
            if (e->state == EventState::kTransient) again.push_back(e);
            else Note(ctx, *e, EventStateName(e->state), e->reason);
          }
          if (again.empty()) return absl::OkStatus();
          if (attempt >= retries_) {
            for (ConversionEvent* e : again) Note(ctx, *e, "transient", Cat(e->reason, ": ", e->detail));
            ctx.stop = true;
            ctx.stop_reason = "per-event transient failures past the retries";
            return absl::OkStatus();
          }
          for (ConversionEvent* e : again) e->state = EventState::kLive;
          ctx.run->sleep(Delay(attempt));
          ++attempt;
          ++report.retries;
          events = std::move(again);
          break;
        }
        case BatchOutcome::kRetryable: {
          if (attempt >= retries_ || result.retry_after > max_retry_after_) {
            std::string why = attempt >= retries_ ? "retries_exhausted" : "retry_after_too_long";
            for (ConversionEvent* e : events) e->Set(EventState::kTransient, why, result.message);
            if (ctx.trace != nullptr) ctx.trace->Note("", "transient", Cat(why, ": ", result.message));
            ctx.stop = true;
            ctx.stop_reason = Cat(why, ": ", result.message);
            return absl::OkStatus();
          }
          absl::Duration wait = std::max(Delay(attempt), result.retry_after);
          if (ctx.trace != nullptr) {
            ctx.trace->Note("", "retry", Cat(result.message, "; waiting ", absl::FormatDuration(wait)));
          }
          ctx.run->sleep(wait);
          ++attempt;
          ++report.retries;
          break;
        }
        case BatchOutcome::kTooLarge:
        case BatchOutcome::kRejected: {
          if (events.size() == 1) {
            events[0]->Set(EventState::kFailed, "rejected", result.message);
            Note(ctx, *events[0], "failed", result.message);
            return absl::OkStatus();
          }
          ++report.splits;
          if (ctx.trace != nullptr) {
            ctx.trace->Note("", "split", Cat("batch of ", events.size(),
                                             result.outcome == BatchOutcome::kTooLarge ? " too large: " : " rejected: ",
                                             result.message));
          }
          size_t half = events.size() / 2;
          std::vector<ConversionEvent*> left(events.begin(), events.begin() + static_cast<long>(half));
          std::vector<ConversionEvent*> right(events.begin() + static_cast<long>(half), events.end());
          if (absl::Status s = SendChunk(ctx, std::move(left)); !s.ok()) return s;
          if (ctx.stop) {
            for (ConversionEvent* e : right) e->Set(EventState::kTransient, "not_sent", ctx.stop_reason);
            return absl::OkStatus();
          }
          return SendChunk(ctx, std::move(right));
        }
        case BatchOutcome::kFatal: {
          for (ConversionEvent* e : events) e->Set(EventState::kTransient, "fatal", result.message);
          return absl::FailedPreconditionError(Cat("SendEvents: ", result.message));
        }
      }
    }
    return absl::OkStatus();
  }

  int retries_ = 5;
  absl::Duration backoff_, max_backoff_, max_retry_after_;
  int batch_size_ = 0;
};

// ---------------------------------------------------------------- acknowledge

class AcknowledgeEvents final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<AcknowledgeEvents>> Make(const v1::AcknowledgeEventsConfig& config) {
    auto c = std::make_unique<AcknowledgeEvents>();
    c->rejects_path_ = config.rejects_path();
    c->audiences_ = !config.skip_audiences();
    return c;
  }

  ComponentContract Contract() const override { return {{"outcomes"}, {}, {}}; }

  absl::Status Run(ExportContext& ctx) const override {
    if (ctx.run == nullptr || ctx.destination == nullptr) return NoRun("AcknowledgeEvents");
    ExportReport& r = ctx.run->report;
    const ConsentRequirements consent = ctx.destination->consent();
    std::string rejects;
    // Audience members per action, in first-seen order.
    std::vector<std::pair<const v1::ConversionAction*, std::vector<AudienceMember>>> audiences;
    for (const ConversionEvent& e : ctx.events) {
      ++r.conversions;
      switch (e.state) {
        case EventState::kDelivered: ++r.delivered; break;
        case EventState::kDuplicate: ++r.duplicates; break;
        case EventState::kInvalid: ++r.invalid; ++r.invalid_by_reason[e.reason]; break;
        case EventState::kFailed: ++r.failed; ++r.failed_by_reason[e.reason]; break;
        case EventState::kTransient:
        case EventState::kLive: ++r.transient; break;
        case EventState::kNoConsent: ++r.no_consent; ++r.no_consent_by_reason[e.reason]; break;
        case EventState::kSkipped: break;
      }
      // The rejects file is the run's record of what was set aside: people
      // without consent too (an audit trail), though they are no error.
      if (e.state == EventState::kInvalid || e.state == EventState::kFailed || e.state == EventState::kNoConsent) {
        if (r.rejects.size() < 100 && e.state != EventState::kNoConsent) {
          r.rejects.push_back(Cat(e.event_id, ": ", e.reason, ": ", e.detail));
        }
        if (!rejects_path_.empty()) {
          rejects.append("{\"event_id\":");
          conversion::AppendJsonString(rejects, e.event_id);
          bool first = false;
          rejects.append(",\"sequence\":").append(std::to_string(e.sequence));
          conversion::AppendJsonField(rejects, first, "state", EventStateName(e.state));
          conversion::AppendJsonField(rejects, first, "reason", e.reason);
          conversion::AppendJsonField(rejects, first, "detail", e.detail);
          rejects.append("}\n");
        }
      }
      if (audiences_ && (e.state == EventState::kDelivered || e.state == EventState::kDuplicate) &&
          (!e.identity.em.empty() || !e.identity.ph.empty())) {
        const v1::Consent& c = e.record->consent();
        if (!ConsentAllowsAudience(c, consent)) {
          ++r.audience_no_consent;
          continue;
        }
        auto it = std::find_if(audiences.begin(), audiences.end(), [&](const auto& p) { return p.first == e.action; });
        if (it == audiences.end()) it = audiences.insert(audiences.end(), {e.action, {}});
        it->second.push_back(AudienceMember{e.identity.em, e.identity.ph, c.ad_user_data(), c.ad_personalization()});
      }
    }
    if (!rejects.empty()) {
      std::ofstream out(rejects_path_, std::ios::app | std::ios::binary);
      out << rejects;
      if (!out) return absl::UnavailableError(Cat("AcknowledgeEvents: cannot write ", rejects_path_));
    }
    for (auto& [action, members] : audiences) {
      std::string name = ConversionAudienceName(*action);
      absl::Status s = ctx.destination->AddAudienceMembers(name, members);
      if (absl::IsUnimplemented(s)) {
        if (ctx.trace != nullptr) ctx.trace->Note(name, "skipped", std::string(s.message()));
        continue;
      }
      if (!s.ok()) return absl::UnavailableError(Cat("AcknowledgeEvents: audience ", name, ": ", s.message()));
      r.audience_members += static_cast<int64_t>(members.size());
      if (ctx.trace != nullptr) ctx.trace->Note(name, "audience", Cat(members.size(), " members added"));
    }
    return absl::OkStatus();
  }

 private:
  std::string rejects_path_;
  bool audiences_ = true;
};

}  // namespace

const v1::PipelineDefinition& DefaultConversionPipeline() {
  static const v1::PipelineDefinition* def = [] {
    auto* d = new v1::PipelineDefinition();
    d->set_name("conversion");
    d->set_family("conversion");
    auto add = [&](const char* stage, const char* name) {
      auto* s = d->add_stages();
      s->set_name(stage);
      s->add_components()->set_name(name);
    };
    add("select", "SelectConversions");
    add("prepare", "PrepareEvents");
    add("validate", "ValidateEvents");
    add("send", "SendEvents");
    add("acknowledge", "AcknowledgeEvents");
    return d;
  }();
  return *def;
}

void RegisterConversionComponents(Registry* registry) {
  registry->RegisterIfAbsent(Factory<v1::SelectConversionsConfig, SelectConversions>(
      "SelectConversions", "Accepted outcomes of actions enabled for offline conversion"));
  registry->RegisterIfAbsent(Factory<v1::PrepareEventsConfig, PrepareEvents>(
      "PrepareEvents", "normalizes and SHA-256-hashes identifiers by the destination's rules; serializes"));
  registry->RegisterIfAbsent(Factory<v1::ValidateEventsConfig, ValidateEvents>(
      "ValidateEvents", "sets aside events the destination would refuse (age, required fields, formats)"));
  registry->RegisterIfAbsent(Factory<v1::SendEventsConfig, SendEvents>(
      "SendEvents", "batches and sends; retries 429/5xx/timeouts with backoff; splits rejected batches"));
  registry->RegisterIfAbsent(Factory<v1::AcknowledgeEventsConfig, AcknowledgeEvents>(
      "AcknowledgeEvents", "counts outcomes, writes rejects, synchronizes conversion audiences"));
  RegisterConversionDestinations(registry);
}

}  // namespace herald
