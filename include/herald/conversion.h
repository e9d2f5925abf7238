// herald/conversion.h: CaptureResponse and the offline-conversion export to
// ad platforms (Pega's "prepare and sync": PrepareOfflineEventData and the
// OfflineConversionRTTrigger job).
//
// CaptureResponse validates one response (subject, action, outcome, time,
// value, order id) and appends it to interaction history
// (InteractionStore) whole or not at all. An Accepted response of an action
// enabled for offline conversion is a conversion.
//
// A ConversionExporter sends the conversions recorded after a destination's
// watermark to that destination through the "conversion" pipeline
// (herald/families.h), one page of interaction history at a time:
//
//   select       SelectConversions  Accepted outcomes of enabled actions
//   prepare      PrepareEvents      normalize + SHA-256 identifiers by the destination's rules, serialize
//   validate     ValidateEvents     age limits, required fields, formats; invalid events set aside with a reason
//   send         SendEvents         batches within the destination's limits; retries 429/5xx/timeouts with
//                                   backoff and jitter (Retry-After honoured); whole-batch rejections split
//   acknowledge  AcknowledgeEvents  outcomes counted, rejects written, conversion audiences synchronized
//
// The facts the built-ins read and write (ComponentContract, herald/pipeline.h):
//   SelectConversions  writes "events"
//   PrepareEvents      reads "events", writes "prepared" (consent applied,
//                      identifiers hashed, payloads serialized)
//   ValidateEvents     reads "prepared"
//   SendEvents         reads "prepared", writes "outcomes"
//   AcknowledgeEvents  reads "outcomes"
// so a definition without PrepareEvents is refused when the exporter is
// created, before it sends an event unserialized or without its consent
// checked.
//
// The watermark advances, after the page's acknowledge stage, to the highest
// sequence below which every event is finished (delivered, duplicate,
// invalid or permanently failed). An event still failing transiently holds
// the watermark; the next run sends it (and the rest of its page) again,
// and the platforms deduplicate by the stable event id (Meta: event_name +
// event_id) and order id (Google). One exporter per destination runs at a
// time: the exporter holds the lease "conversion-export/<destination>" in the
// WatermarkStore, so servers sharing PostgreSQL never export concurrently.
//
// Destinations are extensions of the "destination" family: "meta" (Meta
// Conversions API), "google_ads" (UploadClickConversions with partial
// failure) and "file" (JSON lines or Google's CSV import template), each with
// its typed config (herald/model/conversion_config.proto). Credentials are
// read from an environment variable or a file and never appear in logs,
// traces, reports or error messages.
//
// Lifetime: a ConversionExporter borrows the Store, Destination and Registry
// of its ExporterOptions; they must outlive it. An ExportSchedule owns its
// thread and stops it in its destructor.
// Thread-safety: CaptureResponse and the identifier functions are reentrant.
// A Destination is used by one exporter run at a time (the exporter
// serializes); a ConversionExporter's RunOnce may be called from any thread:
// runs of one exporter are serialized by a mutex, runs of exporters of the
// same destination (any process) by the lease. IdentifierHasher is
// single-threaded.
#ifndef HERALD_CONVERSION_H_
#define HERALD_CONVERSION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/families.h"
#include "herald/model/campaign.pb.h"
#include "herald/model/conversion_config.pb.h"
#include "herald/model/interaction.pb.h"
#include "herald/model/pipeline.pb.h"
#include "herald/pipeline.h"
#include "herald/registry.h"

