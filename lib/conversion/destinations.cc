// The built-in destinations: "meta" (Meta Conversions API), "google_ads"
// (UploadClickConversions with partial failure) and "file" (JSON lines or
// Google's CSV import template).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "conversion/consent.h"
#include "conversion/destinations.h"
#include "conversion/encode.h"
#include "conversion/http.h"
#include "conversion/oauth.h"
#include "conversion/responses.h"
#include "core/strings.h"
#include "herald/conversion.h"
#include "herald/model/conversion_config.pb.h"

namespace herald {

namespace conversion {

std::string Redactor::Apply(std::string text) const {
  for (const std::string& secret : secrets_) {
    if (secret.size() < 4) continue;
    size_t pos = 0;
    while ((pos = text.find(secret, pos)) != std::string::npos) {
      text.replace(pos, secret.size(), "[redacted]");
      pos += 10;
    }
  }
  return text;
}

}  // namespace conversion

namespace {

using conversion::AppendJsonField;
using conversion::AppendJsonString;
using conversion::AppendMoney;
using conversion::HttpClient;
using conversion::HttpResponse;
using conversion::Redactor;

absl::Status ConfigError(std::string_view what, std::string_view message) {
  return absl::InvalidArgumentError(Cat(what, " config: ", message));
}

std::string TrimSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "customers/{digits}/conversionActions/{digits}".
bool IsConversionActionResource(std::string_view s) {
  constexpr std::string_view kCustomers = "customers/", kActions = "/conversionActions/";
  if (s.substr(0, kCustomers.size()) != kCustomers) return false;
  s.remove_prefix(kCustomers.size());
  size_t at = s.find(kActions);
  return at != std::string_view::npos && AllDigits(s.substr(0, at)) && AllDigits(s.substr(at + kActions.size()));
}

// Hashes the identifiers of `s` by Meta's rules (also the file destination's);
// phones without a country code take the person's country, else `default_region`.
void HashMetaIdentity(const v1::Subject& s, std::string_view default_region, HashedIdentity& id,
                      IdentifierHasher& h) {
  IdentityRules rules = kMetaIdentityRules;
  rules.default_region = default_region;
  PrepareIdentity(s, rules, id, h);
}

// A destination's default_region: empty or an ISO 3166-1 alpha-2 code.
absl::Status CheckDefaultRegion(std::string_view what, const std::string& region) {
  if (region.empty() || !NormalizeCountry(region).empty()) return absl::OkStatus();
  return ConfigError(what, Cat("default_region \"", region, "\" is not an ISO 3166-1 alpha-2 country code"));
}

// The consent defaults of each destination type (docs/conversions.md,
// "Consent"). Google: its EU user consent policy asks for a grant, so
// nothing unconfirmed is sent. Meta: the Conversions API has no consent
// field (Limited Data Use restricts, it does not consent), so only an
// explicit refusal keeps a person out, and LDU people stay out of audiences.
constexpr ConsentRequirements kGoogleConsent{v1::CONSENT_REQUIREMENT_GRANTED, v1::CONSENT_REQUIREMENT_GRANTED, true};
constexpr ConsentRequirements kMetaConsent{v1::CONSENT_REQUIREMENT_NOT_DENIED, v1::CONSENT_REQUIREMENT_NOT_DENIED,
                                           false};

absl::Status CheckConsentPolicy(std::string_view what, const v1::ConsentPolicy& p) {
  if (!v1::ConsentRequirement_IsValid(p.ad_user_data())) {
    return ConfigError(what, "consent_policy.ad_user_data: unknown requirement");
  }
  if (!v1::ConsentRequirement_IsValid(p.audience_ad_personalization())) {
    return ConfigError(what, "consent_policy.audience_ad_personalization: unknown requirement");
  }
  return absl::OkStatus();
}

// Hashed values are 64 lowercase hex digits: written without escaping.
void AppendMetaUserData(std::string& out, const HashedIdentity& id, const v1::Subject& s) {
  out.push_back('{');
  bool first = true;
  auto put_hash = [&](std::string_view key, const std::string& v) {
    if (v.empty()) return;
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out.append(key);
    out.append("\":\"");
    out.append(v);
    out.push_back('"');
  };
  put_hash("em", id.em);
  put_hash("ph", id.ph);
  put_hash("fn", id.fn);
  put_hash("ln", id.ln);
  put_hash("ct", id.ct);
  put_hash("st", id.st);
  put_hash("zp", id.zp);
  put_hash("country", id.country);
  put_hash("db", id.db);
  put_hash("ge", id.ge);
  put_hash("external_id", id.external_id);
  if (!s.fbc().empty()) AppendJsonField(out, first, "fbc", s.fbc());
  if (!s.fbp().empty()) AppendJsonField(out, first, "fbp", s.fbp());
  out.push_back('}');
}

absl::Duration Backoff(int attempt) {
  thread_local absl::BitGen gen;
  double ms = 200.0 * (1 << std::min(attempt, 6));
  return absl::Milliseconds(ms * absl::Uniform(gen, 0.75, 1.25));
}

// ================================================================ meta

class MetaDestination final : public Destination {
 public:
  static absl::StatusOr<std::unique_ptr<Destination>> Make(const v1::MetaDestinationConfig& c,
                                                           const CreateContext& ctx) {
    if (c.dataset_id().empty()) return ConfigError("meta", "dataset_id is required");
    if (!AllDigits(c.dataset_id())) return ConfigError("meta", "dataset_id must be digits");
    if (absl::Status st = CheckDefaultRegion("meta", c.default_region()); !st.ok()) return st;
    if (absl::Status st = CheckConsentPolicy("meta", c.consent_policy()); !st.ok()) return st;
    if (!c.ad_account_id().empty() && !AllDigits(c.ad_account_id())) {
      return ConfigError("meta", "ad_account_id must be digits (without \"act_\")");
    }
    if (c.batch_size() < 0 || c.batch_size() > 1000) return ConfigError("meta", "batch_size must be 0..1000");
    if (c.timeout_ms() < 0) return ConfigError("meta", "timeout_ms must be >= 0");
    if (c.max_age_days() < 0 || c.max_age_days() > 62) return ConfigError("meta", "max_age_days must be 0..62");
    if (c.access_token_env().empty() && c.access_token_file().empty()) {
      return ConfigError("meta", "access_token_env or access_token_file is required");
    }
    auto token = ReadCredential("meta access token", c.access_token_env(), c.access_token_file(), ctx.base_dir);
    if (!token.ok()) return token.status();
    auto d = std::unique_ptr<MetaDestination>(new MetaDestination());
    d->config_ = c;
    d->token_ = *token;
    d->redactor_.Add(d->token_);
    d->base_ = TrimSlash(c.base_url().empty() ? "https://graph.facebook.com" : c.base_url());
    d->version_ = c.api_version().empty() ? "v21.0" : c.api_version();
    d->action_source_ = c.action_source().empty() ? "physical_store" : c.action_source();
    d->limits_.max_batch_events = c.batch_size() > 0 ? c.batch_size() : 1000;
    int days = c.max_age_days() > 0 ? c.max_age_days() : (d->action_source_ == "physical_store" ? 62 : 7);
    d->limits_.max_age = absl::Hours(24 * days);
    d->http_ = std::make_unique<HttpClient>(absl::Milliseconds(c.timeout_ms() > 0 ? c.timeout_ms() : 30000));
    d->consent_ = ResolveConsentPolicy(c.consent_policy(), kMetaConsent);
    return std::unique_ptr<Destination>(std::move(d));
  }

