// The "webhook" conversion destination, written against herald/conversion.h:
// each conversion becomes a JSON object whose personal identifiers are
// normalized and SHA-256 hashed by Meta's rules (as the built-in "meta" and
// "file" destinations hash them), and each batch is POSTed as a JSON array
// to the site's endpoint with libcurl, authenticated by a bearer token read
// from a file.
//
// Answers: 2xx delivers every event of the batch; 429, 408, 5xx, 3xx and
// transport errors (timeouts included) are retried by SendEvents with the
// events left live; 413 splits the batch; 401 and 403 stop the run (a bad
// token must not fail conversions for good); any other 4xx is a definite
// refusal of the batch, which SendEvents splits down to the event it fails.
// The token never appears in a message, a trace or Describe().
#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "herald/conversion.h"
#include "site_components.h"
#include "site_components.pb.h"
#include "site_text.h"

namespace site {
namespace {

using herald::BatchOutcome;
using herald::BatchResult;
using herald::ConversionEvent;
using herald::EventState;

absl::Status ConfigError(const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat("webhook config: ", message));
}

nlohmann::ordered_json UserData(const herald::HashedIdentity& id) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  const std::pair<const char*, const std::string*> fields[] = {
      {"em", &id.em}, {"ph", &id.ph}, {"fn", &id.fn}, {"ln", &id.ln}, {"ct", &id.ct}, {"st", &id.st},
      {"zp", &id.zp}, {"country", &id.country}, {"db", &id.db}, {"ge", &id.ge}, {"external_id", &id.external_id}};
  for (const auto& [key, value] : fields) {
    if (!value->empty()) out[key] = *value;
  }
  return out;
}

// What the endpoint answered; status 0 = no HTTP answer (see error).
struct HttpAnswer {
  long status = 0;
  bool timed_out = false;
  std::string error;
  std::string body;  // the first kMaxAnswerBytes
  absl::Duration retry_after = absl::ZeroDuration();
};

constexpr size_t kMaxAnswerBytes = 4096;  // enough for a message; the rest is read and dropped

size_t CollectBody(char* data, size_t size, size_t n, void* answer) {
  std::string& body = static_cast<HttpAnswer*>(answer)->body;
  body.append(data, std::min(size * n, kMaxAnswerBytes - std::min(body.size(), kMaxAnswerBytes)));
  return size * n;
}

// Retry-After in seconds (the HTTP-date form is not honoured: backoff applies).
size_t CollectHeader(char* data, size_t size, size_t n, void* answer) {
  const std::string_view line(data, size * n);
  constexpr std::string_view kRetryAfter = "retry-after:";
  if (StartsWithIgnoreCase(line, kRetryAfter)) {
    int64_t seconds = 0;
    const std::string value(Trim(line.substr(kRetryAfter.size())));
    if (absl::SimpleAtoi(value, &seconds) && seconds > 0) {
      static_cast<HttpAnswer*>(answer)->retry_after = absl::Seconds(seconds);
    }
  }
  return size * n;
}

BatchOutcome ClassifyFailure(long status) {
  if (status == 413) return BatchOutcome::kTooLarge;
  if (status == 401 || status == 403) return BatchOutcome::kFatal;
  if (status >= 400 && status < 500 && status != 408 && status != 429) return BatchOutcome::kRejected;
  return BatchOutcome::kRetryable;  // 429, 408, 5xx, 3xx, 1xx
}

class WebhookDestination final : public herald::Destination {
 public:
  WebhookDestination(const v1::WebhookDestinationConfig& config, std::string token)
      : config_(config), token_(std::move(token)) {
    limits_.max_batch_events = config.max_batch_events() > 0 ? config.max_batch_events() : 100;
    timeout_ms_ = config.timeout_ms() > 0 ? config.timeout_ms() : 10000;
    headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    headers_ = curl_slist_append(headers_, "Expect:");  // no 100-continue round trip
    headers_ = curl_slist_append(headers_, absl::StrCat("Authorization: Bearer ", token_).c_str());
    curl_ = curl_easy_init();
  }
  ~WebhookDestination() override {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
    curl_slist_free_all(headers_);
  }
  WebhookDestination(const WebhookDestination&) = delete;
  WebhookDestination& operator=(const WebhookDestination&) = delete;

  const herald::DestinationLimits& limits() const override { return limits_; }

  void Prepare(ConversionEvent& e, herald::IdentifierHasher& hasher) const override {
    const herald::v1::InteractionRecord& r = *e.record;
    // Meta's rules, as the built-in destinations prepare identities.
    herald::IdentityRules rules = herald::kMetaIdentityRules;
    rules.default_region = config_.default_region();
    herald::PrepareIdentity(r.subject(), rules, e.identity, hasher);
    nlohmann::ordered_json event = {
        {"event_id", e.event_id},
        {"order_id", e.order_id},
        {"sequence", e.sequence},
        {"event_time", r.time().seconds()},
        {"action", {{"issue", r.action().issue()}, {"group", r.action().group()}, {"name", r.action().name()}}},
        {"channel", r.channel()}};
    if (r.has_value() && !r.value().currency().empty()) {
      event["value_minor"] = r.value().minor_units();
      event["currency"] = r.value().currency();
    }
    event["user_data"] = UserData(e.identity);
    // Invalid UTF-8 in a record is replaced, never thrown on.
    e.payload = event.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }

