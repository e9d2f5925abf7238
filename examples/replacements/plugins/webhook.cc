// plugin_webhook: examples/replacements' "webhook" conversion destination
// as a C-ABI plugin: each conversion becomes a JSON object whose
// identifiers the host normalizes and hashes by Meta's rules
// (prepare_identity, the built-ins' own code), and each batch is POSTed as
// a JSON array to the site's endpoint with libcurl, with a bearer token the
// host reads from a private file (read_secret).
//
// Answers: 2xx delivers the batch; 429, 408, 5xx, 3xx and transport errors
// are retryable; 413 splits the batch; 401 and 403 stop the run; any other
// 4xx is a definite refusal, which the host splits down to the event it
// fails. The token never appears in a message or the description.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <strings.h>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "plugin_config.h"

namespace {

using site_plugin::ConfigError;
using site_plugin::SetError;
using site_plugin::Text;

constexpr char kName[] = "plugin_webhook";
constexpr size_t kMaxAnswerBytes = 4096;  // enough for a message; the rest is read and dropped

struct Instance {
  std::string url, token, default_region;
  int32_t max_batch_events = 100;
  long timeout_ms = 10000;
  curl_slist* headers = nullptr;
  CURL* curl = nullptr;
  std::string last_message;  // herald_batch_result.message until the next send
  ~Instance() {
    if (curl != nullptr) curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    explicit_bzero(token.data(), token.size());
  }
};

// http:// or https://, no user:password@, no white space or control characters.
void CheckUrl(const std::string& url) {
  const std::string prefix = std::string(kName) + " config: ";
  if (url.empty()) throw ConfigError(prefix + "url is required");
  const size_t scheme_end = url.find("://");
  std::string scheme = url.substr(0, scheme_end);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme_end == std::string::npos || (scheme != "http" && scheme != "https")) {
    throw ConfigError(prefix + "url must start with http:// or https://");
  }
  for (unsigned char c : url) {
    if (c <= ' ' || c == 0x7f) throw ConfigError(prefix + "url holds white space or a control character");
  }
  const std::string rest = url.substr(scheme_end + 3);
  const std::string authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) throw ConfigError(prefix + "url has no host");
  if (authority.find('@') != std::string::npos) {
    throw ConfigError(prefix + "url must not hold credentials (user:password@); use bearer_token_file");
  }
}

Instance* Make(const herald_create_context* context, herald_error* error) {
  const site_plugin::Config config(context->config_json.data, context->config_json.size, kName,
                                   {{"url", "url"},
                                    {"bearerTokenFile", "bearer_token_file"},
                                    {"maxBatchEvents", "max_batch_events"},
                                    {"timeoutMs", "timeout_ms"},
                                    {"defaultRegion", "default_region"}});
  const std::string prefix = std::string(kName) + " config: ";
  auto instance = std::make_unique<Instance>();
  instance->url = config.String("url", "url");
  CheckUrl(instance->url);
  const int64_t max_events = config.Int("maxBatchEvents", "max_batch_events");
  if (max_events < 0 || max_events > 10000) throw ConfigError(prefix + "max_batch_events must be 0..10000");
  if (max_events > 0) instance->max_batch_events = static_cast<int32_t>(max_events);
  const int64_t timeout_ms = config.Int("timeoutMs", "timeout_ms");
  if (timeout_ms < 0) throw ConfigError(prefix + "timeout_ms must be >= 0");
  if (timeout_ms > 0) instance->timeout_ms = static_cast<long>(timeout_ms);
  instance->default_region = config.String("defaultRegion", "default_region");
  if (!instance->default_region.empty() &&
      (instance->default_region.size() != 2 || !std::isalpha(static_cast<unsigned char>(instance->default_region[0])) ||
       !std::isalpha(static_cast<unsigned char>(instance->default_region[1])))) {
    throw ConfigError(prefix + "default_region \"" + instance->default_region +
                      "\" is not an ISO 3166-1 alpha-2 country code");
  }
  const std::string token_file = config.String("bearerTokenFile", "bearer_token_file");
  if (token_file.empty()) throw ConfigError(prefix + "bearer_token_file is required");
  // The host insists on a private file and names the file, never the value.
  herald_str token{};
  if (context->read_secret(context->ctx, "webhook bearer token", token_file.c_str(), &token, error) != HERALD_OK) {
    return nullptr;
  }
  instance->token = Text(token);
  for (unsigned char c : instance->token) {
    if (c < ' ' || c == 0x7f) throw ConfigError(prefix + "bearer_token_file \"" + token_file + "\": the token holds a control character");
  }
  static std::once_flag curl_ready;  // curl_global_init is not thread-safe: once per process
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  instance->curl = curl_easy_init();
  if (instance->curl == nullptr) throw ConfigError(std::string(kName) + ": cannot create a libcurl handle");
  instance->headers = curl_slist_append(instance->headers, "Content-Type: application/json");
  instance->headers = curl_slist_append(instance->headers, "Expect:");  // no 100-continue round trip
  instance->headers = curl_slist_append(instance->headers, ("Authorization: Bearer " + instance->token).c_str());
  return instance.release();
}