  const DestinationLimits& limits() const override { return limits_; }
  ConsentRequirements consent() const override { return consent_; }

  void Prepare(ConversionEvent& e, IdentifierHasher& h) const override {
    const v1::InteractionRecord& r = *e.record;
    HashMetaIdentity(r.subject(), config_.default_region(), e.identity, h);
    std::string& out = e.payload;
    out.clear();
    out.append("{\"event_name\":");
    AppendJsonString(out, e.action != nullptr && !e.action->meta_event_name().empty()
                              ? e.action->meta_event_name()
                              : std::string_view("Purchase"));
    out.append(",\"event_time\":");
    out.append(std::to_string(r.time().seconds()));
    out.append(",\"action_source\":");
    AppendJsonString(out, action_source_);
    out.append(",\"event_id\":");
    AppendJsonString(out, e.event_id);
    out.append(",\"user_data\":");
    AppendMetaUserData(out, e.identity, r.subject());
    out.append(",\"custom_data\":{");
    bool first = true;
    if (r.has_value() && !r.value().currency().empty()) {
      out.append("\"value\":");
      AppendMoney(out, r.value());
      first = false;
      AppendJsonField(out, first, "currency", r.value().currency());
    }
    AppendJsonField(out, first, "order_id", e.order_id);
    out.push_back('}');
    // Limited Data Use as Meta's server event parameters spell it.
    conversion::AppendMetaDataProcessingOptions(out, r);
    out.push_back('}');
  }

  void Validate(ConversionEvent& e, absl::Time) const override {
    const HashedIdentity& id = e.identity;
    const v1::Subject& s = e.record->subject();
    if (id.em.empty() && id.ph.empty() && id.external_id.empty() && s.fbc().empty() && s.fbp().empty() &&
        (id.fn.empty() || id.ln.empty())) {
      e.Set(EventState::kInvalid, "missing_identifier",
            "Meta needs an email, phone, external id, fbc/fbp, or first and last name");
    }
  }

  BatchResult SendBatch(std::span<ConversionEvent* const> events) override {
    std::string body = "{\"data\":[";
    for (size_t i = 0; i < events.size(); ++i) {
      if (i > 0) body.push_back(',');
      body.append(events[i]->payload);
    }
    body.append("]");
    if (!config_.test_event_code().empty()) {
      body.append(",\"test_event_code\":");
      AppendJsonString(body, config_.test_event_code());
    }
    body.append("}");
    HttpResponse resp = http_->Request("POST", Cat(base_, "/", version_, "/", config_.dataset_id(), "/events"),
                                       Headers(), body);
    BatchResult result;
    result.http_status = resp.status;
    if (resp.status == 0) {
      result.outcome = BatchOutcome::kRetryable;
      result.message = redactor_.Apply(Cat("meta: ", resp.timed_out ? "timeout: " : "", resp.error));
      return result;
    }
    result.retry_after = conversion::ParseRetryAfter(resp.retry_after, absl::Now());
    conversion::MetaResponse m = conversion::ParseMetaResponse(resp.body);
    // Delivered only on Meta's own answer: {"events_received": N, ...}.
    if (resp.status == 200 && m.parsed && !m.has_error && m.events_received >= 0) {
      const int received = m.events_received;
      for (ConversionEvent* e : events) {
        if (received >= static_cast<int>(events.size())) {
          e->Set(EventState::kDelivered, "", m.fbtrace_id);
        } else {  // sent again: Meta deduplicates by event_name + event_id
          e->Set(EventState::kTransient, "partially_received",
                 Cat("Meta received ", received, " of ", events.size(), " events"));
        }
      }
      result.outcome = BatchOutcome::kAccepted;
      return result;
    }
    result.outcome = ClassifyMetaFailure(resp.status, m);
    result.message = redactor_.Apply(
        Cat("meta: HTTP ", resp.status,
            m.has_error ? Cat(": (#", m.code, ") ", m.message)
                        : (m.parsed ? std::string(": no events_received in the answer")
                                    : Cat(": unreadable answer (", resp.body.size(), " bytes, not Meta's JSON)")),
            m.fbtrace_id.empty() ? "" : Cat(" [fbtrace_id ", m.fbtrace_id, "]")));
    return result;
  }

  // Meta's own error says what happened; anything else (a proxy's redirect,
  // 408, HTML, a cut body) says nothing about the events and is retried.
  static BatchOutcome ClassifyMetaFailure(int status, const conversion::MetaResponse& m) {
    if (m.has_error && (conversion::IsMetaThrottleCode(m.code) || conversion::IsMetaTransientCode(m.code))) {
      return BatchOutcome::kRetryable;
    }
    if (status == 429 || status >= 500) return BatchOutcome::kRetryable;
    if (status == 413) return BatchOutcome::kTooLarge;
    if (m.has_error && (m.code == 190 || m.code == 10 || m.code == 200 || m.code == 102)) return BatchOutcome::kFatal;
    if (status == 401 || status == 403 || (status == 404 && m.has_error)) return BatchOutcome::kFatal;
    // 400 "(#100) Invalid parameter": one bad event refuses the whole batch.
    if (status == 400 && m.has_error && m.code == 100) return BatchOutcome::kRejected;
    return BatchOutcome::kRetryable;
  }

