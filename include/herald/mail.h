// herald/mail.h: DirectMailer, sending a direct-mail campaign item to its
// recipient list through a pipeline that third parties can extend.
//
// A MailJob sends one DirectMail item (herald.v1.DirectMail) to its recipient
// list. Recipients are loaded once (a CSV file with a header row, a table in
// the job's store (RecipientTableStore), or a registered "recipient_source"),
// keyed by their normalized address, and
// written to the job's ledger in the Store (MailLedgerStore). Workers then
// claim batches of pending recipients and run each batch through the "mail"
// pipeline (herald/families.h):
//
//   throttle     Throttle            honours messages per hour (0 = unlimited)
//   preprocess   ValidateRecipient   invalid addresses / header-unsafe data are skipped, reported
//   filter       OptOutFilter        site-level and item-level opt-out lists (test sends bypass it)
//   compose      FetchMessageBody    URL sources: one fetch per recipient with its id
//                ComposeMessage      RFC 5322 / MIME (text, MIME alternative, MHTML), per-recipient charset
//   send         SendMessage         the job's Transport; 4xx retried with backoff, 5xx permanent
//   postprocess  RecordOutcome       ledger update, report counters, error-percentage abort
//
// Unlike the reference's one-recipient pipeline, a MailContext carries a
// batch of recipients (MailItem) so that transports can send in parallel;
// a component handles every item whose state says it is still live.
// The facts the built-ins read and write (ComponentContract, herald/pipeline.h):
//   FetchMessageBody    writes "bodies"
//   ComposeMessage      writes "messages" (it uses "bodies" for URL sources
//                       only, so a pipeline without FetchMessageBody is valid)
//   SendMessage         reads "messages", writes "outcomes"
//   RecordOutcome       reads "outcomes"
// Throttle, ValidateRecipient and OptOutFilter declare that they read and
// write none: they work on the batch as the job hands it over (a component
// that declares no contract at all may have written anything, and turns the
// check off for the components after it). A definition that drops
// ComposeMessage but keeps SendMessage is refused when the job is created,
// not after it has claimed its first batch.
//
// Ledger order (docs/mail.md): ClaimPending marks a batch kSending durably,
// with its owner (this instance's worker id) and time, the batch is composed
// and sent, then MarkRecipients records kSent / kFailed / kSkipped. A job
// killed at any moment and resumed re-sends only recipients still in
// kSending whose claim is stale (older than MailerOptions::claim_timeout) or
// whose owner the operator names (requeue_claims_of): at most
// MailerOptions::batch_size times MailerOptions::workers recipients per
// killed process may receive a second copy; nobody else does, and nobody is
// skipped. Any process of a shared job may recover: live claims are fresh.
//
// Unsubscribe: every campaign message carries List-Unsubscribe (mailto and
// https, each with a per-recipient token) and List-Unsubscribe-Post (RFC 8058).
// A token is an HMAC-SHA-256 signature over (item id, address): it cannot be
// guessed or forged without the site's secret, and UnsubscribeTokens::Verify
// turns it back into the opt-out it stands for.
//
// Lifetime: a MailJob borrows the Store, Transport and Registry given in
// MailerOptions; they must outlive it. Transports and recipient sources are
// owned by whoever created them.
// Thread-safety: MailJob::Run runs on the calling thread (and the workers it
// starts); Pause/Stop/Progress may be called from any thread. Transport::Send
// must be safe to call concurrently. MessageComposer is single-threaded (one
// per thread). OptOutList and UnsubscribeTokens are thread-safe.
#ifndef HERALD_MAIL_H_
#define HERALD_MAIL_H_

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
#include "herald/model/catalog.pb.h"
#include "herald/model/pipeline.pb.h"
#include "herald/pipeline.h"
#include "herald/registry.h"