namespace herald {

class Store;

// ---------------------------------------------------------------- identifiers

// Normalization before hashing, by each platform's documented rules
// (docs/conversions.md has the table, with the source of every rule): Meta
// Conversions API customer information parameters; Google Ads enhanced
// conversions and Customer Match. Text goes through ICU (Unicode lowercase,
// NFC), phone numbers through libphonenumber, countries and subdivisions are
// checked against ISO 3166-1 (ICU's region list) and ISO 3166-2 (Debian
// iso-codes, compiled in). Each returns "" when nothing usable is left.
// All functions are thread-safe.
//
// Email: trimmed, Unicode-lowercased, NFC; "" when it has no local part or
// no domain. With `gmail_rule` (Google), the dots of the local part of a
// gmail.com or googlemail.com address are removed.
std::string NormalizeEmail(std::string_view email, bool gmail_rule = false);

// How a valid phone number is written before hashing.
enum class PhoneFormat {
  kDigits,  // Meta: E.164 without '+': country code and national number, digits only
  kE164,    // Google: E.164 with '+'
};
// Phone: parsed by libphonenumber with the number's own country code ('+' or
// "00"), else the region `country` (the person's ISO 3166-1 alpha-2 code),
// else `default_region`; national trunk prefixes are dropped ("+44 (0)20
// 7946 0958" -> 442079460958), extensions are dropped. "" when the number
// is not a valid number (PhoneNumberUtil::IsValidNumber) or no region is
// known for a number without a country code. Plain numbers (digits and
// separators) take an exact fast path on libphonenumber's own metadata
// (about 0.2 µs); others are parsed by libphonenumber itself (tens of µs),
// which PhoneNormalizer memoizes.
std::string NormalizePhone(std::string_view phone, PhoneFormat format, std::string_view country = {},
                           std::string_view default_region = {});
// Names (fn, ln): Unicode-lowercased, NFC; whitespace and punctuation
// removed ("O'Brien-Smith" -> "obriensmith", "ZOË" -> "zoë").
std::string NormalizeName(std::string_view name);
// City: as names, and symbols removed too ("St. Louis" -> "stlouis").
std::string NormalizeCity(std::string_view city);
// Country: an ISO 3166-1 alpha-2 code (any case), lowercased; "" otherwise.
std::string NormalizeCountry(std::string_view country);
// State: the ISO 3166-2 subdivision of `country` (an ISO 3166-1 code),
// given as its code ("CA", "us-ca") or its English name ("California"),
// returned as the code's subdivision part lowercased ("ca"); "" when the
// country has no such subdivision. Without a valid country nothing can be
// checked: the text is normalized as a city.
std::string NormalizeState(std::string_view state, std::string_view country);
// Zip: lowercased, spaces and dashes removed; US (or no country): the first
// 5 digits; GB: area, district and sector ("SW1A 1AA" -> "sw1a1").
std::string NormalizeZip(std::string_view zip, std::string_view country = {});
// Date of birth "YYYY-MM-DD" (or "YYYYMMDD") to "YYYYMMDD"; "" when invalid.
std::string NormalizeDateOfBirth(std::string_view date);
// Gender: "f" or "m" ("" otherwise).
std::string NormalizeGender(std::string_view gender);
// External id: trimmed (case kept).
std::string NormalizeExternalId(std::string_view id);

// True when `value` is already a SHA-256 digest: 64 hex digits.
bool IsSha256Hex(std::string_view value);

// Why an identifier that was given was not sent (one bit each in
// HashedIdentity::dropped), counted per run in ExportReport::identifiers_dropped
// under IdentifierDropName(bit).
enum IdentifierDrop : uint32_t {
  kDropEmailInvalid = 1u << 0,        // "email_invalid": no local part or domain
  kDropPhoneInvalid = 1u << 1,        // "phone_invalid": not a valid number (libphonenumber)
  kDropPhoneNoRegion = 1u << 2,       // "phone_no_region": no country code, no country, no default region
  kDropCountryUnknown = 1u << 3,      // "country_unknown": not ISO 3166-1 alpha-2
  kDropStateUnknown = 1u << 4,        // "state_unknown": not an ISO 3166-2 subdivision of the country
  kDropDateOfBirthInvalid = 1u << 5,  // "date_of_birth_invalid"
  kDropGenderUnknown = 1u << 6,       // "gender_unknown": neither f nor m
};
inline constexpr int kIdentifierDropKinds = 7;
// "phone_invalid" for kDropPhoneInvalid ...; "" for anything else.
std::string_view IdentifierDropName(uint32_t drop);

// NormalizePhone with a memo for the numbers the fast path hands to
// libphonenumber (tens of microseconds each), per (input, region, format),
// up to `capacity` entries (then the memo starts over); numbers the fast
// path answers are not memoized (answering is cheaper than a memo miss).
// Single-threaded; one per export run.
class PhoneNormalizer {
 public:
  explicit PhoneNormalizer(size_t capacity = 65536);
  ~PhoneNormalizer();
  PhoneNormalizer(const PhoneNormalizer&) = delete;
  PhoneNormalizer& operator=(const PhoneNormalizer&) = delete;

  // NormalizePhone's result (a view valid until the next call), and in
  // `drop` kDropPhoneInvalid / kDropPhoneNoRegion when it is "".
  std::string_view Normalize(std::string_view phone, PhoneFormat format, std::string_view country,
                             std::string_view default_region, uint32_t* drop);