  absl::Status AddAudienceMembers(std::string_view audience, std::span<const AudienceMember> members) override {
    if (config_.ad_account_id().empty()) return absl::UnimplementedError("meta: no ad_account_id for audiences");
    auto id = AudienceId(audience);
    if (!id.ok()) return id.status();
    constexpr size_t kMaxPerRequest = 10000;
    for (size_t start = 0; start < members.size(); start += kMaxPerRequest) {
      std::string body = "{\"payload\":{\"schema\":[\"EMAIL\",\"PHONE\"],\"data\":[";
      size_t end = std::min(members.size(), start + kMaxPerRequest);
      for (size_t i = start; i < end; ++i) {
        if (i > start) body.push_back(',');
        body.push_back('[');
        AppendJsonString(body, members[i].em);
        body.push_back(',');
        AppendJsonString(body, members[i].ph);
        body.push_back(']');
      }
      body.append("]}}");
      auto sent = PostWithRetry(Cat(base_, "/", version_, "/", *id, "/users"), body);
      if (!sent.ok()) return sent.status();
    }
    return absl::OkStatus();
  }

  std::string Describe() const override {
    return Cat("meta dataset ", config_.dataset_id(), " at ", base_, "/", version_);
  }

 private:
  MetaDestination() = default;

  std::vector<std::string> Headers() const {
    return {"Content-Type: application/json", Cat("Authorization: Bearer ", token_)};
  }

  absl::StatusOr<std::string> PostWithRetry(const std::string& url, const std::string& body) {
    for (int attempt = 0;; ++attempt) {
      HttpResponse resp = http_->Request(body.empty() ? "GET" : "POST", url, Headers(), body);
      conversion::MetaResponse m = conversion::ParseMetaResponse(resp.body);
      if (resp.status == 200 && m.parsed && !m.has_error) return resp.body;
      bool retry = resp.status == 0 || resp.status == 429 || resp.status >= 500 ||
                   (m.has_error && (conversion::IsMetaThrottleCode(m.code) || conversion::IsMetaTransientCode(m.code)));
      if (!retry || attempt >= 4) {
        return absl::UnavailableError(redactor_.Apply(
            Cat("meta audiences: HTTP ", resp.status, ": ", m.has_error ? m.message : resp.error)));
      }
      absl::SleepFor(Backoff(attempt));
    }
  }

  absl::StatusOr<std::string> AudienceId(std::string_view name) {
    auto it = audience_ids_.find(name);
    if (it != audience_ids_.end()) return it->second;
    std::string account = Cat(base_, "/", version_, "/act_", config_.ad_account_id(), "/customaudiences");
    auto listed = PostWithRetry(Cat(account, "?fields=id,name&limit=500"), "");
    if (!listed.ok()) return listed.status();
    for (const auto& [id, n] : conversion::ParseMetaResponse(*listed).audiences) {
      if (n == name && !id.empty()) {
        audience_ids_[std::string(name)] = id;
        return id;
      }
    }
    std::string body = "{\"name\":";
    AppendJsonString(body, name);
    body.append(",\"subtype\":\"CUSTOM\",\"customer_file_source\":\"USER_PROVIDED_ONLY\","
                "\"description\":\"Herald conversion audience\"}");
    auto created = PostWithRetry(account, body);
    if (!created.ok()) return created.status();
    std::string id = conversion::ParseMetaResponse(*created).id;
    if (id.empty()) return absl::UnavailableError("meta audiences: create returned no id");
    audience_ids_[std::string(name)] = id;
    return id;
  }

