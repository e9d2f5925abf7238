// Internal: the state of one running mail job, shared by its workers and the
// built-in components (MailContext::job points here).
#ifndef HERALD_LIB_MAIL_RUNTIME_H_
#define HERALD_LIB_MAIL_RUNTIME_H_

#include <atomic>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "herald/mail.h"
#include "herald/store.h"
#include "core/string_map.h"

namespace herald {

namespace mail {

// A {{field}} template compiled against a recipient table's columns.
class CompiledTemplate {
 public:
  enum class Special { kNone, kColumn, kEmail, kId, kUnsubscribeUrl };
  struct Segment {
    std::string literal;  // when kind == kNone
    Special kind = Special::kNone;
    int column = -1;
  };
  // Unknown placeholders are an error naming `what` and the known columns.
  static absl::StatusOr<CompiledTemplate> Compile(std::string_view text, const RecipientTable& table,
                                                  std::string_view what);
  bool empty() const { return segments_.empty(); }
  bool uses_unsubscribe_url() const;
  bool personalized() const;
  const std::vector<Segment>& segments() const { return segments_; }

 private:
  std::vector<Segment> segments_;
};

// The column checks every recipient source shares (CSV header, store
// table): names trimmed of spaces, `email_column` required (the error names
// `source` and lists the columns), `id_column` used when present.
absl::Status ResolveRecipientColumns(RecipientTable& table, std::string_view source,
                                     std::string_view email_column = "email",
                                     std::string_view id_column = "id");

// Reads a file whose content goes out with messages (an attachment, a
// message file): `path` (relative to `base_dir`) must resolve, symlinks
// included, inside `base_dir` or one of `allowed_dirs`, checked on the file
// actually opened; PermissionDenied names both paths otherwise. Only
// regular files. Errors start with `what`.
absl::StatusOr<std::string> ReadConfinedFile(std::string_view what, const std::string& path,
                                             const std::string& base_dir,
                                             std::span<const std::string> allowed_dirs);

// The file name a recipient sees: the last path component only, control
// characters, bidirectional overrides and invalid UTF-8 replaced by '_',
// leading dots and spaces and trailing dots and spaces removed; "attachment"
// when nothing is left. (Non-ASCII goes out as RFC 2231, AppendMimeParameter.)
std::string SanitizeFilename(std::string_view name);

// Per-worker scratch: composer and buffers reused across batches.
struct WorkerScratch {
  std::unique_ptr<MessageComposer> composer;
  std::string subject, text, html, unsubscribe_url, list_unsubscribe;
  void* curl = nullptr;  // FetchMessageBody's easy handle (CURL*)
  ~WorkerScratch();
};

}  // namespace mail

class MailJobRuntime {
 public:
  MailJobSpec spec;
  MailerOptions options;
  std::string job_id;
  std::string worker_id;
  std::string item_id;

  // Recipients: rows of `table`; `addresses[row]` its normalized address;
  // `row_by_address` the first row of each address.
  RecipientTable table;
  std::vector<std::string> addresses;
  StringMap<uint32_t> row_by_address;
  int charset_column = -1;
  int name_column = -1;

  // Opt-out lists (null = none).
  std::unique_ptr<OptOutList> site_opt_out;
  std::unique_ptr<OptOutList> item_opt_out;
  // List Manager opt-out lists (a level may have a file and a store list),
  // read again every MailerOptions::store_opt_out_refresh while the job runs
  // so that an opt-out made meanwhile, on any server, is honoured.
  std::unique_ptr<OptOutList> site_store_opt_out;
  std::unique_ptr<OptOutList> item_store_opt_out;
  std::string site_store_list_name, item_store_list_name;
  absl::Mutex store_opt_out_mu;
  absl::Time store_opt_outs_read ABSL_GUARDED_BY(store_opt_out_mu) = absl::InfinitePast();
  std::unique_ptr<UnsubscribeTokens> tokens;

  // The message source.
  enum class SourceKind { kTemplate, kUrl, kFile };
  SourceKind source = SourceKind::kTemplate;
  mail::CompiledTemplate subject, text, html;
  std::string url;                      // kUrl
  std::string file_body;                // kFile
  bool file_is_html = false;
  std::vector<PreparedAttachment> attachments;
  std::string from, reply_to, envelope_from, message_id_domain;
  int retries = 3;
  double max_error_percent = 10;
  int64_t messages_per_hour = 0;

  Transport* transport = nullptr;
  Store* store = nullptr;
  std::unique_ptr<Pipeline<MailContext>> pipeline;

  // Throttle: the next free send slot.
  absl::Mutex throttle_mu;
  absl::Time next_slot ABSL_GUARDED_BY(throttle_mu) = absl::InfinitePast();

  // Control: 0 run, 1 pause, 2 stop, 3 abort.
  std::atomic<int> control{0};
  std::string abort_reason;  // written once before control = 3

  // This run's counters.
  std::atomic<int64_t> sent{0}, failed{0}, skipped{0}, outcomes{0};
  absl::Mutex report_mu;
  std::map<std::string, int64_t> failed_by_reason ABSL_GUARDED_BY(report_mu);
  std::map<std::string, int64_t> skipped_by_reason ABSL_GUARDED_BY(report_mu);

  // The unsubscribe URL and List-Unsubscribe value of `address`.
  void UnsubscribeValues(std::string_view address, std::string& url, std::string& header) const;
  bool OptedOutSite(std::string_view address) const {
    return (site_opt_out != nullptr && site_opt_out->Contains(address)) ||
           (site_store_opt_out != nullptr && site_store_opt_out->Contains(address));
  }
  bool OptedOutItem(std::string_view address) const {
    return (item_opt_out != nullptr && item_opt_out->Contains(address)) ||
           (item_store_opt_out != nullptr && item_store_opt_out->Contains(address));
  }
  bool OptedOut(std::string_view address) const { return OptedOutSite(address) || OptedOutItem(address); }
  // Renders `t` for `item` into `out` (cleared first).
  void Render(const mail::CompiledTemplate& t, const MailContext& ctx, const MailItem& item,
              bool html_escape, std::string& unsubscribe_url, std::string& out) const;
};

}  // namespace herald

#endif  // HERALD_LIB_MAIL_RUNTIME_H_