 private:
  struct Memo;
  std::unique_ptr<Memo> memo_;
};

// SHA-256 in lowercase hex with one reused digest context. A value that is
// already 64 hex digits is returned lowercased, not hashed again. Also holds
// the run's PhoneNormalizer.
class IdentifierHasher {
 public:
  IdentifierHasher();
  ~IdentifierHasher();
  IdentifierHasher(const IdentifierHasher&) = delete;
  IdentifierHasher& operator=(const IdentifierHasher&) = delete;

  // Writes 64 lowercase hex digits to out[0..64).
  void HashTo(std::string_view normalized, char* out);
  std::string Hash(std::string_view normalized);
  // Hash(normalized) unless IsSha256Hex(value) (then the value lowercased).
  std::string HashUnlessHashed(std::string_view value, std::string_view normalized);
  // The same into `out`, reusing its buffer ("" when both are empty).
  void HashUnlessHashedInto(std::string& out, std::string_view value, std::string_view normalized);

  PhoneNormalizer& phones() { return phones_; }

 private:
  void* ctx_;  // EVP_MD_CTX
  void* md_;   // EVP_MD
  PhoneNormalizer phones_;
};

// ---------------------------------------------------------------- capture

struct CaptureOptions {
  // The catalog's actions. When given, the response's action must be one of
  // them (NotFound otherwise); null = any action is recorded.
  const std::vector<v1::ConversionAction>* actions = nullptr;
  std::function<absl::Time()> clock;  // "now" for a missing time; null = absl::Now()
  absl::Duration max_future = absl::Minutes(10);  // later times are refused
};

// Validates `record` and appends it to interaction history. Assigns an
// interaction id (32 hex digits) when empty, the current time when unset.
// InvalidArgument names the first bad field ("subject.email: ..."); nothing
// is written then. Returns the stored record (with its sequence).
absl::StatusOr<v1::InteractionRecord> CaptureResponse(Store& store, v1::InteractionRecord record,
                                                      const CaptureOptions& options = {});

// The checks CaptureResponse makes, without writing.
absl::Status ValidateInteraction(const v1::InteractionRecord& record, const CaptureOptions& options = {});

// Parses an outcome name: "Accepted", "Rejected", "Impression", "Clicked"
// (any case); anything else is a custom outcome (OUTCOME_CUSTOM, the name in
// `custom`).
v1::Outcome ParseOutcome(std::string_view name, std::string* custom);

// The conversion audience of an action: "<Issue>-<Group>-<Action>-C".
std::string ConversionAudienceName(const v1::ConversionAction& action);

// ---------------------------------------------------------------- events

enum class EventState {
  kLive,        // still going through the pipeline
  kDelivered,   // acknowledged by the destination
  kDuplicate,   // the destination already had it: counted as delivered
  kInvalid,     // set aside by validation (reason says why)
  kFailed,      // permanently refused by the destination (detail: its message)
  kTransient,   // failed transiently past the retries: holds the watermark
  kSkipped,     // not a conversion (not accepted, action not enabled)
  kNoConsent,   // the person's consent does not allow this destination (reason says which):
                // not sent, finished (never retried, the watermark moves past it)
};
std::string_view EventStateName(EventState state);

// Normalized and hashed identifiers of one event (64-hex digests or "").
struct HashedIdentity {
  std::string em, ph, fn, ln, ct, st, zp, country, db, ge, external_id;
  uint32_t dropped = 0;  // IdentifierDrop bits: identifiers given but not sent, and why
};

// How one platform normalizes a subject's identifiers before hashing them.
// A plain value, cheap to copy; `default_region` is borrowed: the text it
// views must outlive every PrepareIdentity call given these rules (keep it
// in the destination's config, or a literal).
struct IdentityRules {
  bool email_gmail_rule = false;               // Google: dots of gmail.com local parts removed
  PhoneFormat phone_format = PhoneFormat::kDigits;
  bool contact_only = false;                   // Google: email and phone only (no names, address, ...)
  std::string_view default_region;             // ISO 3166-1 alpha-2 for phones without country code; "" = none
};
// Meta's rules (also the file destination's JSON lines).
inline constexpr IdentityRules kMetaIdentityRules{};
// Google Ads enhanced conversions for leads and Customer Match.
inline constexpr IdentityRules kGoogleIdentityRules{true, PhoneFormat::kE164, true, {}};

// A subject's identifiers normalized by `rules` and hashed (SHA-256, hex)
// into `id`: every field is set ("" when absent or dropped) and id.dropped
// says what was given but not sent, and why. A value that is already 64 hex
// digits is passed through lowercased. What the built-in destinations'
// Prepare does; a destination of a site's own calls it the same way, with
// the hasher Prepare is given, RunHasher(ctx) in a component, or one of its own.
// Thread-safety: as `hasher` (one per thread).
void PrepareIdentity(const v1::Subject& subject, const IdentityRules& rules, HashedIdentity& id,
                     IdentifierHasher& hasher);

// One interaction on its way to a destination.
struct ConversionEvent {
  const v1::InteractionRecord* record = nullptr;  // borrowed from the page
  const v1::ConversionAction* action = nullptr;   // the catalog's action (select stage)
  int64_t sequence = 0;
  std::string event_id;   // stable per interaction: the interaction id
  std::string order_id;   // the record's order id, else the event id
  EventState state = EventState::kLive;
  std::string reason;     // category: "too_old", "missing_identifier", "CLICK_CONVERSION_ALREADY_EXISTS" ...
  std::string detail;     // human text (the platform's message)
  int attempts = 0;       // send attempts in this run
  HashedIdentity identity;
  std::string payload;    // the destination's serialized form of the event (JSON object or CSV row)