  v1::MetaDestinationConfig config_;
  ConsentRequirements consent_;
  std::string token_;
  Redactor redactor_;
  std::string base_, version_, action_source_;
  DestinationLimits limits_;
  std::unique_ptr<HttpClient> http_;
  StringMap<std::string> audience_ids_;
};

// ================================================================ google ads

class GoogleAdsDestination final : public Destination {
 public:
  static absl::StatusOr<std::unique_ptr<Destination>> Make(const v1::GoogleAdsDestinationConfig& c,
                                                           const CreateContext& ctx) {
    if (c.customer_id().empty()) return ConfigError("google_ads", "customer_id is required");
    if (!AllDigits(c.customer_id())) return ConfigError("google_ads", "customer_id must be digits (no dashes)");
    if (absl::Status st = CheckDefaultRegion("google_ads", c.default_region()); !st.ok()) return st;
    if (absl::Status st = CheckConsentPolicy("google_ads", c.consent_policy()); !st.ok()) return st;
    if (!c.login_customer_id().empty() && !AllDigits(c.login_customer_id())) {
      return ConfigError("google_ads", "login_customer_id must be digits");
    }
    if (c.batch_size() < 0 || c.batch_size() > 2000) return ConfigError("google_ads", "batch_size must be 0..2000");
    if (c.timeout_ms() < 0) return ConfigError("google_ads", "timeout_ms must be >= 0");
    if (c.max_age_days() < 0 || c.max_age_days() > 90) return ConfigError("google_ads", "max_age_days must be 0..90");
    if (c.developer_token_env().empty() && c.developer_token_file().empty()) {
      return ConfigError("google_ads", "developer_token_env or developer_token_file is required");
    }
    const bool fixed = !c.access_token_env().empty() || !c.access_token_file().empty();
    const bool refresh = !c.oauth_refresh_token_env().empty() || !c.oauth_refresh_token_file().empty();
    if (fixed == refresh) {
      return ConfigError("google_ads", "give either oauth_refresh_token_env/_file (with oauth_client_id and "
                                       "oauth_client_secret_env/_file: refreshed tokens) or access_token_env/_file "
                                       "(a fixed token, which lasts an hour)");
    }
    if (refresh && c.oauth_client_id().empty()) return ConfigError("google_ads", "oauth_client_id is required");
    if (refresh && c.oauth_client_secret_env().empty() && c.oauth_client_secret_file().empty()) {
      return ConfigError("google_ads", "oauth_client_secret_env or oauth_client_secret_file is required");
    }
    if (!c.oauth_token_url().empty() && c.oauth_token_url().rfind("https://", 0) != 0 &&
        c.oauth_token_url().rfind("http://127.0.0.1", 0) != 0 && c.oauth_token_url().rfind("http://localhost", 0) != 0) {
      return ConfigError("google_ads", "oauth_token_url must be https:// (or http:// on loopback, for a stand-in)");
    }
    absl::TimeZone zone = absl::UTCTimeZone();
    if (!c.time_zone().empty() && c.time_zone() != "UTC" && !absl::LoadTimeZone(c.time_zone(), &zone)) {
      return ConfigError("google_ads", Cat("unknown time_zone \"", c.time_zone(), "\""));
    }
    if (c.audience_job_poll_ms() < 0) return ConfigError("google_ads", "audience_job_poll_ms must be >= 0");
    if (c.audience_job_timeout_seconds() < 0) {
      return ConfigError("google_ads", "audience_job_timeout_seconds must be >= 0");
    }
    for (const auto& [key, resource] : c.conversion_actions()) {
      if (std::count(key.begin(), key.end(), '/') != 2 || key.front() == '/' || key.back() == '/' ||
          key.find("//") != std::string::npos) {
        return ConfigError("google_ads", Cat("conversion_actions key \"", key, "\" is not <Issue>/<Group>/<Action>"));
      }
      if (!IsConversionActionResource(resource)) {
        return ConfigError("google_ads", Cat("conversion_actions[\"", key, "\"] \"", resource,
                                             "\" is not customers/{cid}/conversionActions/{id}"));
      }
    }
    auto dev = ReadCredential("google_ads developer token", c.developer_token_env(), c.developer_token_file(),
                              ctx.base_dir);
    if (!dev.ok()) return dev.status();
    auto d = std::unique_ptr<GoogleAdsDestination>(new GoogleAdsDestination());
    d->config_ = c;
    d->zone_ = zone;
    d->developer_token_ = *dev;
    d->redactor_.Add(d->developer_token_);
    const absl::Duration timeout = absl::Milliseconds(c.timeout_ms() > 0 ? c.timeout_ms() : 30000);
    if (fixed) {
      auto access = ReadCredential("google_ads access token", c.access_token_env(), c.access_token_file(),
                                   ctx.base_dir);
      if (!access.ok()) return access.status();
      d->redactor_.Add(*access);
      d->tokens_ = conversion::AccessTokenSource::Fixed(*access);
    } else {
      conversion::OAuthClient client;
      client.token_url = c.oauth_token_url().empty() ? "https://oauth2.googleapis.com/token" : c.oauth_token_url();
      client.client_id = c.oauth_client_id();
      auto secret = ReadCredential("google_ads OAuth client secret", c.oauth_client_secret_env(),
                                   c.oauth_client_secret_file(), ctx.base_dir);
      if (!secret.ok()) return secret.status();
      auto refresh_token = ReadCredential("google_ads OAuth refresh token", c.oauth_refresh_token_env(),
                                          c.oauth_refresh_token_file(), ctx.base_dir);
      if (!refresh_token.ok()) return refresh_token.status();
      client.client_secret = *secret;
      client.refresh_token = *refresh_token;
      d->redactor_.Add(client.client_secret);
      d->redactor_.Add(client.refresh_token);
      d->tokens_ = conversion::AccessTokenSource::Refreshing(std::move(client), timeout, &d->redactor_);
    }
    d->base_ = TrimSlash(c.base_url().empty() ? "https://googleads.googleapis.com" : c.base_url());
    d->version_ = c.api_version().empty() ? "v17" : c.api_version();
    d->limits_.max_batch_events = c.batch_size() > 0 ? c.batch_size() : 2000;
    d->limits_.max_age = absl::Hours(24 * (c.max_age_days() > 0 ? c.max_age_days() : 90));
    d->http_ = std::make_unique<HttpClient>(absl::Milliseconds(c.timeout_ms() > 0 ? c.timeout_ms() : 30000));
    for (const auto& [key, resource] : c.conversion_actions()) d->conversion_actions_[key] = resource;
    d->job_poll_ = absl::Milliseconds(c.audience_job_poll_ms() > 0 ? c.audience_job_poll_ms() : 2000);
    d->job_timeout_ = absl::Seconds(c.audience_job_timeout_seconds() > 0 ? c.audience_job_timeout_seconds() : 180);
    d->consent_ = ResolveConsentPolicy(c.consent_policy(), kGoogleConsent);
    return std::unique_ptr<Destination>(std::move(d));
  }

  const DestinationLimits& limits() const override { return limits_; }
  ConsentRequirements consent() const override { return consent_; }

  // The conversion action of an event: the destination's conversion_actions
  // entry for the action, else the catalog's google_conversion_action.
  std::string_view ConversionActionOf(const ConversionEvent& e) const {
    if (e.action == nullptr) return {};
    if (!conversion_actions_.empty()) {
      auto it = conversion_actions_.find(Cat(e.action->issue(), "/", e.action->group(), "/", e.action->name()));
      if (it != conversion_actions_.end()) return it->second;
    }
    return e.action->google_conversion_action();
  }

  void Prepare(ConversionEvent& e, IdentifierHasher& h) const override {
    const v1::InteractionRecord& r = *e.record;
    const v1::Subject& s = r.subject();
    IdentityRules rules = kGoogleIdentityRules;
    rules.default_region = config_.default_region();
    PrepareIdentity(s, rules, e.identity, h);
    std::string& out = e.payload;
    out.clear();
    out.push_back('{');
    bool first = true;
    // One click id only: gclid, else gbraid, else wbraid.
    if (!s.gclid().empty()) AppendJsonField(out, first, "gclid", s.gclid());
    else if (!s.gbraid().empty()) AppendJsonField(out, first, "gbraid", s.gbraid());
    else if (!s.wbraid().empty()) AppendJsonField(out, first, "wbraid", s.wbraid());
    AppendJsonField(out, first, "conversionAction", ConversionActionOf(e));
    AppendJsonField(out, first, "conversionDateTime",
                    absl::FormatTime("%Y-%m-%d %H:%M:%S%Ez", absl::FromUnixSeconds(r.time().seconds()), zone_));
    if (r.has_value() && !r.value().currency().empty()) {
      out.append(",\"conversionValue\":");
      AppendMoney(out, r.value());
      AppendJsonField(out, first, "currencyCode", r.value().currency());
    }
    AppendJsonField(out, first, "orderId", e.order_id);
    // ClickConversion.consent: ad_user_data only (Google: ad_personalization
    // "can only be set for OfflineUserDataJobService and UserDataService").
    conversion::AppendGoogleConsent(out, r.consent().ad_user_data(), r.consent().ad_personalization(), false);
    if (!e.identity.em.empty() || !e.identity.ph.empty()) {
      out.append(",\"userIdentifiers\":[");
      bool f2 = true;
      if (!e.identity.em.empty()) {
        out.append("{\"hashedEmail\":\"").append(e.identity.em).append("\"}");
        f2 = false;
      }
      if (!e.identity.ph.empty()) {
        if (!f2) out.push_back(',');
        out.append("{\"hashedPhoneNumber\":\"").append(e.identity.ph).append("\"}");
      }
      out.push_back(']');
    }
    out.push_back('}');
  }