namespace herald {

class Store;
class MailJobRuntime;

// ---------------------------------------------------------------- addresses

// An address as the ledger and opt-out lists compare it: surrounding white
// space trimmed, an enclosing "<...>" removed, the domain lowercased (the
// local part keeps its case, RFC 5321 2.4).
std::string NormalizeAddress(std::string_view address);

// OK when `address` (normalized) is a plain ASCII addr-spec we can send to:
// one '@', a dot-atom local part of at most 64 octets, a domain of LDH
// labels, at most `max_length` octets, no white space or control characters.
// InvalidArgument names what is wrong.
absl::Status ValidateAddress(std::string_view address, size_t max_length = 254);

// A set of opted-out addresses, optionally backed by a file (one address per
// line; blank lines and lines starting with '#' ignored). Add() appends to
// the file (and fsyncs) so that an opt-out survives a restart.
class OptOutList {
 public:
  OptOutList();  // empty, in memory only
  ~OptOutList();
  // Loads `path`; a missing file is an empty list that Add() will create.
  static absl::StatusOr<std::unique_ptr<OptOutList>> Open(const std::string& path);

  bool Contains(std::string_view address) const;  // compares NormalizeAddress() forms
  absl::Status Add(std::string_view address);     // idempotent
  size_t size() const;
  const std::string& path() const { return path_; }

 private:
  struct Addresses;  // lib/mail/recipients.cc: the set and its lock
  std::string path_;
  std::unique_ptr<Addresses> addresses_;
};

// ---------------------------------------------------------------- unsubscribe tokens

struct UnsubscribeRequest {
  std::string item_id;  // the direct-mail item the message belonged to
  std::string address;  // normalized
};

// Issues and verifies the per-recipient tokens of List-Unsubscribe. A token is
// base64url(item_id "\n" address) "." base64url(HMAC-SHA-256(secret, that)[0..16]):
// unguessable without `secret`, and self-describing so that verifying needs no
// database. Thread-safe.
class UnsubscribeTokens {
 public:
  // `secret` should be at least 16 random bytes; the site keeps it stable.
  explicit UnsubscribeTokens(std::string secret) : secret_(std::move(secret)) {}
  std::string Issue(std::string_view item_id, std::string_view address) const;
  // PermissionDenied for a forged or damaged token, InvalidArgument for garbage.
  absl::StatusOr<UnsubscribeRequest> Verify(std::string_view token) const;