  void Set(EventState s, std::string_view why, std::string_view text = {});
};

// ---------------------------------------------------------------- destinations

// ---------------------------------------------------------------- consent

// A destination's ConsentPolicy with its type's defaults resolved
// (docs/conversions.md, "Consent").
struct ConsentRequirements {
  v1::ConsentRequirement ad_user_data = v1::CONSENT_REQUIREMENT_NOT_DENIED;
  v1::ConsentRequirement audience_ad_personalization = v1::CONSENT_REQUIREMENT_NOT_DENIED;
  bool limited_data_use_joins_audiences = false;
};

// `policy` with every CONSENT_REQUIREMENT_DEFAULT replaced by `defaults`.
ConsentRequirements ResolveConsentPolicy(const v1::ConsentPolicy& policy, const ConsentRequirements& defaults);

// Whether `status` meets `requirement` (DEFAULT is taken as NOT_DENIED).
bool ConsentMeets(v1::ConsentRequirement requirement, v1::ConsentStatus status);

// Why `consent` keeps a conversion from a destination that requires
// `required`: "ad_user_data_denied" or "ad_user_data_not_granted"; "" when
// it may be sent.
std::string_view ConsentRefusal(const v1::Consent& consent, const ConsentRequirements& required);

// Whether a converter with `consent` may join a conversion audience.
bool ConsentAllowsAudience(const v1::Consent& consent, const ConsentRequirements& required);

// Whether `consent` asks Meta for Limited Data Use ("LDU" among its options).
bool HasLimitedDataUse(const v1::Consent& consent);

// What a destination accepts.
struct DestinationLimits {
  int max_batch_events = 1000;             // per request
  absl::Duration max_age = absl::Hours(24 * 7);  // older events are invalid
};

// How a batch fared. Only an answer that says which events were refused
// may fail events: anything the destination cannot read as such (a
// redirect, 408, a cut or non-JSON 200, a reset, a hang, an unlocated error)
// is kRetryable, so the batch stays pending and holds the watermark.
enum class BatchOutcome {
  kAccepted,       // per-event states were set (delivered / duplicate / failed / transient)
  kRetryable,      // nothing definite (429, 5xx, 3xx, 408, unreadable answers, transport errors): retry
  kRejected,       // a definite validation refusal of the batch as a whole (Meta's invalid
                   // parameter, a located Google error): split; a single event is failed
  kTooLarge,       // 413: split; a single event too large is retried, never failed
  kFatal,          // authentication, configuration: stop the run (events stay pending)
};

struct BatchResult {
  BatchOutcome outcome = BatchOutcome::kAccepted;
  int http_status = 0;
  absl::Duration retry_after = absl::ZeroDuration();  // from Retry-After; zero = none
  std::string message;     // the platform's message (never credentials)
};

struct AudienceMember {
  std::string em, ph;  // hashed (64 hex) or ""
  // The converter's captured consent (Google Customer Match sends it per member).
  v1::ConsentStatus ad_user_data = v1::CONSENT_STATUS_UNSPECIFIED;
  v1::ConsentStatus ad_personalization = v1::CONSENT_STATUS_UNSPECIFIED;
};

// A conversion destination: serializes events in its own format, sends
// batches and reports per-event outcomes. Register factories in the
// "destination" family (ExtensionTraits<Destination>).
class Destination : public Extension {
 public:
  virtual const DestinationLimits& limits() const = 0;
  // What consent a person needs to be exported here (its config's
  // ConsentPolicy, defaults resolved). The prepare stage finishes events of
  // people without it as kNoConsent before Prepare is called.
  virtual ConsentRequirements consent() const { return ConsentRequirements{}; }
  // Normalizes and hashes the event's identifiers by this destination's
  // rules into event.identity and serializes event.payload. May mark the
  // event invalid (missing required data it cannot serialize without).
  virtual void Prepare(ConversionEvent& event, IdentifierHasher& hasher) const = 0;
  // Destination-specific validation (required fields, formats); `now` is the
  // run's clock. Marks invalid events with Set(kInvalid, reason, text).
  virtual void Validate(ConversionEvent& event, absl::Time now) const = 0;
  // Sends the events (all live, prepared, at most limits().max_batch_events).
  // On kAccepted, sets each event's state; otherwise leaves them live.
  virtual BatchResult SendBatch(std::span<ConversionEvent* const> events) = 0;
  // Adds members to the audience named `audience` (created when missing).
  // Adding a present member is harmless. Unimplemented = no audiences.
  // OK only once the platform has processed the members (google_ads polls
  // its offline user data job until SUCCESS); an error fails the page, which
  // is then sent again next run.
  virtual absl::Status AddAudienceMembers(std::string_view audience,
                                          std::span<const AudienceMember> members) {
    return absl::UnimplementedError("this destination has no audiences");
  }
  // "meta dataset 123 at https://graph.facebook.com/v21.0" (no credentials).
  virtual std::string Describe() const = 0;
};

template <>
struct ExtensionTraits<Destination> {
  static constexpr std::string_view kFamily = "destination";
};

// ---------------------------------------------------------------- the pipeline

class ExportRun;  // the run's state (lib/conversion); components reach it through the context

// The conversion family's context: one page of interaction history for one destination.
struct ExportContext : PipelineContext {
  ExportRun* run = nullptr;
  Destination* destination = nullptr;
  std::vector<v1::InteractionRecord> records;  // the page, sequence order
  std::vector<ConversionEvent> events;         // one per selected record (select stage)
  absl::Time now;                              // the run's clock
  bool stop = false;                           // set by a component: end the run after this page
  std::string stop_reason;
};

template <>
struct FamilyOf<ExportContext> {
  static constexpr const FamilyInfo& kInfo = kConversionFamily;
};

using ConversionComponent = Component<ExportContext>;

// The run's IdentifierHasher (its digest context and phone cache, reused
// across the run's pages), for a component that hashes identifiers itself;
// null when `ctx` is not in a run (ctx.run unset). Valid while the run lasts;
// used by the run's thread only.
IdentifierHasher* RunHasher(ExportContext& ctx);

// The built-in pipeline (also pipelines/conversion.textproto).
const v1::PipelineDefinition& DefaultConversionPipeline();

// Registers the conversion components and the "meta", "google_ads" and
// "file" destinations. Idempotent.
void RegisterConversionComponents(Registry* registry);

// ---------------------------------------------------------------- the export job

struct ExportReport {
  std::string destination;
  std::string state;             // "completed", "pending" (transient failures hold the watermark), "busy", "stopped"
  int64_t watermark_before = 0;
  int64_t watermark_after = 0;
  int64_t interactions_read = 0;
  int64_t conversions = 0;       // selected
  int64_t delivered = 0;
  int64_t duplicates = 0;
  int64_t invalid = 0;
  int64_t failed = 0;
  int64_t transient = 0;
  // Conversions not sent because the person's consent does not allow this
  // destination (finished: never retried, not lost), per reason
  // ("ad_user_data_denied": 2, "ad_user_data_not_granted": 5).
  int64_t no_consent = 0;
  std::map<std::string, int64_t> no_consent_by_reason;
  // Converters delivered but kept out of the conversion audience by their
  // consent (ad_personalization, Limited Data Use).
  int64_t audience_no_consent = 0;
  int64_t requests = 0;          // HTTP requests / file writes
  int64_t retries = 0;
  int64_t splits = 0;            // whole-batch rejections split
  int64_t audience_members = 0;
  std::map<std::string, int64_t> invalid_by_reason;
  std::map<std::string, int64_t> failed_by_reason;
  // Identifiers given but not sent because normalization refused them, per
  // IdentifierDropName ("phone_invalid": 3); counted once per event prepared.
  std::map<std::string, int64_t> identifiers_dropped;
  std::vector<std::string> rejects;  // "event_id: reason: detail", first 100
  std::string stop_reason;
  std::string lease_taken_over_from;  // a dead local process's lease this run took over at once
  absl::Duration duration;
  std::string trace;             // ExporterOptions::trace: the first page's trace