  void Validate(ConversionEvent& e, absl::Time) const override {
    const v1::Subject& s = e.record->subject();
    if (ConversionActionOf(e).empty()) {
      e.Set(EventState::kInvalid, "missing_conversion_action",
            "the action has no google_conversion_action (customers/{cid}/conversionActions/{id}) in the catalog "
            "or the destination's conversion_actions");
      return;
    }
    if (s.gclid().empty() && s.gbraid().empty() && s.wbraid().empty() && e.identity.em.empty() &&
        e.identity.ph.empty()) {
      e.Set(EventState::kInvalid, "missing_identifier", "Google needs a gclid, gbraid, wbraid, email or phone");
      return;
    }
    if (e.order_id.size() > 64) {
      e.Set(EventState::kInvalid, "invalid_order_id", "Google order ids are at most 64 characters");
    }
  }

  BatchResult SendBatch(std::span<ConversionEvent* const> events) override {
    std::string body = "{\"conversions\":[";
    for (size_t i = 0; i < events.size(); ++i) {
      if (i > 0) body.push_back(',');
      body.append(events[i]->payload);
    }
    body.append("],\"partialFailure\":true}");
    auto sent = Post(Cat(base_, "/", version_, "/customers/", config_.customer_id(), ":uploadClickConversions"), body);
    BatchResult result;
    if (!sent.ok()) {  // no access token: the token endpoint is down (retry) or refuses us (stop)
      result.outcome = absl::IsUnavailable(sent.status()) ? BatchOutcome::kRetryable : BatchOutcome::kFatal;
      result.message = std::string(sent.status().message());
      return result;
    }
    const HttpResponse& resp = *sent;
    result.http_status = resp.status;
    if (resp.status == 0) {
      result.outcome = BatchOutcome::kRetryable;
      result.message = redactor_.Apply(Cat("google_ads: ", resp.timed_out ? "timeout: " : "", resp.error));
      return result;
    }
    result.retry_after = conversion::ParseRetryAfter(resp.retry_after, absl::Now());
    conversion::GoogleResponse g = conversion::ParseGoogleResponse(resp.body);
    // Delivered only on Google's own answer, which lists a result per conversion.
    if (resp.status == 200 && g.parsed && !g.has_error && g.results >= 0) {
      ApplyRowErrors(g, events);
      result.outcome = BatchOutcome::kAccepted;
      return result;
    }
    result.message = redactor_.Apply(
        Cat("google_ads: HTTP ", resp.status, g.status.empty() ? "" : " ", g.status, g.message.empty() ? "" : ": ",
            g.message, g.parsed ? "" : Cat(" (unreadable answer: ", resp.body.size(), " bytes, not Google's JSON)")));
    result.outcome = ClassifyGoogleFailure(resp.status, g);
    return result;
  }

  // Partial failure: located rows take their row's state; the others are
  // delivered. When a row error cannot be located, only conversions whose
  // result Google filled in count as delivered; the rest are sent again
  // (fail safe: Google answers a duplicate for any it had after all).
  void ApplyRowErrors(const conversion::GoogleResponse& g, std::span<ConversionEvent* const> events) const {
    bool unlocated = !g.message.empty() && g.rows.empty();
    for (ConversionEvent* e : events) e->Set(EventState::kDelivered, "", "");
    for (const conversion::GoogleRowError& row : g.rows) {
      if (row.index < 0 || row.index >= static_cast<int>(events.size())) {
        unlocated = true;
        continue;
      }
      ConversionEvent* e = events[row.index];
      std::string msg = redactor_.Apply(row.message);
      switch (conversion::ClassifyGoogleRow(row)) {
        case conversion::RowClass::kDuplicate:
          e->Set(EventState::kDuplicate, row.code, msg);
          break;
        case conversion::RowClass::kTransient:
          e->Set(EventState::kTransient, row.code.empty() ? row.category : row.code, msg);
          break;
        case conversion::RowClass::kPermanent:
          e->Set(EventState::kFailed, row.code.empty() ? "unknown_error" : row.code, msg);
          break;
      }
    }
    if (!unlocated) return;
    std::string why = redactor_.Apply(Cat("a row error without a location: ", g.message));
    for (size_t i = 0; i < events.size(); ++i) {
      const bool kept = i < g.result_kept.size() && g.result_kept[i];
      if (events[i]->state == EventState::kDelivered && !kept) {
        events[i]->Set(EventState::kTransient, "unlocated_partial_failure", why);
      }
    }
  }

  static BatchOutcome ClassifyGoogleFailure(int status, const conversion::GoogleResponse& g) {
    if (status == 429 || status >= 500 || g.status == "RESOURCE_EXHAUSTED" || g.status == "UNAVAILABLE" ||
        g.status == "INTERNAL" || g.status == "DEADLINE_EXCEEDED") {
      return BatchOutcome::kRetryable;
    }
    if (status == 413) return BatchOutcome::kTooLarge;
    if (status == 401 || status == 403 || g.status == "UNAUTHENTICATED" || g.status == "PERMISSION_DENIED" ||
        (status == 404 && g.status == "NOT_FOUND")) {
      return BatchOutcome::kFatal;
    }
    // A refusal of the request that locates a conversion: split until that
    // conversion is alone, then it is failed. An unlocated 400 says nothing
    // about which conversion is wrong: retried (and held), never failed.
    if (status == 400 && g.parsed && g.has_error &&
        std::any_of(g.rows.begin(), g.rows.end(), [](const conversion::GoogleRowError& r) { return r.index >= 0; })) {
      return BatchOutcome::kRejected;
    }
    return BatchOutcome::kRetryable;
  }