void* Create(const herald_create_context* context, herald_error* error) {
  try {
    return Make(context, error);
  } catch (const std::exception& e) {
    SetError(error, e.what());
    return nullptr;
  }
}

void Destroy(void* instance) { delete static_cast<Instance*>(instance); }

void Limits(void* instance, int32_t* max_batch_events, int64_t* max_age_seconds) {
  *max_batch_events = static_cast<Instance*>(instance)->max_batch_events;
  *max_age_seconds = 7 * 24 * 3600;
}

std::string Get(const herald_conversion_view* v, size_t i, const char* name) {
  herald_str value{};
  return v->event_text(v->ctx, i, name, &value) ? Text(value) : std::string();
}

nlohmann::ordered_json UserData(const herald_conversion_view* v, size_t i) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const char* key : {"em", "ph", "fn", "ln", "ct", "st", "zp", "country", "db", "ge", "external_id"}) {
    const std::string value = Get(v, i, (std::string("identity.") + key).c_str());
    if (!value.empty()) out[key] = value;
  }
  return out;
}

nlohmann::ordered_json EventJson(const herald_conversion_view* v, size_t i) {
  int64_t sequence = 0, time = 0, value_minor = 0;
  v->event_number(v->ctx, i, "sequence", &sequence);
  v->event_number(v->ctx, i, "time", &time);
  nlohmann::ordered_json event = {
      {"event_id", Get(v, i, "event_id")},
      {"order_id", Get(v, i, "order_id")},
      {"sequence", sequence},
      {"event_time", time},
      {"action", {{"issue", Get(v, i, "action.issue")}, {"group", Get(v, i, "action.group")},
                  {"name", Get(v, i, "action.name")}}},
      {"channel", Get(v, i, "channel")}};
  if (v->event_number(v->ctx, i, "value_minor", &value_minor)) {
    event["value_minor"] = value_minor;
    event["currency"] = Get(v, i, "currency");
  }
  event["user_data"] = UserData(v, i);
  return event;
}

// The operations below catch everything: no exception crosses the C ABI.
// An event the plugin could not prepare stays live without a payload and
// fails validation; a batch it could not send is retried.
void PrepareEvents(void* instance, const herald_conversion_view* v) {
  const Instance& hook = *static_cast<Instance*>(instance);
  const size_t count = v->event_count(v->ctx);
  for (size_t i = 0; i < count; ++i) {
    if (v->event_state(v->ctx, i) != HERALD_EVENT_LIVE) continue;
    v->prepare_identity(v->ctx, i, HERALD_IDENTITY_META, hook.default_region.c_str());
    // Invalid UTF-8 in a record is replaced, never thrown on.
    const std::string payload = EventJson(v, i).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    v->set_payload(v->ctx, i, payload.data(), payload.size());
  }
}

void ValidateEvents(const herald_conversion_view* v) {
  const size_t count = v->event_count(v->ctx);
  for (size_t i = 0; i < count; ++i) {
    if (v->event_state(v->ctx, i) != HERALD_EVENT_LIVE) continue;
    if (Get(v, i, "identity.em").empty() && Get(v, i, "identity.ph").empty() &&
        Get(v, i, "identity.external_id").empty()) {
      v->set_state(v->ctx, i, HERALD_EVENT_INVALID, "missing_identifier",
                   "the webhook needs an email, a phone or an external id");
    }
  }
}

// What the endpoint answered; status 0 = no HTTP answer (see error).
struct HttpAnswer {
  long status = 0;
  bool timed_out = false;
  std::string error;
  std::string body;  // the first kMaxAnswerBytes
  int64_t retry_after_ms = 0;
};

size_t CollectBody(char* data, size_t size, size_t n, void* answer) {
  std::string& body = static_cast<HttpAnswer*>(answer)->body;
  body.append(data, std::min(size * n, kMaxAnswerBytes - std::min(body.size(), kMaxAnswerBytes)));
  return size * n;
}

// Retry-After in seconds (the HTTP-date form is not honoured: backoff applies).
size_t CollectHeader(char* data, size_t size, size_t n, void* answer) {
  const std::string line(data, size * n);
  constexpr char kRetryAfter[] = "retry-after:";
  if (line.size() > sizeof kRetryAfter && strncasecmp(line.c_str(), kRetryAfter, sizeof kRetryAfter - 1) == 0) {
    const long long seconds = std::atoll(line.c_str() + sizeof kRetryAfter - 1);
    if (seconds > 0 && seconds < 86400) static_cast<HttpAnswer*>(answer)->retry_after_ms = seconds * 1000;
  }
  return size * n;
}