  // True when conversions are pending after transient faults and none was
  // delivered (or found duplicate): the platform or the way to it is down.
  // `herald export --once` exits non-zero then.
  bool DeliveredNothingForFaults() const { return transient > 0 && delivered == 0 && duplicates == 0; }

  std::string ToText() const;
  std::string ToJson() const;
};

struct ExporterOptions {
  const Registry* registry = nullptr;   // components; required
  Store* store = nullptr;               // interaction history and watermarks; required
  Destination* destination = nullptr;   // required
  std::string destination_name;         // watermark and lease key; required
  std::vector<v1::ConversionAction> actions;  // the catalog's actions (defaults applied)
  const v1::PipelineDefinition* pipeline = nullptr;  // null = DefaultConversionPipeline()
  int page_size = 1000;                 // interactions read per page
  std::string owner;                    // lease owner; empty = "<host>:<pid>/<8 hex>"
  absl::Duration lease_ttl = absl::Minutes(5);  // renewed per page
  int64_t max_pages = 0;                // 0 = until the end of history
  bool trace = false;
  std::function<absl::Time()> clock;    // null = absl::Now()
  std::function<void(absl::Duration)> sleep;  // backoff waits; null = absl::SleepFor
  // Called on the exporting thread after each page with the interactions read
  // so far in this run and the interactions that were after the watermark
  // when the run started (0 when the store cannot count them:
  // InteractionStore::CountInteractions); the CLI's progress line. Null = none.
  std::function<void(int64_t interactions_read, int64_t interactions_total)> progress;
};

class ConversionExporter {
 public:
  static absl::StatusOr<std::unique_ptr<ConversionExporter>> Create(ExporterOptions options);
  ~ConversionExporter();