  // Customer Match: the user list named `audience` (found by a GAQL search
  // or created as a CRM-based CONTACT_INFO list), then an offline user data
  // job: create, addOperations (hashed email / phone per member), run.
  absl::Status AddAudienceMembers(std::string_view audience, std::span<const AudienceMember> members) override {
    auto list = UserList(audience);
    if (!list.ok()) return list.status();
    std::string customer = Cat(base_, "/", version_, "/customers/", config_.customer_id());
    std::string create = "{\"job\":{\"type\":\"CUSTOMER_MATCH_USER_LIST\",\"customerMatchUserListMetadata\":{\"userList\":";
    AppendJsonString(create, *list);
    create.append("}}}");
    auto job = Call(Cat(customer, "/offlineUserDataJobs:create"), create);
    if (!job.ok()) return job.status();
    std::string job_name = JsonString(*job, "resourceName");
    if (job_name.empty()) return absl::UnavailableError("google_ads audiences: job create returned no resourceName");
    constexpr size_t kPerRequest = 10000;
    for (size_t start = 0; start < members.size(); start += kPerRequest) {
      std::string body = "{\"operations\":[";
      size_t end = std::min(members.size(), start + kPerRequest);
      bool first_op = true;
      for (size_t i = start; i < end; ++i) {
        if (members[i].em.empty() && members[i].ph.empty()) continue;
        if (!first_op) body.push_back(',');
        first_op = false;
        body.append("{\"create\":{\"userIdentifiers\":[");
        bool f = true;
        if (!members[i].em.empty()) {
          body.append("{\"hashedEmail\":\"").append(members[i].em).append("\"}");
          f = false;
        }
        if (!members[i].ph.empty()) {
          if (!f) body.push_back(',');
          body.append("{\"hashedPhoneNumber\":\"").append(members[i].ph).append("\"}");
        }
        body.push_back(']');
        // UserData.consent: per member, overriding the job's (Herald sets none on the job).
        conversion::AppendGoogleConsent(body, members[i].ad_user_data, members[i].ad_personalization, true);
        body.append("}}");
      }
      body.append("],\"enablePartialFailure\":true}");
      auto added = Call(Cat(base_, "/", version_, "/", job_name, ":addOperations"), body);
      if (!added.ok()) return added.status();
    }
    auto ran = Call(Cat(base_, "/", version_, "/", job_name, ":run"), "{}");
    if (!ran.ok()) return ran.status();
    return AwaitJob(job_name);
  }

  std::string Describe() const override {
    return Cat("google_ads customer ", config_.customer_id(), " at ", base_, "/", version_);
  }

 private:
  GoogleAdsDestination() = default;

  static std::string JsonString(const std::string& body, const char* key) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object()) return {};
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  }

  // One POST with the current access token, the developer token and the
  // manager account; a 401 refreshes the token once and sends again (an
  // access token may be revoked or expire early). An error only when no
  // token can be had (Unavailable: retry later; Unauthenticated: stop).
  absl::StatusOr<HttpResponse> Post(const std::string& url, const std::string& body) {
    for (int attempt = 0;; ++attempt) {
      auto token = tokens_->Token();
      if (!token.ok()) return token.status();
      std::vector<std::string> headers = {"Content-Type: application/json", Cat("Authorization: Bearer ", *token),
                                          Cat("developer-token: ", developer_token_)};
      if (!config_.login_customer_id().empty()) {
        headers.push_back(Cat("login-customer-id: ", config_.login_customer_id()));
      }
      HttpResponse resp = http_->Request("POST", url, headers, body);
      if (resp.status != 401 || attempt > 0 || !tokens_->Invalidate()) return resp;
    }
  }

  // POST with retries on 429 / 5xx / transport errors (Retry-After honoured, capped at 60 s).
  absl::StatusOr<std::string> Call(const std::string& url, const std::string& body) {
    for (int attempt = 0;; ++attempt) {
      auto sent = Post(url, body);
      if (!sent.ok()) return sent.status();
      const HttpResponse& resp = *sent;
      if (resp.status == 200) return resp.body;
      conversion::GoogleResponse g = conversion::ParseGoogleResponse(resp.body);
      bool retry = resp.status == 0 || resp.status == 429 || resp.status >= 500;
      if (!retry || attempt >= 4) {
        return absl::UnavailableError(redactor_.Apply(Cat("google_ads audiences: HTTP ", resp.status, " ", g.status,
                                                          ": ", g.message.empty() ? resp.error : g.message)));
      }
      absl::Duration wait = std::max(Backoff(attempt), conversion::ParseRetryAfter(resp.retry_after, absl::Now()));
      absl::SleepFor(std::min(wait, absl::Seconds(60)));
    }
  }

