// libFuzzer target for the platforms' response parsers used by the
// conversion destinations: Meta Graph API bodies (success, error, audience
// lists), Google Ads UploadClickConversions bodies (results, partial failure
// with GoogleAdsFailure details, RPC-level errors) and Retry-After values.
// Every input is given to every parser. No input may crash, hang, leak or
// throw; a partial failure row's index must never be trusted blindly (the
// destination checks it against the batch).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/time/time.h"
#include "conversion/http.h"
#include "conversion/responses.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  using namespace herald::conversion;
  MetaResponse meta = ParseMetaResponse(body);
  (void)IsMetaThrottleCode(meta.code);
  (void)IsMetaTransientCode(meta.code);
  GoogleResponse google = ParseGoogleResponse(body);
  for (const GoogleRowError& row : google.rows) (void)ClassifyGoogleRow(row);
  (void)ParseRetryAfter(body.substr(0, 64), absl::FromUnixSeconds(1700000000));
  return 0;
}
