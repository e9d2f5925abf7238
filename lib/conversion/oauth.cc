#include "conversion/oauth.h"


#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "core/strings.h"

namespace herald::conversion {

namespace {

// application/x-www-form-urlencoded value (RFC 3986 unreserved kept).
std::string FormEncode(std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<AccessTokenSource> AccessTokenSource::Fixed(std::string token) {
  auto s = std::unique_ptr<AccessTokenSource>(new AccessTokenSource());
  s->token_ = std::move(token);
  s->refresh_at_ = absl::InfiniteFuture();
  return s;
}

std::unique_ptr<AccessTokenSource> AccessTokenSource::Refreshing(OAuthClient client, absl::Duration timeout,
                                                                 Redactor* redactor,
                                                                 std::function<absl::Time()> clock) {
  auto s = std::unique_ptr<AccessTokenSource>(new AccessTokenSource());
  s->fixed_ = false;
  s->client_ = std::move(client);
  s->http_ = std::make_unique<HttpClient>(timeout);
  s->redactor_ = redactor;
  s->clock_ = clock ? std::move(clock) : [] { return absl::Now(); };
  return s;
}

absl::StatusOr<std::string> AccessTokenSource::Token() {
  if (fixed_) return token_;
  if (token_.empty() || clock_() >= refresh_at_) {
    if (absl::Status s = Refresh(); !s.ok()) return s;
  }
  return token_;
}

bool AccessTokenSource::Invalidate() {
  if (fixed_) return false;
  refresh_at_ = absl::InfinitePast();
  return true;
}

absl::Status AccessTokenSource::Refresh() {
  const std::string body = Cat("grant_type=refresh_token&client_id=", FormEncode(client_.client_id),
                               "&client_secret=", FormEncode(client_.client_secret),
                               "&refresh_token=", FormEncode(client_.refresh_token));
  const absl::Time asked = clock_();
  HttpResponse resp = http_->Request("POST", client_.token_url,
                                     {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"},
                                     body);
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  auto text = [&](const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  const std::string where = Cat("google_ads OAuth token endpoint ", client_.token_url);
  if (resp.status == 200 && !text("access_token").empty()) {
    token_ = text("access_token");
    redactor_->Add(token_);
    int64_t lifetime = j.contains("expires_in") && j["expires_in"].is_number_integer()
                           ? j["expires_in"].get<int64_t>()
                           : 3600;  // Google's tokens last an hour
    if (lifetime <= 0) lifetime = 1;
    // Refresh at 90 % of the lifetime, at least a minute early for long ones.
    absl::Duration life = absl::Seconds(lifetime);
    absl::Duration early = std::max(life / 10, std::min(absl::Minutes(1), life / 2));
    refresh_at_ = asked + life - early;
    ++refreshes_;
    return absl::OkStatus();
  }
  token_.clear();
  if (resp.status == 0 || resp.status == 429 || resp.status >= 500 || (resp.status == 200 && !j.is_object())) {
    return absl::UnavailableError(redactor_->Apply(
        Cat(where, ": ", resp.status == 0 ? resp.error : Cat("HTTP ", resp.status), " (retried next run)")));
  }
  // RFC 6749 5.2: {"error": "invalid_grant", "error_description": "..."}.
  return absl::UnauthenticatedError(redactor_->Apply(
      Cat(where, ": HTTP ", resp.status, ": ", text("error").empty() ? std::string("no error code") : text("error"),
          text("error_description").empty() ? "" : Cat(": ", text("error_description")),
          " (check the client id, client secret and refresh token)")));
}

}  // namespace herald::conversion