  // Google processes a job asynchronously; its status (PENDING, RUNNING,
  // SUCCESS, FAILED) and failure_reason are read with a GAQL search, the only
  // way the API exposes them. Waits job_poll_ (doubled per poll, at most a
  // minute) between polls, until SUCCESS (OK), FAILED (Unavailable with the
  // platform's reason) or job_timeout_ (DeadlineExceeded). Either error fails
  // the page, so its converters are sent again in a new job next run.
  absl::Status AwaitJob(const std::string& job_name) {
    std::string query = "{\"query\":";
    AppendJsonString(query, Cat("SELECT offline_user_data_job.resource_name, offline_user_data_job.status, "
                                "offline_user_data_job.failure_reason FROM offline_user_data_job "
                                "WHERE offline_user_data_job.resource_name = '",
                                job_name, "'"));
    query.push_back('}');
    const std::string url = Cat(base_, "/", version_, "/customers/", config_.customer_id(), "/googleAds:search");
    const absl::Time deadline = absl::Now() + job_timeout_;
    absl::Duration wait = job_poll_;
    std::string status = "PENDING";
    for (int polls = 1;; ++polls) {
      absl::SleepFor(std::max(absl::ZeroDuration(), std::min(wait, deadline - absl::Now())));
      wait = std::min(wait * 2, absl::Minutes(1));
      auto found = Call(url, query);
      if (!found.ok()) return found.status();
      std::string reason;
      status = "UNKNOWN";
      auto j = nlohmann::json::parse(*found, nullptr, false);
      if (j.is_object() && j.contains("results") && j["results"].is_array()) {
        for (const auto& r : j["results"]) {
          if (!r.is_object() || !r.contains("offlineUserDataJob") || !r["offlineUserDataJob"].is_object()) continue;
          const auto& job = r["offlineUserDataJob"];
          if (job.contains("status") && job["status"].is_string()) status = job["status"].get<std::string>();
          if (job.contains("failureReason") && job["failureReason"].is_string()) {
            reason = job["failureReason"].get<std::string>();
          }
        }
      }
      if (status == "SUCCESS") return absl::OkStatus();
      if (status == "FAILED") {
        return absl::UnavailableError(redactor_.Apply(
            Cat("google_ads audiences: offline user data job ", job_name, " FAILED: ",
                reason.empty() || reason == "UNSPECIFIED" ? std::string("no failure reason given") : reason)));
      }
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(Cat("google_ads audiences: offline user data job ", job_name, " still ",
                                               status, " after ", polls, " polls (",
                                               absl::FormatDuration(job_timeout_), ")"));
      }
    }
  }

  absl::StatusOr<std::string> UserList(std::string_view name) {
    auto it = user_lists_.find(name);
    if (it != user_lists_.end()) return it->second;
    std::string customer = Cat(base_, "/", version_, "/customers/", config_.customer_id());
    std::string quoted;
    for (char c : name) {
      if (c == '\'' || c == '\\') quoted.push_back('\\');
      quoted.push_back(c);
    }
    std::string query = "{\"query\":";
    AppendJsonString(query, Cat("SELECT user_list.resource_name, user_list.name FROM user_list WHERE user_list.name = '",
                                quoted, "'"));
    query.push_back('}');
    auto found = Call(Cat(customer, "/googleAds:search"), query);
    if (!found.ok()) return found.status();
    auto j = nlohmann::json::parse(*found, nullptr, false);
    if (j.is_object() && j.contains("results") && j["results"].is_array()) {
      for (const auto& r : j["results"]) {
        if (!r.is_object() || !r.contains("userList") || !r["userList"].is_object()) continue;
        const auto& ul = r["userList"];
        if (ul.contains("resourceName") && ul["resourceName"].is_string()) {
          std::string rn = ul["resourceName"].get<std::string>();
          user_lists_[std::string(name)] = rn;
          return rn;
        }
      }
    }
    std::string create = "{\"operations\":[{\"create\":{\"name\":";
    AppendJsonString(create, name);
    create.append(",\"description\":\"Herald conversion audience\",\"membershipLifeSpan\":10000,"
                  "\"crmBasedUserList\":{\"uploadKeyType\":\"CONTACT_INFO\",\"dataSourceType\":\"FIRST_PARTY\"}}}]}");
    auto created = Call(Cat(customer, "/userLists:mutate"), create);
    if (!created.ok()) return created.status();
    auto c = nlohmann::json::parse(*created, nullptr, false);
    if (c.is_object() && c.contains("results") && c["results"].is_array() && !c["results"].empty() &&
        c["results"][0].is_object() && c["results"][0].contains("resourceName") &&
        c["results"][0]["resourceName"].is_string()) {
      std::string rn = c["results"][0]["resourceName"].get<std::string>();
      user_lists_[std::string(name)] = rn;
      return rn;
    }
    return absl::UnavailableError("google_ads audiences: user list create returned no resourceName");
  }

  StringMap<std::string> user_lists_;
  ConsentRequirements consent_;
  StringMap<std::string> conversion_actions_;  // "<Issue>/<Group>/<Action>" -> resource name
  absl::Duration job_poll_, job_timeout_;
  v1::GoogleAdsDestinationConfig config_;
  absl::TimeZone zone_;
  std::string developer_token_;
  std::unique_ptr<conversion::AccessTokenSource> tokens_;
  Redactor redactor_;
  std::string base_, version_;
  DestinationLimits limits_;
  std::unique_ptr<HttpClient> http_;
};

// ================================================================ file

class FileDestination final : public Destination {
 public:
  static absl::StatusOr<std::unique_ptr<Destination>> Make(const v1::FileDestinationConfig& c,
                                                           const CreateContext& ctx) {
    if (c.path().empty()) return ConfigError("file", "path is required");
    if (c.batch_size() < 0) return ConfigError("file", "batch_size must be >= 0");
    if (absl::Status st = CheckDefaultRegion("file", c.default_region()); !st.ok()) return st;
    if (absl::Status st = CheckConsentPolicy("file", c.consent_policy()); !st.ok()) return st;
    if (!v1::FileFormat_IsValid(c.format())) return ConfigError("file", "unknown format");
    absl::TimeZone zone = absl::UTCTimeZone();
    if (!c.time_zone().empty() && c.time_zone() != "UTC" && !absl::LoadTimeZone(c.time_zone(), &zone)) {
      return ConfigError("file", Cat("unknown time_zone \"", c.time_zone(), "\""));
    }
    auto d = std::unique_ptr<FileDestination>(new FileDestination());
    d->config_ = c;
    d->zone_ = zone;
    d->zone_name_ = c.time_zone().empty() ? "UTC" : c.time_zone();
    d->csv_ = c.format() == v1::FILE_FORMAT_GOOGLE_CSV;
    d->path_ = c.path()[0] == '/' || ctx.base_dir.empty() ? c.path() : Cat(ctx.base_dir, "/", c.path());
    size_t slash = d->path_.rfind('/');
    d->dir_ = slash == std::string::npos ? "." : d->path_.substr(0, slash);
    d->limits_.max_batch_events = c.batch_size() > 0 ? c.batch_size() : 10000;
    d->limits_.max_age = d->csv_ ? absl::Hours(24 * 90) : absl::InfiniteDuration();
    // Google's CSV template is uploaded to Google: Google's defaults.
    d->consent_ = ResolveConsentPolicy(c.consent_policy(), d->csv_ ? kGoogleConsent : kMetaConsent);
    return std::unique_ptr<Destination>(std::move(d));
  }

  ConsentRequirements consent() const override { return consent_; }

  ~FileDestination() override {
    if (fd_ >= 0) ::close(fd_);
  }

  const DestinationLimits& limits() const override { return limits_; }