 private:
  std::string secret_;
};

// The one-click unsubscribe API (RFC 8058): verifies `token` and adds its
// address to `item_list` (the item-level opt-out list of the token's item).
// Returns what was opted out. Idempotent.
absl::StatusOr<UnsubscribeRequest> ApplyUnsubscribe(const UnsubscribeTokens& tokens,
                                                    std::string_view token, OptOutList& item_list);

// ---------------------------------------------------------------- recipients

// A recipient list: a header row and rows of values.
struct RecipientTable {
  std::vector<std::string> columns;            // header names, as given
  std::vector<std::vector<std::string>> rows;  // each row has columns.size() values
  int email_column = -1;                       // index of the address column (required)
  int id_column = -1;                          // index of the id column; -1 = the address is the id
  std::vector<int> lines;                      // ParseRecipientCsv: the line each row starts on
  int ColumnIndex(std::string_view name) const;  // -1 when absent
};

// Parses CSV text (RFC 4180: quoted fields, "" escapes, CRLF or LF, a header
// row). `email_column` must exist; errors name `source` and the line. An
// empty `email_column` reads the table without choosing its address column
// (email_column and id_column stay -1): the List Manager's preview.
absl::StatusOr<RecipientTable> ParseRecipientCsv(std::string_view text, std::string_view source,
                                                 std::string_view email_column = "email",
                                                 std::string_view id_column = "id",
                                                 char delimiter = ',');

// A List Manager recipient list (herald/store.h MailListStore; DirectMail
// recipients.store_list) as a recipient table, read page by page: the
// column "email" is the address, "id" the id when present. NotFound naming
// the list, FailedPrecondition for an opt-out list, Unimplemented for a
// store without lists.
absl::StatusOr<RecipientTable> LoadStoreRecipientList(Store& store, std::string_view name);

// A List Manager opt-out list (DirectMail opt_out_store_list, Catalog
// site_opt_out_store_list), in memory: Add() on it does not write back
// (MailListStore::AddOptOuts does). NotFound naming the list,
// FailedPrecondition for a recipient list.
absl::StatusOr<std::unique_ptr<OptOutList>> LoadStoreOptOutList(Store& store, std::string_view name);

// A source of recipients for the "recipient_source" family (the DirectMail
// `recipients.plugin` names one). Load is called once per job run.
class RecipientSource : public Extension {
 public:
  virtual absl::StatusOr<RecipientTable> Load() = 0;
};

template <>
struct ExtensionTraits<RecipientSource> {
  static constexpr std::string_view kFamily = "recipient_source";
};

// ---------------------------------------------------------------- transports

// One message ready to go: envelope and RFC 5322 bytes (CRLF line endings).
struct OutgoingMessage {
  std::string envelope_from;  // MAIL FROM address (bare addr-spec)
  std::string recipient;      // RCPT TO address (bare addr-spec)
  std::string data;           // the whole message
};

enum class SendOutcome {
  kSent,             // accepted by the next hop
  kTemporary,        // 4xx or a connection problem: may be retried
  kPermanent,        // 5xx: recorded as a permanent failure
  kInvalidAddress,   // the recipient address was refused as malformed (501, 553, ...)
};

struct SendResult {
  SendOutcome outcome = SendOutcome::kSent;
  int code = 0;          // SMTP reply code when there was one
  std::string detail;    // server text or error; for kSent, a transport id when known
};

// Delivers messages: SMTP ("smtp"), a drop directory / Maildir ("maildir"),
// nothing ("null"), or a third party's. Send() returns one result per message
// in order and must be safe to call from several threads at once; it may send
// the messages of one call in parallel.
class Transport : public Extension {
 public:
  virtual std::vector<SendResult> Send(std::span<const OutgoingMessage> messages) = 0;
  // "smtp://127.0.0.1:2525 (8 connections)": for reports.
  virtual std::string Describe() const = 0;
};

template <>
struct ExtensionTraits<Transport> {
  static constexpr std::string_view kFamily = "transport";
};

// ---------------------------------------------------------------- MIME composing

// An attachment read and encoded once per job: its whole MIME part (headers,
// blank line, base64 body) is reused by every message.
struct PreparedAttachment {
  std::string content_id;  // non-empty: an inline (MHTML) part referenced as cid:...
  std::string part;        // the encoded MIME part, CRLF line endings, ends with CRLF
};

// Reads `attachment.path` (relative to `base_dir`) and encodes it: base64 in
// 76-character lines, Content-Type guessed from the name when empty, the file
// name in RFC 2231 form when it is not ASCII. The file must resolve
// (symlinks included) inside `base_dir` (the current directory when empty)
// or one of `allowed_dirs`: PermissionDenied otherwise, so that a catalog
// cannot mail out /etc/shadow or ~/.ssh. The file name shown to recipients
// (`filename`, else the path's last component) is sanitized: no path, no
// control characters or bidirectional overrides, no leading dot.
absl::StatusOr<PreparedAttachment> PrepareAttachment(const v1::Attachment& attachment,
                                                     const std::string& base_dir,
                                                     std::span<const std::string> allowed_dirs = {});

// What one message says. Strings are UTF-8 and borrowed for the Compose call.
struct MessageContent {
  std::string_view from;          // "Display Name <addr@domain>" or a bare address
  std::string_view reply_to;      // optional, same forms
  std::string_view to;            // bare address
  std::string_view to_name;       // optional display name
  std::string_view subject;
  std::string_view text;          // empty = no text/plain part
  std::string_view html;          // empty = no text/html part
  v1::MailFormat format = v1::MAIL_FORMAT_MIME;
  std::string_view charset;       // body charset (iconv name); empty = "utf-8"
  std::string_view list_unsubscribe;  // the List-Unsubscribe value; empty = none
  std::span<const std::string> extra_headers;       // "Name: value", already validated and folded
  std::span<const PreparedAttachment> attachments;  // inline (content_id) and regular
};

// Builds RFC 5322 / MIME messages fast: Date (RFC 5322 form), Message-ID
// with a domain, From/To/Reply-To/Subject with RFC 2047 encoded words (UTF-8)
// when not ASCII or too long to fold otherwise, every header line within 78
// columns (except an address or List-Unsubscribe URI longer than that) and
// never over 998 (InvalidArgument instead); `from` / `reply_to` are parsed as
// RFC 5322 mailboxes (quoted display names unescaped), bodies in quoted-printable (soft breaks at
// 76) converted to the recipient's charset with iconv (UTF-8 when the text
// cannot be represented), CRLF line endings, boundaries containing "=_" that
// neither quoted-printable nor base64 output can contain. Header values that
// contain CR, LF or NUL are refused (InvalidArgument), never emitted.
// One composer per thread.
class MessageComposer {
 public:
  explicit MessageComposer(std::string message_id_domain = "localhost");
  ~MessageComposer();
  MessageComposer(const MessageComposer&) = delete;
  MessageComposer& operator=(const MessageComposer&) = delete;

