// Mapping absl::Status to the API's error answers (herald/server.h).
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "herald/server.h"

namespace herald {

absl::Status WithField(absl::Status status, std::string_view field) {
  if (!status.ok() && !field.empty()) status.SetPayload(absl::string_view(kFieldPayload.data(), kFieldPayload.size()),
                                                         absl::Cord(absl::string_view(field.data(), field.size())));
  return status;
}

absl::Status WithHttpStatus(absl::Status status, int http_status, std::string_view code) {
  if (!status.ok()) {
    status.SetPayload(absl::string_view(kHttpStatusPayload.data(), kHttpStatusPayload.size()),
                      absl::Cord(absl::StrCat(http_status, " ", absl::string_view(code.data(), code.size()))));
  }
  return status;
}

namespace {

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted: return 409;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

// "profile.age: expected int" -> "profile.age". Only a leading token made of
// field-path characters counts, so that a sentence with a colon is not taken
// for a path.
std::string LeadingFieldPath(std::string_view message) {
  size_t colon = message.find(": ");
  if (colon == std::string_view::npos || colon == 0 || colon > 200) return "";
  std::string_view head = message.substr(0, colon);
  for (char c : head) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '[' &&
        c != ']') {
      return "";
    }
  }
  // A path has a dot or an underscore, or is a lower-case word: "count".
  return std::string(head);
}

}  // namespace

ApiErrorReply ToApiError(const absl::Status& status) {
  ApiErrorReply reply;
  reply.http_status = HttpStatusOf(status.code());
  std::string code = absl::StatusCodeToString(status.code());  // "INVALID_ARGUMENT"
  absl::AsciiStrToLower(&code);
  reply.error.set_code(code);
  std::string message(status.message());
  if (message.empty()) message = absl::StrCat(code, " (no detail)");
  reply.error.set_message(message);
  if (auto http = status.GetPayload(absl::string_view(kHttpStatusPayload.data(), kHttpStatusPayload.size()))) {
    // "415 unsupported_media_type", as WithHttpStatus wrote it.
    std::string text(*http);
    size_t space = text.find(' ');
    int http_status = 0;
    if (space != std::string::npos && absl::SimpleAtoi(text.substr(0, space), &http_status) &&
        http_status >= 400 && http_status <= 599) {
      reply.http_status = http_status;
      reply.error.set_code(text.substr(space + 1));
    }
  }
  if (auto field = status.GetPayload(absl::string_view(kFieldPayload.data(), kFieldPayload.size()))) {
    reply.error.set_field(std::string(*field));
  } else if (reply.http_status == 400 || reply.http_status == 404) {
    reply.error.set_field(LeadingFieldPath(message));
  }
  return reply;
}

}  // namespace herald
