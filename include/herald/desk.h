// herald/desk.h: the Business Desk (docs/business-desk.md): the admin JSON
// API (docs/api.md, "Business Desk API") and the browser app that uses it,
// answered on `herald serve`'s desk listener (ServerConfig.desk_listen).
//
// Everything the app does goes through the admin API, so anything it does
// can be scripted: sign in (POST /api/v1/session), then send the session
// cookie and the session's CSRF token with every change.
//
//   Accounts   users with roles (admin, editor, viewer), passwords kept as
//              Argon2id hashes (libsodium crypto_pwhash_str), sessions kept in
//              the store (AccountStore) so that any server on the store
//              accepts them, sign-in throttling per user and per address,
//              and an audit log of every change.
//   Catalog    the store's catalog versions (herald/catalog_versions.h):
//              every save validated exactly as `herald validate` does, based
//              on the version the editor saw (409 when another was saved
//              since), the goaling switch, history, diff and rollback.
//   Lists      the List Manager: recipient and opt-out lists kept in the
//              store (MailListStore), imported from CSV with a preview of
//              the column mapping, and each direct-mail item's audience
//              after its opt-out lists.
//   Mail jobs  direct-mail items sent, paused, resumed and aborted from the
//              desk, in background threads of this process (herald/mail.h
//              MailJob); progress read from the job's ledger in the store.
//   Tools      expression checks as the author types, basket pricing with
//              its explanation, TraceScores, and the reports, through the
//              borrowed DecisionService (nothing is recorded).
//
// Lifetime: a Desk borrows the store and the decision service, which must
// outlive it; destroying it pauses the mail jobs it runs and waits for their
// batches in flight. Thread-safety: Handle may be called from any number of
// threads at once.
#ifndef HERALD_DESK_H_
#define HERALD_DESK_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/mail.h"
#include "herald/registry.h"
#include "herald/server.h"
#include "herald/store.h"
#include "herald/web.h"

namespace herald {

struct DeskOptions {
  // The app's files: `assets_dir`/desk (index.html, the app's scripts and
  // styles) and `assets_dir`/node_modules (the npm libraries it loads, from
  // the setup script). Empty: the API only; "/" answers 404 saying so.
  std::string assets_dir;
  absl::Duration session_ttl = absl::Hours(12);   // a session's absolute lifetime
  // Sign-in throttling: after `free_failures` failed sign-ins for a user
  // or from an address, each further try waits 2^(n - free_failures)
  // seconds after the last failure, at most `max_lockout`.
  int free_failures = 5;
  absl::Duration max_lockout = absl::Minutes(15);
  // The catalog's source name in issues ("desk").
  std::string source = "desk";
  // Mail jobs (POST /api/v1/mail-jobs/{item}:start) run on this server in
  // background threads, through `mail_transport` (borrowed: it must outlive
  // the Desk) with the components of `registry` (borrowed too). Null: a
  // start is refused (409) saying the server has no mail transport.
  const Registry* registry = nullptr;
  Transport* mail_transport = nullptr;
  int mail_workers = 2;
  int mail_batch_size = 32;
  std::string unsubscribe_secret;  // empty: a random key per Desk
  // Where a desk job's files are read from (relative paths only, inside
  // it); empty: an item naming a file is refused. See DeskMailConfig.
  std::string mail_files_dir;
  bool mail_url_messages = false;  // may a desk job fetch its message from a URL
};

class Desk {
 public:
  virtual ~Desk() = default;

  // FailedPrecondition when the store keeps no accounts or catalog versions.
  // `service` answers traces, prices and reports; it should serve the
  // store's catalog (the desk's view of "current").
  static absl::StatusOr<std::unique_ptr<Desk>> Create(Store& store, DecisionService& service,
                                                      const DeskOptions& options);

  // Answers one request: the admin API under /api/v1/, the app's files
  // elsewhere. Never fails: errors are JSON ApiError answers (4xx/5xx).
  virtual WebReply Handle(const WebRequest& request) = 0;
};

inline constexpr std::string_view kDeskRoles[] = {"admin", "editor", "viewer"};

// Adds a user (the CLI's `herald serve --init-admin` and `herald desk
// users`). InvalidArgument for a malformed name (1-64 of [A-Za-z0-9._@-]),
// an unknown role or a password under 10 characters; AlreadyExists when
// the name is taken. Recorded in the audit log as done by `by`.
absl::Status CreateDeskUser(AccountStore& accounts, std::string_view name, std::string_view role,
                            std::string_view password, std::string_view by);

// Whether `password` is the user's, by the Argon2id hash (constant time).
bool CheckDeskPassword(const v1::DeskUser& user, std::string_view password);

}  // namespace herald

#endif  // HERALD_DESK_H_