  // Appends the message to `out` (cleared first). The Message-ID it used is
  // available from last_message_id().
  absl::Status Compose(const MessageContent& content, std::string& out);
  std::string_view last_message_id() const { return last_message_id_; }
  // The charset the last message's bodies were written in ("utf-8" after a
  // fallback).
  std::string_view last_charset() const { return last_charset_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string last_message_id_;
  std::string last_charset_;
};

// ---------------------------------------------------------------- the pipeline

enum class MailItemState {
  kLive,     // still going through the pipeline
  kSent,
  kFailed,   // permanent failure, or temporary ones past the retries
  kSkipped,  // opted out, invalid address or data, filtered by a component
};

// One recipient of the batch in a MailContext.
struct MailItem {
  uint32_t row = 0;             // index into the job's RecipientTable rows
  std::string address;          // normalized address, the ledger key
  MailItemState state = MailItemState::kLive;
  std::string reason;           // failure / skip category: "opted_out", "invalid_address", "5xx", ...
  std::string detail;           // human text (server reply, error)
  int attempts = 0;             // transport attempts in this run
  std::string fetched_body;     // FetchMessageBody's result (URL sources)
  bool fetched_is_html = false;
  OutgoingMessage message;      // ComposeMessage's result

  void Skip(std::string_view why, std::string_view text = {});
  void Fail(std::string_view why, std::string_view text = {});
};

// The mail family's context: one batch of recipients of one job.
struct MailContext : PipelineContext {
  MailJobRuntime* job = nullptr;  // job-wide state: spec, table, opt-out, transport, report
  std::vector<MailItem> items;
  bool test_send = false;         // test sends bypass opt-out and the ledger
  void* scratch = nullptr;        // the runner's per-worker composer and buffers (built-ins only)