  void Prepare(ConversionEvent& e, IdentifierHasher& h) const override {
    const v1::InteractionRecord& r = *e.record;
    const v1::Subject& s = r.subject();
    std::string& out = e.payload;
    out.clear();
    if (csv_) {
      e.identity.em.clear();
      e.identity.ph.clear();
      if (s.gclid().empty()) return;  // Validate sets it aside
      conversion::AppendCsvField(out, s.gclid());
      out.push_back(',');
      conversion::AppendCsvField(out, e.action != nullptr && !e.action->google_conversion_name().empty()
                                          ? e.action->google_conversion_name()
                                          : (e.action != nullptr ? e.action->name() : std::string()));
      out.push_back(',');
      out.append(absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(r.time().seconds()), zone_));
      out.push_back(',');
      if (r.has_value() && !r.value().currency().empty()) {
        AppendMoney(out, r.value());
        out.push_back(',');
        out.append(r.value().currency());
      } else {
        out.push_back(',');
      }
      return;
    }
    HashMetaIdentity(s, config_.default_region(), e.identity, h);
    out.append("{\"event_id\":");
    AppendJsonString(out, e.event_id);
    bool first = false;
    AppendJsonField(out, first, "order_id", e.order_id);
    out.append(",\"sequence\":").append(std::to_string(e.sequence));
    AppendJsonField(out, first, "issue", r.action().issue());
    AppendJsonField(out, first, "group", r.action().group());
    AppendJsonField(out, first, "action", r.action().name());
    AppendJsonField(out, first, "channel", r.channel());
    out.append(",\"event_time\":").append(std::to_string(r.time().seconds()));
    if (r.has_value() && !r.value().currency().empty()) {
      out.append(",\"value\":");
      AppendMoney(out, r.value());
      AppendJsonField(out, first, "currency", r.value().currency());
    }
    if (!s.gclid().empty()) AppendJsonField(out, first, "gclid", s.gclid());
    if (!s.gbraid().empty()) AppendJsonField(out, first, "gbraid", s.gbraid());
    if (!s.wbraid().empty()) AppendJsonField(out, first, "wbraid", s.wbraid());
    out.append(",\"user_data\":");
    AppendMetaUserData(out, e.identity, s);
    out.push_back('}');
  }

  void Validate(ConversionEvent& e, absl::Time) const override {
    if (csv_ && e.record->subject().gclid().empty()) {
      e.Set(EventState::kInvalid, "missing_click_id", "Google's CSV import template needs a gclid");
    }
  }

  BatchResult SendBatch(std::span<ConversionEvent* const> events) override {
    BatchResult result;
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd_ < 0) {
        result.outcome = BatchOutcome::kFatal;
        result.message = Cat("file: cannot open ", path_, ": ", std::strerror(errno));
        return result;
      }
      if (csv_ && ::lseek(fd_, 0, SEEK_END) == 0) {
        std::string header = Cat("Parameters:TimeZone=", zone_name_,
                                 "\nGoogle Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion "
                                 "Currency\n");
        if (!WriteAll(header, result)) return result;
      }
    }
    buffer_.clear();
    for (ConversionEvent* e : events) {
      buffer_.append(e->payload);
      buffer_.push_back('\n');
    }
    if (!WriteAll(buffer_, result)) return result;
    if (!config_.no_fsync() && ::fdatasync(fd_) != 0) {
      result.outcome = BatchOutcome::kRetryable;
      result.message = Cat("file: fsync ", path_, ": ", std::strerror(errno));
      return result;
    }
    for (ConversionEvent* e : events) e->Set(EventState::kDelivered, "", "");
    result.outcome = BatchOutcome::kAccepted;
    return result;
  }

  absl::Status AddAudienceMembers(std::string_view audience, std::span<const AudienceMember> members) override {
    std::string path = Cat(dir_, "/", audience, ".members");
    auto& known = audiences_[std::string(audience)];
    if (!known.loaded) {
      std::ifstream in(path);
      std::string line;
      while (std::getline(in, line)) {
        if (!line.empty()) known.members.try_emplace(line, true);
      }
      known.loaded = true;
    }
    std::string add;
    for (const AudienceMember& m : members) {
      for (const std::string* v : {&m.em, &m.ph}) {
        if (v->empty()) continue;
        if (known.members.try_emplace(*v, true).second) add.append(*v).push_back('\n');
      }
    }
    if (add.empty()) return absl::OkStatus();
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << add;
    out.flush();
    if (!out) return absl::UnavailableError(Cat("file: cannot write ", path));
    return absl::OkStatus();
  }

  std::string Describe() const override { return Cat("file ", path_, csv_ ? " (Google CSV)" : " (JSON lines)"); }

 private:
  FileDestination() = default;

  bool WriteAll(std::string_view data, BatchResult& result) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        result.outcome = BatchOutcome::kRetryable;
        result.message = Cat("file: write ", path_, ": ", std::strerror(errno));
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  struct AudienceFile {
    bool loaded = false;
    StringMap<bool> members;
  };

  v1::FileDestinationConfig config_;
  ConsentRequirements consent_;
  absl::TimeZone zone_;
  std::string zone_name_, path_, dir_;
  bool csv_ = false;
  int fd_ = -1;
  std::string buffer_;
  DestinationLimits limits_;
  StringMap<AudienceFile> audiences_;
};

}  // namespace

void RegisterConversionDestinations(Registry* registry) {
  registry->RegisterIfAbsent(MakeFactory<Destination, v1::MetaDestinationConfig>(
      "meta", "Meta Conversions API: offline events to a dataset, conversion custom audiences",
      [](const v1::MetaDestinationConfig& c, const CreateContext& ctx) { return MetaDestination::Make(c, ctx); }));
  registry->RegisterIfAbsent(MakeFactory<Destination, v1::GoogleAdsDestinationConfig>(
      "google_ads", "Google Ads UploadClickConversions with partial failure",
      [](const v1::GoogleAdsDestinationConfig& c, const CreateContext& ctx) {
        return GoogleAdsDestination::Make(c, ctx);
      }));
  registry->RegisterIfAbsent(MakeFactory<Destination, v1::FileDestinationConfig>(
      "file", "a file: JSON lines or Google's offline click conversion CSV template",
      [](const v1::FileDestinationConfig& c, const CreateContext& ctx) { return FileDestination::Make(c, ctx); }));
}

}  // namespace herald
