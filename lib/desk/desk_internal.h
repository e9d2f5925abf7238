// Internal to the desk: what every admin API handler shares (the borrowed
// store and service, the request being answered) and the JSON helpers.
#ifndef HERALD_LIB_DESK_DESK_INTERNAL_H_
#define HERALD_LIB_DESK_DESK_INTERNAL_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "desk/accounts.h"
#include "google/protobuf/message.h"
#include "herald/catalog.h"
#include "herald/catalog_versions.h"
#include "herald/desk.h"
#include "herald/mail.h"
#include "nlohmann/json.hpp"

namespace herald::desk_internal {

// The mail jobs this server runs for the desk (desk_mail.cc): one
// background thread per running job; destroying it pauses them and waits.
class MailJobRunner {
 public:
  MailJobRunner(Store& store, const DeskOptions& options);
  ~MailJobRunner();
  // Creates the item's job (loading its lists: errors come back here) and
  // runs it in the background; FailedPrecondition when it already runs here
  // or the server has no mail transport.
  absl::Status Start(const v1::Catalog& catalog, const v1::CampaignItem& item, std::string_view user);
  // Pauses (kJobPaused) or stops (kJobStopped) the job: here at once, and on
  // every other server through its stored state.
  absl::Status Signal(std::string_view item_id, std::string_view state);
  // What this server knows of the job's last run.
  struct Local {
    bool known = false;    // started on this server
    bool running = false;
    std::string error;
    std::optional<MailReport> report;
    std::string started_by;
    absl::Time started;
  };
  Local Status(std::string_view item_id);

 private:
  struct Run;
  Store& store_;
  const DeskOptions& options_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Run>> runs_ ABSL_GUARDED_BY(mu_);
};

struct DeskEnv {
  Store& store;
  AccountStore& accounts;
  CatalogStore& catalogs;
  DecisionService& service;
  const DeskOptions& options;
  MailJobRunner& mail;
};

// One admin API request being answered.
struct Call {
  const WebRequest& request;
  std::vector<std::string> params;  // the route's {placeholders}, percent-decoded, in order
  std::optional<SignedIn> who;      // the signed-in user (every route but signing in)
  absl::Time now;
  const std::string& user() const { return who->user.name(); }
};

using Handler = WebReply (*)(const DeskEnv& env, Call& call);

// Answers.
WebReply JsonReply(int status, const nlohmann::json& body);
WebReply NoContent();
// The ApiError answer for `status` (herald/server.h ToApiError); `code`
// overrides the code when not empty.
WebReply ErrorReply(const absl::Status& status, std::string_view code = "");
// A message in the proto3 JSON mapping, as a JSON value.
nlohmann::json ProtoJson(const google::protobuf::Message& message);

// The body as a JSON object; InvalidArgument naming "body" otherwise.
absl::StatusOr<nlohmann::json> ParseObject(std::string_view body);
// A JSON value (an object of the body) into `out` in the proto3 JSON
// mapping; InvalidArgument naming `field` and the parser's complaint.
absl::Status ParseProto(const nlohmann::json& value, std::string_view field, google::protobuf::Message* out);
// Query parameters and path segments: herald/web.h's QueryParam and PercentDecode.
// A string field of a JSON object: empty when absent; InvalidArgument when not a string.
absl::StatusOr<std::string> StringField(const nlohmann::json& object, std::string_view name);

// The current catalog with its defaults applied; an empty one when the
// store holds none yet (desk_tools.cc).
absl::StatusOr<v1::Catalog> CurrentCatalog(CatalogStore& catalogs);

// Catalog handlers (desk_catalog.cc).
WebReply GetCatalog(const DeskEnv& env, Call& call);
WebReply PutCatalog(const DeskEnv& env, Call& call);
WebReply ListVersions(const DeskEnv& env, Call& call);
WebReply GetVersion(const DeskEnv& env, Call& call);
WebReply DiffVersions(const DeskEnv& env, Call& call);
WebReply Rollback(const DeskEnv& env, Call& call);
WebReply ListCustomers(const DeskEnv& env, Call& call);
WebReply PutCustomer(const DeskEnv& env, Call& call);
WebReply DeleteCustomer(const DeskEnv& env, Call& call);
WebReply PutCampaign(const DeskEnv& env, Call& call);
WebReply DeleteCampaign(const DeskEnv& env, Call& call);
WebReply PutItem(const DeskEnv& env, Call& call);
WebReply DeleteItem(const DeskEnv& env, Call& call);
WebReply SetGoaling(const DeskEnv& env, Call& call);
WebReply PutTargetGroup(const DeskEnv& env, Call& call);
WebReply DeleteTargetGroup(const DeskEnv& env, Call& call);
WebReply PutReferenceTables(const DeskEnv& env, Call& call);

// Tools (desk_tools.cc).
WebReply CheckExpression(const DeskEnv& env, Call& call);
WebReply PriceBasket(const DeskEnv& env, Call& call);
WebReply TraceAds(const DeskEnv& env, Call& call);
WebReply ListReports(const DeskEnv& env, Call& call);
WebReply GetReport(const DeskEnv& env, Call& call);
WebReply GetCharts(const DeskEnv& env, Call& call);

// The List Manager (desk_lists.cc).
WebReply ListMailLists(const DeskEnv& env, Call& call);
WebReply GetMailList(const DeskEnv& env, Call& call);
WebReply PreviewMailList(const DeskEnv& env, Call& call);
WebReply PutMailList(const DeskEnv& env, Call& call);
WebReply AddToMailList(const DeskEnv& env, Call& call);
WebReply DeleteMailList(const DeskEnv& env, Call& call);
WebReply GetMailAudience(const DeskEnv& env, Call& call);

// Mail jobs (desk_mail.cc).
// The item's job as the desk runs it: files only by relative paths inside
// options.mail_files_dir (FailedPrecondition when it is not set), a URL
// message only when options.mail_url_messages.
absl::StatusOr<MailJobSpec> DeskMailJobSpec(const v1::Catalog& catalog, const v1::CampaignItem& item,
                                            const DeskOptions& options);
WebReply ListMailJobs(const DeskEnv& env, Call& call);
WebReply GetMailJob(const DeskEnv& env, Call& call);
WebReply StartMailJob(const DeskEnv& env, Call& call);
WebReply PauseMailJob(const DeskEnv& env, Call& call);
WebReply AbortMailJob(const DeskEnv& env, Call& call);

// The app's files (desk_files.cc): GET of anything outside /api/.
WebReply ServeFile(const DeskOptions& options, std::string_view path);

}  // namespace herald::desk_internal

#endif  // HERALD_LIB_DESK_DESK_INTERNAL_H_