  // The value of column `name` for `item` ("" when absent).
  std::string_view Field(const MailItem& item, std::string_view name) const;
};

template <>
struct FamilyOf<MailContext> {
  static constexpr const FamilyInfo& kInfo = kMailFamily;
};

using MailComponent = Component<MailContext>;

// The built-in pipeline (also pipelines/mail.textproto).
const v1::PipelineDefinition& DefaultMailPipeline();

// Registers the built-in mail components, the "smtp", "maildir" and "null"
// transports and the "csv" recipient source. Idempotent.
void RegisterMailComponents(Registry* registry);

// ---------------------------------------------------------------- jobs

// What a job sends. Paths resolve against `base_dir` (the catalog's folder).
struct MailJobSpec {
  std::string job_id;                 // ledger key; empty = item_id
  std::string item_id;                // the campaign item (unsubscribe tokens name it)
  v1::DirectMail mail;                // the item's settings
  std::string base_dir;               // relative paths in `mail` resolve against it
  std::vector<std::string> allowed_dirs;  // attachments and the message file are read only from
                                      // inside base_dir (symlinks resolved) and these folders
  std::string site_opt_out_list;      // Catalog.site_opt_out_list (a file); empty = none
  std::string site_opt_out_store_list;  // Catalog.site_opt_out_store_list (a List Manager
                                      // list in the job's store); empty = none
  std::vector<std::string> test_to;   // non-empty: a test send to these addresses, with the
                                      // first recipient's data; no opt-out, no ledger
};

struct MailProgress {
  int64_t total = 0;       // recipients in the job
  int64_t done = 0;        // sent + failed + skipped so far (all runs)
  int64_t sent_this_run = 0;
  absl::Duration elapsed;
};

struct MailerOptions {
  const Registry* registry = nullptr;   // components, recipient sources; required
  Store* store = nullptr;               // the ledger; required (NewMemoryStore() for dry runs)
  Transport* transport = nullptr;       // required
  const v1::PipelineDefinition* pipeline = nullptr;  // null = DefaultMailPipeline()
  int workers = 1;                      // threads claiming batches
  int batch_size = 32;                  // recipients claimed at once: the in-flight bound per worker
  std::string worker_id;                // claim owner base; empty = "<host>:<pid>". Each MailJob
                                        // claims as "<worker_id>/<8 random hex>" (unique per
                                        // instance; threads add "/<n>"): MailReport::worker_id
  std::string unsubscribe_secret;       // HMAC key of unsubscribe tokens; empty = a random one (tokens die with the run)
  bool recover_in_flight = true;        // requeue claims of dead runs (below); false = never
  absl::Duration claim_timeout = absl::Minutes(15);  // a kSending claim older than this is
                                        // presumed dead and requeued (at start, and when nothing
                                        // is pending); keep it well above the longest batch
                                        // (retries x timeouts): a live claim older than it may
                                        // be sent twice
  std::vector<std::string> requeue_claims_of;  // at start, also requeue every claim of these
                                        // owners whatever its age: worker ids of runs the
                                        // operator knows are dead (a worker id matches its
                                        // instances "<id>/...")
  absl::Duration store_opt_out_refresh = absl::Seconds(30);  // List Manager opt-out lists are read
                                        // again this often while the job runs (at most; between batches)
  bool trace = false;                   // keep a pipeline trace of the first batch in the report
  absl::Duration progress_interval = absl::Milliseconds(200);
  std::function<void(const MailProgress&)> progress;  // called from the runner thread
};

// The job report (docs/mail.md).
struct MailReport {
  std::string job_id;
  std::string state;                    // created, running, paused, stopped, completed, aborted
  int64_t recipients = 0;               // rows in the list (duplicates counted once)
  int64_t sent = 0;                     // all runs (ledger)
  int64_t failed = 0;                   // all runs (ledger)
  int64_t skipped = 0;                  // all runs (ledger): opted out + invalid + filtered
  int64_t pending = 0;                  // not yet sent (ledger pending + in flight)
  int64_t opted_out = 0;                // of the list, on an opt-out list now
  int64_t invalid_addresses = 0;        // of the list
  std::map<std::string, int64_t> failed_by_reason;   // this run: "5xx", "4xx_retries_exhausted", ...
  std::map<std::string, int64_t> skipped_by_reason;  // this run
  int64_t sent_this_run = 0;
  int64_t requeued_in_flight = 0;       // recipients found kSending at start and sent again
  absl::Duration duration;              // this run
  double rate = 0;                      // messages sent per second this run
  std::string transport;
  std::string worker_id;                // this run's claim owner (for requeue_claims_of)
  std::string trace;                    // MailerOptions::trace: the first batch's trace

