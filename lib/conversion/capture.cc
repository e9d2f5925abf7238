// CaptureResponse: validates a response and appends it to interaction history.

#include <algorithm>
#include <cstdlib>

#include "absl/random/random.h"
#include "absl/time/clock.h"
#include "conversion/consent.h"
#include "core/input_check.h"
#include "core/private_file.h"
#include "core/strings.h"
#include "herald/conversion.h"
#include "herald/spelling.h"
#include "herald/store.h"

namespace herald {

namespace {

bool HasControl(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

absl::Status Bad(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(Cat("CaptureResponse: ", field, ": ", why));
}

absl::Status CheckText(std::string_view field, std::string_view value, size_t max = 512) {
  if (value.size() > max) return Bad(field, Cat("longer than ", max, " bytes"));
  if (HasControl(value)) return Bad(field, "contains control characters");
  return absl::OkStatus();
}

bool IdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':';
}

std::string NewInteractionId() {
  thread_local absl::BitGen gen;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  uint64_t a = absl::Uniform<uint64_t>(gen), b = absl::Uniform<uint64_t>(gen);
  for (int i = 0; i < 16; ++i) {
    id[i] = kHex[(a >> (4 * i)) & 15];
    id[16 + i] = kHex[(b >> (4 * i)) & 15];
  }
  return id;
}

}  // namespace

void ConversionEvent::Set(EventState s, std::string_view why, std::string_view text) {
  state = s;
  reason.assign(why);
  detail.assign(text);
}

std::string_view EventStateName(EventState state) {
  switch (state) {
    case EventState::kLive: return "live";
    case EventState::kDelivered: return "delivered";
    case EventState::kDuplicate: return "duplicate";
    case EventState::kInvalid: return "invalid";
    case EventState::kFailed: return "failed";
    case EventState::kTransient: return "transient";
    case EventState::kSkipped: return "skipped";
    case EventState::kNoConsent: return "no_consent";
  }
  return "unknown";
}

v1::Outcome ParseOutcome(std::string_view name, std::string* custom) {
  // The spellings of every enum flag (herald/spelling.h): OUTCOME_ACCEPTED,
  // accepted, Accepted.
  if (auto known = ParseEnum<v1::Outcome>(name);
      known.ok() && *known != v1::OUTCOME_CUSTOM && *known != v1::OUTCOME_UNSPECIFIED) {
    return *known;
  }
  std::string lower;
  for (char c : name) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "accepted" || lower == "accept") return v1::OUTCOME_ACCEPTED;
  if (lower == "rejected" || lower == "reject") return v1::OUTCOME_REJECTED;
  if (lower == "impression") return v1::OUTCOME_IMPRESSION;
  if (lower == "clicked" || lower == "click") return v1::OUTCOME_CLICKED;
  if (custom != nullptr) custom->assign(name);
  return v1::OUTCOME_CUSTOM;
}

std::string ConversionAudienceName(const v1::ConversionAction& action) {
  return Cat(action.issue(), "-", action.group(), "-", action.name(), "-C");
}