  // One run: takes the lease (state "busy" when another live exporter holds
  // it; a lease held by a process of this host that is gone is taken over at
  // once, not after lease_ttl), exports every page after the watermark,
  // releases the lease.
  absl::StatusOr<ExportReport> RunOnce();

  const ExporterOptions& options() const { return options_; }

 private:
  struct Runner;  // lib/conversion/exporter.cc: the pipeline, and the lock that serializes runs
  explicit ConversionExporter(ExporterOptions options);
  ExporterOptions options_;
  std::unique_ptr<Runner> runner_;
};

// Runs an exporter every interval on its own thread (the
// OfflineConversionRTTrigger). Off until Start(); Stop() (or the destructor)
// waits for the run in progress.
class ExportSchedule {
 public:
  explicit ExportSchedule(ConversionExporter* exporter,
                          absl::Duration interval = absl::Hours(1));
  ~ExportSchedule();
  void Start();
  void Stop();
  // Called after each run (on the schedule's thread).
  void OnReport(std::function<void(const absl::StatusOr<ExportReport>&)> fn) { on_report_ = std::move(fn); }
  int64_t runs() const { return runs_.load(); }

 private:
  struct Thread;  // lib/conversion/exporter.cc: the thread and its stop signal
  ConversionExporter* exporter_;
  absl::Duration interval_;
  std::function<void(const absl::StatusOr<ExportReport>&)> on_report_;
  std::atomic<int64_t> runs_{0};
  std::unique_ptr<Thread> thread_;
};

// Creates the destination of an ExportJobConfig through `registry`.
absl::StatusOr<std::unique_ptr<Destination>> CreateDestination(const v1::ExportJobConfig& job,
                                                               const CreateContext& context);

// Reads a credential: the environment variable `env` when set and not empty,
// else the first line of `file` (relative to base_dir). The file must be a
// regular file that neither its group nor others may access (mode 0600 or
// 0400): PermissionDenied otherwise. The error names the variable or file,
// never the value.
absl::StatusOr<std::string> ReadCredential(std::string_view what, std::string_view env,
                                           std::string_view file, std::string_view base_dir = {});

}  // namespace herald

#endif  // HERALD_CONVERSION_H_