  std::string ToText() const;
  std::string ToJson() const;
};

// Job states (the reference's): stored with the ledger.
inline constexpr std::string_view kJobCreated = "created";
inline constexpr std::string_view kJobRunning = "running";
inline constexpr std::string_view kJobPaused = "paused";
inline constexpr std::string_view kJobStopped = "stopped";
inline constexpr std::string_view kJobCompleted = "completed";
inline constexpr std::string_view kJobAborted = "aborted";

class MailJob {
 public:
  // Loads the recipients, opt-out lists, message source and attachments,
  // builds the pipeline and adds the recipients to the ledger (idempotent: a
  // job that exists is resumed). Errors name the file or setting.
  static absl::StatusOr<std::unique_ptr<MailJob>> Create(MailJobSpec spec, MailerOptions options);
  ~MailJob();

  // Sends until no recipient is pending, or until paused, stopped or aborted
  // (by this process, or by another through the stored job state). Resuming
  // is calling Run() again, here or in a new process. Returns the report.
  absl::StatusOr<MailReport> Run();

  // Ask a running job to stop after the batches in flight (any thread). A
  // call made before Run() starts (or between runs) makes the next Run()
  // stop before sending to anyone.
  void Pause();
  void Stop();

  const std::string& job_id() const;
  MailJobRuntime& runtime() { return *runtime_; }

 private:
  explicit MailJob(std::unique_ptr<MailJobRuntime> runtime);
  std::unique_ptr<MailJobRuntime> runtime_;
};

// Which state changes make sense (docs/mail.md). Rows: the job's state;
// columns: the state asked for ("-" = refused):
//
//   from \ to   created  running  paused  stopped  completed  aborted
//   created     yes      yes      -       yes      -          -
//   running     -        yes      yes     yes      yes        yes
//   paused      -        yes      yes     yes      -          -
//   stopped     -        yes      -       yes      -          -
//   completed   -        yes      -       -        yes        -
//   aborted     -        yes      -       -        -          yes
//
// Running (MailJob::Run) resumes any job; a completed one sends only to
// recipients added since. The same state again is a no-op. Pausing a job
// that is not running, or stopping a finished one, is refused. OK, or
// FailedPrecondition naming the job, its state and the action refused;
// InvalidArgument for an unknown state.
absl::Status CheckMailJobTransition(std::string_view job_id, std::string_view from, std::string_view to);

// Pauses or stops a job (other processes running it stop after their current
// batch): `state` is "paused" or "stopped" (the others are the job's own to
// set: InvalidArgument), checked against the job's stored state with
// CheckMailJobTransition. NotFound for an unknown job. The check and the
// write are two store calls: a job that completes in between may be marked
// paused, which running it again resolves.
absl::Status SetMailJobState(Store& store, std::string_view job_id, std::string_view state);

// Who a direct-mail item would be sent to now, counted as its job counts
// them: the recipients (distinct by NormalizeAddress), those whose address
// is not valid, and those on the site or the item opt-out lists (files and
// List Manager lists).
struct MailAudience {
  int64_t rows = 0;              // rows of the recipient list
  int64_t recipients = 0;        // distinct valid addresses
  int64_t invalid_addresses = 0; // rows whose address ValidateAddress refuses
  int64_t duplicates = 0;        // rows repeating an address seen before
  int64_t opted_out_site = 0;    // recipients on the site-level list(s)
  int64_t opted_out_item = 0;    // recipients on the item-level list(s)
  int64_t opted_out = 0;         // recipients on either
  int64_t will_receive = 0;      // recipients - opted_out
};

// Counts `spec`'s audience with the recipient source and opt-out lists a
// MailJob would load (options.registry and options.store are needed; the
// transport is not). Errors name the item and the list.
absl::StatusOr<MailAudience> CountMailAudience(const MailJobSpec& spec, const MailerOptions& options);

// The direct-mail item `name_or_id` of a catalog, with its campaign; NotFound
// lists the direct-mail items.
absl::StatusOr<const v1::CampaignItem*> FindDirectMailItem(const v1::Catalog& catalog,
                                                           std::string_view name_or_id);

}  // namespace herald

#endif  // HERALD_MAIL_H_