HttpAnswer Post(Instance& hook, const std::string& body) {
  HttpAnswer answer;
  char error[CURL_ERROR_SIZE] = {0};
  CURL* curl = hook.curl;
  curl_easy_reset(curl);  // keeps the connection cache
  curl_easy_setopt(curl, CURLOPT_URL, hook.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect is not an answer: retried
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, hook.timeout_ms);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hook.headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    answer.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    answer.error = error[0] != '\0' ? error : curl_easy_strerror(code);
    return answer;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

herald_batch_outcome ClassifyFailure(long status) {
  if (status == 413) return HERALD_BATCH_TOO_LARGE;
  if (status == 401 || status == 403) return HERALD_BATCH_FATAL;
  if (status >= 400 && status < 500 && status != 408 && status != 429) return HERALD_BATCH_REJECTED;
  return HERALD_BATCH_RETRYABLE;  // 429, 408, 5xx, 3xx, 1xx
}

// The endpoint may echo the header back: never let the token out. The search
// goes on after each replacement, so a token that "[redacted]" holds cannot
// match its own replacement.
std::string Redact(const Instance& hook, std::string text) {
  constexpr std::string_view kRedacted = "[redacted]";
  if (hook.token.empty()) return text;
  for (size_t at = text.find(hook.token); at != std::string::npos;
       at = text.find(hook.token, at + kRedacted.size())) {
    text.replace(at, hook.token.size(), kRedacted);
  }
  return text;
}

void Send(void* instance, const herald_conversion_view* v, herald_batch_result* result) {
  Instance& hook = *static_cast<Instance*>(instance);
  const size_t count = v->event_count(v->ctx);
  std::string body = "[";
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) body.push_back(',');
    body.append(Get(v, i, "payload"));
  }
  body.push_back(']');
  const HttpAnswer answer = Post(hook, body);
  result->http_status = static_cast<int32_t>(answer.status);
  result->retry_after_ms = answer.retry_after_ms;
  if (answer.status >= 200 && answer.status < 300) {
    for (size_t i = 0; i < count; ++i) v->set_state(v->ctx, i, HERALD_EVENT_DELIVERED, "", "");
    result->outcome = HERALD_BATCH_ACCEPTED;
    hook.last_message.clear();
  } else if (answer.status == 0) {
    result->outcome = HERALD_BATCH_RETRYABLE;
    hook.last_message = Redact(hook, answer.timed_out ? "webhook: no answer within " + std::to_string(hook.timeout_ms) + " ms"
                                                      : "webhook: " + answer.error);
  } else {
    result->outcome = ClassifyFailure(answer.status);
    hook.last_message = Redact(hook, "webhook: HTTP " + std::to_string(answer.status) + ": " + answer.body);
  }
  result->message = hook.last_message.c_str();
}

void Prepare(void* instance, const herald_conversion_view* v) {
  try {
    PrepareEvents(instance, v);
  } catch (const std::exception&) {
  }
}

void Validate(void*, const herald_conversion_view* v) {
  try {
    ValidateEvents(v);
  } catch (const std::exception&) {
  }
}

void SendBatch(void* instance, const herald_conversion_view* v, herald_batch_result* result) {
  try {
    Send(instance, v, result);
  } catch (const std::exception&) {
    result->outcome = HERALD_BATCH_RETRYABLE;
    result->message = "webhook: out of memory";
  }
}

void Describe(void* instance, char* buffer, size_t size) {
  const Instance& hook = *static_cast<Instance*>(instance);
  std::snprintf(buffer, size, "webhook POST %s (at most %d events a request)", hook.url.c_str(),
                static_cast<int>(hook.max_batch_events));
}

herald_code Register(herald_registrar* registrar, herald_error* error) {
  static const herald_destination_ops ops = [] {
    herald_destination_ops o{};
    o.struct_size = sizeof o;
    o.limits = &Limits;
    o.prepare = &Prepare;
    o.validate = &Validate;
    o.send_batch = &SendBatch;
    o.describe = &Describe;
    return o;
  }();
  static herald_component_desc desc = [] {
    herald_component_desc d{};
    d.struct_size = sizeof d;
    d.family = "destination";
    d.name = kName;
    d.description = "POSTs conversions as a JSON array, identifiers hashed, to the site's own endpoint";
    d.create_in_context = &Create;
    d.destroy = &Destroy;
    d.destination = &ops;
    return d;
  }();
  return registrar->register_component(registrar, &desc, error);
}

const herald_plugin kPlugin = {HERALD_PLUGIN_ABI_VERSION, "replacement_webhook", "1.0", &Register};

}  // namespace

HERALD_PLUGIN_DEFINE_ABI_HASH()
extern "C" HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { return &kPlugin; }