namespace {

// The action responded to: issue, group and name, known to the catalog when
// the options list its actions.
absl::Status ValidateActionRef(const v1::ActionRef& a, const CaptureOptions& options) {
  if (a.issue().empty()) return Bad("action.issue", "is required");
  if (a.group().empty()) return Bad("action.group", "is required");
  if (a.name().empty()) return Bad("action.name", "is required");
  for (auto [f, v] : {std::pair<const char*, const std::string*>{"action.issue", &a.issue()},
                      {"action.group", &a.group()}, {"action.name", &a.name()}}) {
    if (absl::Status s = CheckText(f, *v, 128); !s.ok()) return s;
  }
  if (options.actions != nullptr) {
    bool known = false;
    for (const v1::ConversionAction& ca : *options.actions) {
      if (ca.issue() == a.issue() && ca.group() == a.group() && ca.name() == a.name()) known = true;
    }
    if (!known) {
      return absl::NotFoundError(Cat("CaptureResponse: action ", a.issue(), "/", a.group(), "/", a.name(),
                                     " is not in the catalog"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateOutcome(const v1::InteractionRecord& r) {
  switch (r.outcome()) {
    case v1::OUTCOME_ACCEPTED:
    case v1::OUTCOME_REJECTED:
    case v1::OUTCOME_IMPRESSION:
    case v1::OUTCOME_CLICKED:
      break;
    case v1::OUTCOME_CUSTOM:
      if (r.custom_outcome().empty()) return Bad("custom_outcome", "is required for a custom outcome");
      break;
    default:
      return Bad("outcome", "is required (Accepted, Rejected, Impression, Clicked or a custom one)");
  }
  return CheckText("custom_outcome", r.custom_outcome(), 64);
}

// A given time must be after 1970 and not later than `max_future` from now.
absl::Status ValidateTime(const google::protobuf::Timestamp& time, const CaptureOptions& options) {
  if (time.seconds() < 0 || time.nanos() < 0 || time.nanos() > 999999999) {
    return Bad("time", "is not a valid time after 1970");
  }
  absl::Time now = options.clock ? options.clock() : absl::Now();
  absl::Time t = absl::FromUnixSeconds(time.seconds());
  if (t > now + options.max_future) return Bad("time", "is in the future");
  return absl::OkStatus();
}

absl::Status ValidateValue(const v1::Money& m) {
  if (m.minor_units() < 0) return Bad("value", "must not be negative");
  if (m.minor_units() > kMaxMinorUnits) return Bad("value", Cat("must be at most ", kMaxMinorUnits, " minor units"));
  if (!m.currency().empty() || m.minor_units() != 0) {
    const std::string& c = m.currency();
    if (c.size() != 3 || !std::isupper(static_cast<unsigned char>(c[0])) ||
        !std::isupper(static_cast<unsigned char>(c[1])) || !std::isupper(static_cast<unsigned char>(c[2]))) {
      return Bad("value.currency", "must be an ISO 4217 code in upper case (\"USD\")");
    }
  }
  return absl::OkStatus();
}

// Every subject field is plain text; at least one identifies the subject.
absl::Status CheckSubjectText(const v1::Subject& s) {
  struct Field {
    const char* name;
    const std::string* value;
  };
  const Field fields[] = {{"subject.customer_id", &s.customer_id()}, {"subject.email", &s.email()},
                          {"subject.phone", &s.phone()},             {"subject.first_name", &s.first_name()},
                          {"subject.last_name", &s.last_name()},     {"subject.city", &s.city()},
                          {"subject.state", &s.state()},             {"subject.zip", &s.zip()},
                          {"subject.country", &s.country()},         {"subject.date_of_birth", &s.date_of_birth()},
                          {"subject.external_id", &s.external_id()}, {"subject.gclid", &s.gclid()},
                          {"subject.gbraid", &s.gbraid()},           {"subject.wbraid", &s.wbraid()},
                          {"subject.fbc", &s.fbc()},                 {"subject.fbp", &s.fbp()},
                          {"subject.gender", &s.gender()}};
  bool any = false;
  for (const Field& f : fields) {
    if (absl::Status st = CheckText(f.name, *f.value); !st.ok()) return st;
    any = any || !f.value->empty();
  }
  if (!any) return Bad("subject", "needs a customer id or at least one identifier");
  return absl::OkStatus();
}

// The identifiers a destination matches on must look like what they claim to
// be, unless already hashed (SHA-256 hex).
absl::Status CheckSubjectIdentifiers(const v1::Subject& s) {
  if (!s.email().empty() && !IsSha256Hex(s.email())) {
    std::string e = NormalizeEmail(s.email());
    size_t at = e.find('@');
    if (at == std::string::npos || at == 0 || at + 1 >= e.size() || e.find('@', at + 1) != std::string::npos ||
        e.find(' ') != std::string::npos || e.find('.', at) == std::string::npos) {
      return Bad("subject.email", "is not an email address");
    }
  }
  if (!s.phone().empty() && !IsSha256Hex(s.phone())) {
    // A loose check: whether the number is valid depends on the destination's
    // default region, so the export decides (libphonenumber) and counts drops.
    size_t digits = static_cast<size_t>(std::count_if(s.phone().begin(), s.phone().end(),
                                                      [](char c) { return c >= '0' && c <= '9'; }));
    if (digits < 7 || digits > 15) return Bad("subject.phone", "needs 7 to 15 digits");
    for (char c : s.phone()) {
      if (std::isalpha(static_cast<unsigned char>(c))) return Bad("subject.phone", "contains letters");
    }
  }
  if (!s.date_of_birth().empty() && !IsSha256Hex(s.date_of_birth()) &&
      NormalizeDateOfBirth(s.date_of_birth()).empty()) {
    return Bad("subject.date_of_birth", "must be a date YYYY-MM-DD");
  }
  if (!s.country().empty() && !IsSha256Hex(s.country()) && NormalizeCountry(s.country()).empty()) {
    return Bad("subject.country", "must be an ISO 3166-1 alpha-2 code (\"US\")");
  }
  if (!s.gender().empty() && !IsSha256Hex(s.gender()) && NormalizeGender(s.gender()).empty()) {
    return Bad("subject.gender", "must be f or m");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateInteraction(const v1::InteractionRecord& r, const CaptureOptions& options) {
  // Every field is stored, exported and printed as JSON: first, each string
  // must be UTF-8 (the messages below quote some).
  if (absl::Status s = CheckStringsAreUtf8(r, "CaptureResponse"); !s.ok()) return s;
  if (r.sequence() != 0) return Bad("sequence", "is assigned by the store; leave it 0");
  if (!r.interaction_id().empty()) {
    if (r.interaction_id().size() > 128) return Bad("interaction_id", "longer than 128 characters");
    for (char c : r.interaction_id()) {
      if (!IdChar(c)) return Bad("interaction_id", "may hold letters, digits and -_.: only");
    }
  }
  if (absl::Status s = ValidateActionRef(r.action(), options); !s.ok()) return s;
  if (absl::Status s = ValidateOutcome(r); !s.ok()) return s;
  if (absl::Status s = CheckText("channel", r.channel(), 64); !s.ok()) return s;
  if (absl::Status s = CheckText("order_id", r.order_id(), 128); !s.ok()) return s;
  if (r.has_time()) {
    if (absl::Status s = ValidateTime(r.time(), options); !s.ok()) return s;
  }
  if (r.has_value()) {
    if (absl::Status s = ValidateValue(r.value()); !s.ok()) return s;
  }
  if (r.has_consent()) {
    if (absl::Status st = conversion::ValidateConsent(r.consent()); !st.ok()) return st;
  }
  if (absl::Status s = CheckSubjectText(r.subject()); !s.ok()) return s;
  return CheckSubjectIdentifiers(r.subject());
}

absl::StatusOr<v1::InteractionRecord> CaptureResponse(Store& store, v1::InteractionRecord record,
                                                      const CaptureOptions& options) {
  if (absl::Status s = ValidateInteraction(record, options); !s.ok()) return s;
  if (record.interaction_id().empty()) record.set_interaction_id(NewInteractionId());
  if (!record.has_time()) {
    absl::Time now = options.clock ? options.clock() : absl::Now();
    record.mutable_time()->set_seconds(absl::ToUnixSeconds(now));
  }
  auto seq = store.interactions().AppendInteraction(record);
  if (!seq.ok()) return seq.status();
  record.set_sequence(*seq);
  return record;
}

absl::StatusOr<std::string> ReadCredential(std::string_view what, std::string_view env, std::string_view file,
                                           std::string_view base_dir) {
  if (!env.empty()) {
    const char* value = std::getenv(std::string(env).c_str());
    if (value != nullptr && *value != '\0') return std::string(value);
    if (file.empty()) {
      return absl::FailedPreconditionError(Cat(what, ": environment variable ", env, " is not set"));
    }
  }
  if (file.empty()) {
    return absl::InvalidArgumentError(Cat(what, ": give an environment variable or a file"));
  }
  return internal::ReadPrivateFileLine(what, file, base_dir);
}

}  // namespace herald
