// Internal: OAuth 2.0 access tokens for the Google Ads API from a refresh
// token (RFC 6749 section 6, Google's "Using OAuth 2.0 for Web Server
// Applications": POST to the token endpoint with grant_type=refresh_token,
// client_id, client_secret, refresh_token; the answer carries access_token
// and expires_in seconds).
//
// An AccessTokenSource caches the access token and refreshes it before it
// expires (at 90 % of its lifetime, and at least a minute early for long
// lifetimes), or at once after Invalidate() (a 401 from the API). Secrets
// (client secret, refresh token, access tokens) never appear in its errors:
// they are passed through the destination's Redactor, to which the source
// adds every access token it receives.
// Thread-safety: none (used by one destination under its run's lock).
#ifndef HERALD_LIB_CONVERSION_OAUTH_H_
#define HERALD_LIB_CONVERSION_OAUTH_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conversion/destinations.h"
#include "conversion/http.h"

namespace herald::conversion {

struct OAuthClient {
  std::string token_url;      // "https://oauth2.googleapis.com/token"
  std::string client_id;
  std::string client_secret;
  std::string refresh_token;
};

class AccessTokenSource {
 public:
  // A fixed token (no refresh): Token() always returns it.
  static std::unique_ptr<AccessTokenSource> Fixed(std::string token);
  // Tokens from `client`'s refresh token; `redactor` (borrowed, outlives the
  // source) learns every access token.
  static std::unique_ptr<AccessTokenSource> Refreshing(OAuthClient client, absl::Duration timeout,
                                                       Redactor* redactor,
                                                       std::function<absl::Time()> clock = nullptr);

  // The current access token, refreshed first when it is about to expire.
  // Unavailable for a transient failure of the token endpoint (retry later),
  // Unauthenticated when it refuses the client or the refresh token
  // (invalid_grant, invalid_client: an operator must act).
  absl::StatusOr<std::string> Token();
  // The API refused the current token (401): the next Token() refreshes.
  // False for a fixed token (nothing to refresh).
  bool Invalidate();
  int refreshes() const { return refreshes_; }

 private:
  AccessTokenSource() = default;
  absl::Status Refresh();

  bool fixed_ = true;
  OAuthClient client_;
  std::unique_ptr<HttpClient> http_;
  Redactor* redactor_ = nullptr;
  std::function<absl::Time()> clock_;
  std::string token_;
  absl::Time refresh_at_ = absl::InfinitePast();
  int refreshes_ = 0;
};

}  // namespace herald::conversion

#endif  // HERALD_LIB_CONVERSION_OAUTH_H_