  void Validate(ConversionEvent& e, absl::Time) const override {
    const herald::HashedIdentity& id = e.identity;
    if (id.em.empty() && id.ph.empty() && id.external_id.empty()) {
      e.Set(EventState::kInvalid, "missing_identifier", "the webhook needs an email, a phone or an external id");
    }
  }

  BatchResult SendBatch(std::span<ConversionEvent* const> events) override {
    std::string body = "[";
    for (size_t i = 0; i < events.size(); ++i) {
      if (i > 0) body.push_back(',');
      body.append(events[i]->payload);
    }
    body.push_back(']');
    const HttpAnswer answer = Post(body);
    BatchResult result;
    result.http_status = static_cast<int>(answer.status);
    result.retry_after = answer.retry_after;
    if (answer.status == 0) {
      result.outcome = BatchOutcome::kRetryable;
      result.message = Redact(answer.timed_out ? absl::StrCat("webhook: no answer within ", timeout_ms_, " ms")
                                               : absl::StrCat("webhook: ", answer.error));
      return result;
    }
    if (answer.status >= 200 && answer.status < 300) {
      for (ConversionEvent* e : events) e->Set(EventState::kDelivered, "", "");
      result.outcome = BatchOutcome::kAccepted;
      return result;
    }
    result.outcome = ClassifyFailure(answer.status);
    result.message = Redact(absl::StrCat("webhook: HTTP ", answer.status, ": ", answer.body));
    return result;
  }

  std::string Describe() const override {
    return absl::StrCat("webhook POST ", config_.url(), " (at most ", limits_.max_batch_events,
                        " events a request)");
  }

 private:
  HttpAnswer Post(const std::string& body) {
    HttpAnswer answer;
    if (curl_ == nullptr) {
      answer.error = "cannot create a libcurl handle";
      return answer;
    }
    char error[CURL_ERROR_SIZE] = {0};
    curl_easy_reset(curl_);  // keeps the connection cache
    curl_easy_setopt(curl_, CURLOPT_URL, config_.url().c_str());
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect is not an answer: retried
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, CollectBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, CollectHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &answer);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
    const CURLcode code = curl_easy_perform(curl_);
    if (code != CURLE_OK) {
      answer.timed_out = code == CURLE_OPERATION_TIMEDOUT;
      answer.error = error[0] != '\0' ? error : curl_easy_strerror(code);
      return answer;
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &answer.status);
    return answer;
  }

  // The endpoint may echo the header back: never let the token out.
  std::string Redact(std::string text) const {
    return absl::StrReplaceAll(text, {{token_, "[redacted]"}});
  }

  const v1::WebhookDestinationConfig config_;
  const std::string token_;
  herald::DestinationLimits limits_;
  int timeout_ms_ = 10000;
  curl_slist* headers_ = nullptr;
  CURL* curl_ = nullptr;
};

// http:// or https://, no user:password@ (credentials belong in the token
// file), no white space or control characters.
absl::Status CheckUrl(const std::string& url) {
  if (url.empty()) return ConfigError("url is required");
  const size_t scheme_end = url.find("://");
  const std::string scheme = Lower(std::string_view(url).substr(0, scheme_end));
  if (scheme_end == std::string::npos || (scheme != "http" && scheme != "https")) {
    return ConfigError("url must start with http:// or https://");
  }
  for (unsigned char c : url) {
    if (c <= ' ' || c == 0x7f) return ConfigError("url holds white space or a control character");
  }
  const std::string_view rest = std::string_view(url).substr(scheme_end + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) return ConfigError("url has no host");
  if (authority.find('@') != std::string_view::npos) {
    return ConfigError("url must not hold credentials (user:password@); use bearer_token_file");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<herald::Destination>> MakeWebhook(const v1::WebhookDestinationConfig& config,
                                                                 const herald::CreateContext& context) {
  if (absl::Status s = CheckUrl(config.url()); !s.ok()) return s;
  if (config.bearer_token_file().empty()) return ConfigError("bearer_token_file is required");
  if (config.max_batch_events() < 0 || config.max_batch_events() > 10000) {
    return ConfigError("max_batch_events must be 0..10000");
  }
  if (config.timeout_ms() < 0) return ConfigError("timeout_ms must be >= 0");
  if (!config.default_region().empty() && herald::NormalizeCountry(config.default_region()).empty()) {
    return ConfigError(absl::StrCat("default_region \"", config.default_region(),
                                    "\" is not an ISO 3166-1 alpha-2 country code"));
  }
  // ReadCredential insists on a private file (0600 / 0400) and names the
  // file, never the value, in its errors.
  absl::StatusOr<std::string> token =
      herald::ReadCredential("webhook bearer token", "", config.bearer_token_file(), context.base_dir);
  if (!token.ok()) return token.status();
  if (token->empty()) return ConfigError(absl::StrCat("bearer_token_file \"", config.bearer_token_file(), "\" is empty"));
  for (unsigned char c : *token) {
    if (c < ' ' || c == 0x7f) {
      return ConfigError(absl::StrCat("bearer_token_file \"", config.bearer_token_file(),
                                      "\": the token holds a control character"));
    }
  }
  static std::once_flag curl_ready;  // curl_global_init is not thread-safe: once per process
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::make_unique<WebhookDestination>(config, *std::move(token));
}

}  // namespace

std::unique_ptr<herald::FactoryBase> WebhookDestinationFactory() {
  return herald::MakeFactory<herald::Destination, v1::WebhookDestinationConfig>(
      "webhook", "POSTs conversions as a JSON array, identifiers hashed, to the site's own endpoint",
      MakeWebhook);
}

}  // namespace site
