// Internal: parsers of the platforms' HTTP responses (fuzzed by
// fuzz/fuzz_conversion_responses.cc). None throws; malformed bodies give
// `parsed == false` and the caller classifies by HTTP status alone.
#ifndef HERALD_LIB_CONVERSION_RESPONSES_H_
#define HERALD_LIB_CONVERSION_RESPONSES_H_

#include <string>
#include <string_view>
#include <vector>

namespace herald::conversion {

// Meta Graph API: success {"events_received":N,"messages":[],"fbtrace_id":"..."}
// or error {"error":{"message","type","code","error_subcode","error_user_msg","fbtrace_id"}}.
struct MetaResponse {
  bool parsed = false;
  bool has_error = false;
  int events_received = -1;     // -1 = absent
  int code = 0;
  int subcode = 0;
  std::string type;
  std::string message;          // message (+ " - " error_user_msg)
  std::string fbtrace_id;
  std::string id;               // audience create: {"id": "..."}
  std::vector<std::pair<std::string, std::string>> audiences;  // list: data[{id,name}]
};
MetaResponse ParseMetaResponse(std::string_view body);

// Throttling codes (4 app, 17 user, 32 page, 613 calls, 80004 ads insights / ads management).
bool IsMetaThrottleCode(int code);
// Transient server codes (1 unknown, 2 service).
bool IsMetaTransientCode(int code);

// One per-row error of a Google Ads partial failure.
struct GoogleRowError {
  int index = -1;            // the conversion's index in the request; -1 = not located
  std::string category;      // the ErrorCode oneof name: "conversionUploadError", "internalError" ...
  std::string code;          // its value: "CLICK_CONVERSION_ALREADY_EXISTS"
  std::string message;
};

// UploadClickConversionsResponse (REST JSON) or a google.rpc.Status error
// body {"error":{"code","message","status","details":[GoogleAdsFailure]}}.
struct GoogleResponse {
  bool parsed = false;
  bool has_error = false;            // an RPC-level error
  int error_code = 0;                // google.rpc code or HTTP status
  std::string status;                // "RESOURCE_EXHAUSTED", ...
  std::string message;
  std::vector<GoogleRowError> rows;  // partialFailureError rows (or the error's details)
  int results = -1;                  // results[] size; -1 = absent
  std::vector<bool> result_kept;     // per results[] entry: not empty (the conversion was kept)
  std::string job_id;
};
GoogleResponse ParseGoogleResponse(std::string_view body);

enum class RowClass { kDuplicate, kTransient, kPermanent };
RowClass ClassifyGoogleRow(const GoogleRowError& row);

}  // namespace herald::conversion

#endif  // HERALD_LIB_CONVERSION_RESPONSES_H_
