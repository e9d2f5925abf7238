// The Business Desk's admin API: routing, sessions, CSRF, roles, users and
// the audit log (docs/business-desk.md, "The admin API"). Catalog routes are
// in desk_catalog.cc, the tools in desk_tools.cc, the app's files in
// desk_files.cc.
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "desk/desk_internal.h"
#include "google/protobuf/util/json_util.h"

namespace herald {
namespace desk_internal {

WebReply JsonReply(int status, const nlohmann::json& body) {
  WebReply reply;
  reply.status = status;
  reply.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return reply;
}

WebReply NoContent() {
  WebReply reply;
  reply.status = 204;
  reply.content_type.clear();
  return reply;
}

WebReply ErrorReply(const absl::Status& status, std::string_view code) {
  ApiErrorReply api = ToApiError(status);
  nlohmann::json body = {{"code", code.empty() ? api.error.code() : std::string(code)},
                         {"message", api.error.message()},
                         {"field", api.error.field()}};
  WebReply reply = JsonReply(api.http_status, body);
  reply.error_code = body["code"];
  return reply;
}

nlohmann::json ProtoJson(const google::protobuf::Message& message) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) return nullptr;
  return nlohmann::json::parse(text, nullptr, false);
}

absl::StatusOr<nlohmann::json> ParseObject(std::string_view body) {
  nlohmann::json value = nlohmann::json::parse(body, nullptr, false);
  if (value.is_discarded()) return absl::InvalidArgumentError("body: malformed JSON");
  if (!value.is_object()) return absl::InvalidArgumentError("body: expected a JSON object");
  return value;
}

absl::Status ParseProto(const nlohmann::json& value, std::string_view field, google::protobuf::Message* out) {
  if (!value.is_object()) return absl::InvalidArgumentError(absl::StrCat(AV(field), ": expected a JSON object"));
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), out, options);
  if (parsed.ok()) return absl::OkStatus();
  std::string message = parsed.message().ToString();
  message = message.substr(0, message.find('\n'));
  return WithField(absl::InvalidArgumentError(absl::StrCat(AV(field), ": ", message)), field);
}

absl::StatusOr<std::string> StringField(const nlohmann::json& object, std::string_view name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return WithField(absl::InvalidArgumentError(absl::StrCat(AV(name), ": expected a string")), name);
  }
  return it->get<std::string>();
}

namespace {

// ---- sessions -------------------------------------------------------------

constexpr std::string_view kCookie = "herald_desk";

std::string_view CookieValue(const WebRequest& request) {
  for (absl::string_view part : absl::StrSplit(AV(request.Header("cookie")), ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, AV(kCookie)) && absl::ConsumePrefix(&part, "=")) return SV(part);
  }
  return {};
}

std::string SessionCookie(const WebRequest& request, std::string_view value, absl::Duration max_age) {
  return absl::StrCat(AV(kCookie), "=", AV(value), "; Path=/; HttpOnly; SameSite=Strict; Max-Age=",
                      absl::ToInt64Seconds(max_age), request.tls ? "; Secure" : "");
}

nlohmann::json SessionJson(const SignedIn& who) {
  return {{"user", who.user.name()},
          {"role", who.user.role()},
          {"csrfToken", who.session.csrf_token()},
          {"expires", absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMicros(who.session.expires_unix_micros()),
                                       absl::UTCTimeZone())}};
}

// A failed sign-in, counted under the user and the address.
WebReply RefuseSignIn(const DeskEnv& env, const Call& call, const std::string& user) {
  const int64_t now_us = absl::ToUnixMicros(call.now);
  (void)env.accounts.AddFailedSignIn(absl::StrCat("user:", user), now_us);
  (void)env.accounts.AddFailedSignIn(absl::StrCat("address:", AV(call.request.peer)), now_us);
  return ErrorReply(absl::UnauthenticatedError("user or password is wrong"));
}

WebReply SignIn(const DeskEnv& env, Call& call) {
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return ErrorReply(body.status());
  auto user = StringField(*body, "user");
  auto password = StringField(*body, "password");
  if (!user.ok() || !password.ok()) return ErrorReply(!user.ok() ? user.status() : password.status());
  for (const std::string& key : {absl::StrCat("user:", *user), absl::StrCat("address:", AV(call.request.peer))}) {
    auto wait = ThrottleWait(env.accounts, key, env.options, call.now);
    if (!wait.ok()) return ErrorReply(wait.status());
    if (*wait > absl::ZeroDuration()) {
      const int64_t seconds = std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(*wait, absl::Seconds(1))));
      WebReply reply = ErrorReply(absl::ResourceExhaustedError(
          absl::StrCat("too many failed sign-ins; try again in ", seconds, " s")));
      reply.headers.push_back({"Retry-After", std::to_string(seconds)});
      return reply;
    }
  }
  auto found = env.accounts.GetUser(*user);
  if (!found.ok()) return ErrorReply(found.status());
  // The same answer for an unknown user and a wrong password; the hash is
  // checked either way so that timing does not tell them apart.
  static const v1::DeskUser* const kNobody = [] {
    auto* nobody = new v1::DeskUser;
    auto hash = HashPassword("not the password of anyone");
    if (hash.ok()) nobody->set_password_hash(*hash);
    return nobody;
  }();
  const v1::DeskUser& candidate = found->has_value() ? **found : *kNobody;
  const bool password_ok = CheckDeskPassword(candidate, *password);
  if (!found->has_value() || !password_ok || candidate.disabled()) return RefuseSignIn(env, call, *user);
  (void)env.accounts.ClearFailedSignIns(absl::StrCat("user:", *user));
  (void)env.accounts.ClearFailedSignIns(absl::StrCat("address:", AV(call.request.peer)));
  (void)env.accounts.DeleteExpiredSessions(absl::ToUnixMicros(call.now));
  auto session = StartSession(env.accounts, candidate, env.options.session_ttl, call.now);
  if (!session.ok()) return ErrorReply(session.status());
  (void)Audit(env.accounts, candidate.name(), "session.sign_in", absl::StrCat("user \"", candidate.name(), "\""),
              absl::StrCat("from ", AV(call.request.peer)), call.now);
  WebReply reply = JsonReply(200, SessionJson({session->record, candidate}));
  reply.headers.push_back({"Set-Cookie", SessionCookie(call.request, session->cookie_value, env.options.session_ttl)});
  return reply;
}

WebReply GetSession(const DeskEnv&, Call& call) { return JsonReply(200, SessionJson(*call.who)); }

WebReply SignOut(const DeskEnv& env, Call& call) {
  if (absl::Status s = env.accounts.DeleteSession(call.who->session.id_hash()); !s.ok()) return ErrorReply(s);
  (void)Audit(env.accounts, call.user(), "session.sign_out", absl::StrCat("user \"", call.user(), "\""), "",
              call.now);
  WebReply reply = NoContent();
  reply.headers.push_back({"Set-Cookie", SessionCookie(call.request, "", absl::ZeroDuration())});
  return reply;
}

// ---- users ----------------------------------------------------------------

nlohmann::json UserJson(const v1::DeskUser& user) {
  return {{"name", user.name()},
          {"role", user.role()},
          {"disabled", user.disabled()},
          {"created", absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMicros(user.created_unix_micros()),
                                       absl::UTCTimeZone())}};
}

WebReply ChangeOwnPassword(const DeskEnv& env, Call& call) {
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return ErrorReply(body.status());
  auto current = StringField(*body, "current");
  auto next = StringField(*body, "new");
  if (!current.ok() || !next.ok()) return ErrorReply(!current.ok() ? current.status() : next.status());
  if (!CheckDeskPassword(call.who->user, *current)) {
    return ErrorReply(WithField(absl::PermissionDeniedError("current: not your password"), "current"));
  }
  if (absl::Status s = CheckPassword(*next); !s.ok()) return ErrorReply(WithField(s, "new"));
  auto hash = HashPassword(*next);
  if (!hash.ok()) return ErrorReply(hash.status());
  v1::DeskUser user = call.who->user;
  user.set_password_hash(*hash);
  user.set_password_changed_unix_micros(absl::ToUnixMicros(call.now));
  if (absl::Status s = env.accounts.UpdateUser(user); !s.ok()) return ErrorReply(s);
  // Every other session of the user ends: a stolen one must not outlive the change.
  (void)env.accounts.DeleteUserSessions(user.name());
  (void)env.accounts.CreateSession(call.who->session);
  (void)Audit(env.accounts, call.user(), "user.password", absl::StrCat("user \"", call.user(), "\""), "", call.now);
  return NoContent();
}

WebReply ListUsers(const DeskEnv& env, Call&) {
  auto users = env.accounts.ListUsers();
  if (!users.ok()) return ErrorReply(users.status());
  nlohmann::json out = nlohmann::json::array();
  for (const v1::DeskUser& user : *users) out.push_back(UserJson(user));
  return JsonReply(200, {{"users", out}});
}

WebReply AddUser(const DeskEnv& env, Call& call) {
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return ErrorReply(body.status());
  auto name = StringField(*body, "name");
  auto role = StringField(*body, "role");
  auto password = StringField(*body, "password");
  for (const auto* field : {&name, &role, &password}) {
    if (!field->ok()) return ErrorReply(field->status());
  }
  if (absl::Status s = CreateDeskUser(env.accounts, *name, *role, *password, call.user()); !s.ok()) {
    return ErrorReply(s);
  }
  auto user = env.accounts.GetUser(*name);
  if (!user.ok() || !user->has_value()) return ErrorReply(absl::InternalError("the new user is not in the store"));
  return JsonReply(201, UserJson(**user));
}

// PATCH /api/v1/users/{name}: role, password, disabled.
absl::StatusOr<std::string> PatchUser(const nlohmann::json& body, absl::Time now, v1::DeskUser* user) {
  std::string what;
  for (const auto& [key, value] : body.items()) {
    if (key == "role") {
      if (!value.is_string()) return absl::InvalidArgumentError("role: expected a string");
      if (absl::Status s = CheckRole(value.get<std::string>()); !s.ok()) return s;
      user->set_role(value.get<std::string>());
      absl::StrAppend(&what, "role ", user->role(), "\n");
    } else if (key == "password") {
      if (!value.is_string()) return absl::InvalidArgumentError("password: expected a string");
      if (absl::Status s = CheckPassword(value.get<std::string>()); !s.ok()) return s;
      auto hash = HashPassword(value.get<std::string>());
      if (!hash.ok()) return hash.status();
      user->set_password_hash(*hash);
      user->set_password_changed_unix_micros(absl::ToUnixMicros(now));
      absl::StrAppend(&what, "password changed\n");
    } else if (key == "disabled") {
      if (!value.is_boolean()) return absl::InvalidArgumentError("disabled: expected true or false");
      user->set_disabled(value.get<bool>());
      absl::StrAppend(&what, user->disabled() ? "disabled\n" : "enabled\n");
    } else {
      return WithField(absl::InvalidArgumentError(absl::StrCat(key, ": unknown field (role, password, disabled)")),
                       key);
    }
  }
  return std::string(absl::StripSuffix(what, "\n"));
}

WebReply UpdateUser(const DeskEnv& env, Call& call) {
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return ErrorReply(body.status());
  auto found = env.accounts.GetUser(call.params[0]);
  if (!found.ok()) return ErrorReply(found.status());
  if (!found->has_value()) return ErrorReply(absl::NotFoundError(absl::StrCat("no user \"", call.params[0], "\"")));
  v1::DeskUser user = **found;
  auto what = PatchUser(*body, call.now, &user);
  if (!what.ok()) return ErrorReply(what.status());
  if (user.name() == call.user() && user.role() != "admin") {
    return ErrorReply(absl::FailedPreconditionError("role: an admin cannot take away their own admin role"));
  }
  if (absl::Status s = env.accounts.UpdateUser(user); !s.ok()) return ErrorReply(s);
  (void)env.accounts.DeleteUserSessions(user.name());
  (void)Audit(env.accounts, call.user(), "user.update", absl::StrCat("user \"", user.name(), "\""), *what, call.now);
  return JsonReply(200, UserJson(user));
}

WebReply RemoveUser(const DeskEnv& env, Call& call) {
  if (call.params[0] == call.user()) {
    return ErrorReply(absl::FailedPreconditionError("an admin cannot delete their own account"));
  }
  if (absl::Status s = env.accounts.DeleteUser(call.params[0]); !s.ok()) return ErrorReply(s);
  (void)Audit(env.accounts, call.user(), "user.delete", absl::StrCat("user \"", call.params[0], "\""), "", call.now);
  return NoContent();
}

WebReply ReadAudit(const DeskEnv& env, Call& call) {
  int64_t before = 0;
  int limit = 100;
  const std::string before_text = QueryParam(call.request.query, "before");
  const std::string limit_text = QueryParam(call.request.query, "limit");
  if (!before_text.empty() && (!absl::SimpleAtoi(before_text, &before) || before < 0)) {
    return ErrorReply(WithField(absl::InvalidArgumentError("before: expected a sequence number"), "before"));
  }
  if (!limit_text.empty() && (!absl::SimpleAtoi(limit_text, &limit) || limit < 1 || limit > 1000)) {
    return ErrorReply(WithField(absl::InvalidArgumentError("limit: expected 1 to 1000"), "limit"));
  }
  auto entries = env.accounts.ReadAudit(before, limit);
  if (!entries.ok()) return ErrorReply(entries.status());
  nlohmann::json out = nlohmann::json::array();
  for (const v1::AuditEntry& e : *entries) {
    out.push_back({{"sequence", e.sequence()},
                   {"time", absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMicros(e.time_unix_micros()),
                                             absl::UTCTimeZone())},
                   {"user", e.user()},
                   {"action", e.action()},
                   {"object", e.object()},
                   {"detail", e.detail()}});
  }
  return JsonReply(200, {{"entries", out}});
}

// ---- routing --------------------------------------------------------------

struct Route {
  std::string_view method;
  std::string_view pattern;  // "/api/v1/campaigns/{}/items/{}"; "{}:verb" captures before ":verb"
  std::string_view role;     // "" = anyone (signing in), else the least role
  Handler handle;
};

constexpr Route kRoutes[] = {
    {"POST", "/api/v1/session", "", SignIn},
    {"GET", "/api/v1/session", "viewer", GetSession},
    {"DELETE", "/api/v1/session", "viewer", SignOut},
    {"POST", "/api/v1/session:password", "viewer", ChangeOwnPassword},
    {"GET", "/api/v1/catalog", "viewer", GetCatalog},
    {"PUT", "/api/v1/catalog", "editor", PutCatalog},
    {"GET", "/api/v1/catalog/versions", "viewer", ListVersions},
    {"GET", "/api/v1/catalog/versions/{}", "viewer", GetVersion},
    {"GET", "/api/v1/catalog/diff", "viewer", DiffVersions},
    {"POST", "/api/v1/catalog:rollback", "editor", Rollback},
    {"GET", "/api/v1/customers", "viewer", ListCustomers},
    {"PUT", "/api/v1/customers/{}", "editor", PutCustomer},
    {"DELETE", "/api/v1/customers/{}", "editor", DeleteCustomer},
    {"PUT", "/api/v1/campaigns/{}", "editor", PutCampaign},
    {"DELETE", "/api/v1/campaigns/{}", "editor", DeleteCampaign},
    {"POST", "/api/v1/campaigns/{}:set-goaling", "editor", SetGoaling},
    {"PUT", "/api/v1/campaigns/{}/items/{}", "editor", PutItem},
    {"DELETE", "/api/v1/campaigns/{}/items/{}", "editor", DeleteItem},
    {"PUT", "/api/v1/target-groups/{}", "editor", PutTargetGroup},
    {"DELETE", "/api/v1/target-groups/{}", "editor", DeleteTargetGroup},
    {"PUT", "/api/v1/reference-tables", "editor", PutReferenceTables},
    {"POST", "/api/v1/expressions:check", "viewer", CheckExpression},
    {"POST", "/api/v1/baskets:price", "viewer", PriceBasket},
    {"POST", "/api/v1/ads:trace", "viewer", TraceAds},
    {"GET", "/api/v1/reports", "viewer", ListReports},
    {"GET", "/api/v1/reports/{}", "viewer", GetReport},
    {"GET", "/api/v1/charts", "viewer", GetCharts},
    {"GET", "/api/v1/lists", "viewer", ListMailLists},
    {"POST", "/api/v1/lists:preview", "editor", PreviewMailList},
    {"GET", "/api/v1/lists/{}", "viewer", GetMailList},
    {"PUT", "/api/v1/lists/{}", "editor", PutMailList},
    {"DELETE", "/api/v1/lists/{}", "editor", DeleteMailList},
    {"POST", "/api/v1/lists/{}:add", "editor", AddToMailList},
    {"GET", "/api/v1/mail-items/{}/audience", "viewer", GetMailAudience},
    {"GET", "/api/v1/mail-jobs", "viewer", ListMailJobs},
    {"GET", "/api/v1/mail-jobs/{}", "viewer", GetMailJob},
    {"POST", "/api/v1/mail-jobs/{}:start", "editor", StartMailJob},
    {"POST", "/api/v1/mail-jobs/{}:pause", "editor", PauseMailJob},
    {"POST", "/api/v1/mail-jobs/{}:abort", "editor", AbortMailJob},
    {"GET", "/api/v1/users", "admin", ListUsers},
    {"POST", "/api/v1/users", "admin", AddUser},
    {"PATCH", "/api/v1/users/{}", "admin", UpdateUser},
    {"DELETE", "/api/v1/users/{}", "admin", RemoveUser},
    {"GET", "/api/v1/audit", "viewer", ReadAudit},
};

// Whether `path` fits `pattern`; the {} segments' values go to `params`.
bool Fits(std::string_view pattern, std::string_view path, std::vector<std::string>* params) {
  std::vector<absl::string_view> want = absl::StrSplit(AV(pattern), '/');
  std::vector<absl::string_view> got = absl::StrSplit(AV(path), '/');
  if (want.size() != got.size()) return false;
  params->clear();
  for (size_t i = 0; i < want.size(); ++i) {
    absl::string_view w = want[i], g = got[i];
    if (absl::ConsumePrefix(&w, "{}")) {
      // "{}:verb": the segment must end in ":verb"; what comes before is the
      // value. A ':' in a value is sent as %3A, so that "a:set-goaling" is
      // never taken for an id.
      if (!w.empty() && !absl::ConsumeSuffix(&g, w)) return false;
      if (g.empty() || absl::StrContains(g, ':')) return false;
      params->push_back(PercentDecode(SV(g)));
    } else if (w != g) {
      return false;
    }
  }
  return true;
}

// A change (anything but GET and HEAD) must come from the desk's own pages:
// the session's CSRF token in X-CSRF-Token, and no foreign Origin.
absl::Status CheckChangeAllowed(const WebRequest& request, const std::optional<SignedIn>& who,
                                std::string* code) {
  const std::string_view origin = request.Header("origin");
  const std::string_view host = request.Header("host");
  if (!origin.empty()) {
    absl::string_view rest = AV(origin);
    const bool same = (absl::ConsumePrefix(&rest, "http://") || absl::ConsumePrefix(&rest, "https://")) &&
                      rest == AV(host);
    if (!same) {
      *code = "origin_refused";
      return absl::PermissionDeniedError(absl::StrCat("Origin: a change from another site (", AV(origin.substr(0, 100)),
                                                      ") is refused"));
    }
  }
  if (!who.has_value()) return absl::OkStatus();  // signing in: no session yet
  const std::string_view token = request.Header("x-csrf-token");
  if (token.empty()) {
    *code = "csrf_token_missing";
    return WithField(absl::PermissionDeniedError("X-CSRF-Token: missing; every change sends the session's token"),
                     "X-CSRF-Token");
  }
  if (!SameToken(token, who->session.csrf_token())) {
    *code = "csrf_token_wrong";
    return WithField(absl::PermissionDeniedError("X-CSRF-Token: not this session's token"), "X-CSRF-Token");
  }
  return absl::OkStatus();
}

absl::Status CheckJsonBody(const WebRequest& request) {
  if (request.method == "GET" || request.method == "DELETE" || request.method == "HEAD") return absl::OkStatus();
  // A change without a body (a mail job's :start) has nothing to type; it
  // still needs the session's CSRF token, which no other site can send.
  if (request.body.empty()) return absl::OkStatus();
  absl::string_view type = AV(request.Header("content-type"));
  type = absl::StripAsciiWhitespace(type.substr(0, type.find(';')));
  if (absl::EqualsIgnoreCase(type, "application/json")) return absl::OkStatus();
  return WithField(absl::InvalidArgumentError(absl::StrCat("Content-Type: expected application/json, got \"",
                                                           type.substr(0, 60), "\"")),
                   "Content-Type");
}

class DeskImpl final : public Desk {
 public:
  DeskImpl(Store& store, AccountStore& accounts, CatalogStore& catalogs, DecisionService& service,
           DeskOptions options)
      : options_(std::move(options)),
        mail_(store, options_),
        env_{store, accounts, catalogs, service, options_, mail_} {}

  WebReply Handle(const WebRequest& request) override {
    WebReply reply;
    // Handlers check every JSON type before reading it; should one slip, the
    // request fails with a 500 naming it instead of taking the server down.
    try {
      reply = absl::StartsWith(AV(request.path), "/api/") ? Api(request) : Files(request);
    } catch (const std::exception& e) {
      reply = ErrorReply(absl::InternalError(absl::StrCat("the desk failed on this request: ", e.what())));
    }
    // The app's pages load only their own scripts and styles.
    reply.headers.push_back({"Content-Security-Policy",
                             "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                             "form-action 'self'"});
    reply.headers.push_back({"X-Content-Type-Options", "nosniff"});
    reply.headers.push_back({"Referrer-Policy", "same-origin"});
    reply.headers.push_back({"Cache-Control", "no-store"});
    return reply;
  }

 private:
  WebReply Files(const WebRequest& request) {
    WebReply reply;
    if (request.method != "GET" && request.method != "HEAD") {
      reply = ErrorReply(absl::NotFoundError(absl::StrCat("the app's files are read with GET, not ",
                                                          AV(request.method.substr(0, 10)))),
                         "method_not_allowed");
      reply.status = 405;
      reply.headers.push_back({"Allow", "GET, HEAD"});
    } else {
      reply = ServeFile(options_, request.path);
    }
    reply.route = "/desk/files";
    return reply;
  }

  WebReply Api(const WebRequest& request) {
    bool path_known = false;
    std::vector<std::string> params;
    for (const Route& route : kRoutes) {
      if (!Fits(route.pattern, request.path, &params)) continue;
      path_known = true;
      if (route.method != request.method) continue;
      WebReply reply = Answer(route, request, std::move(params));
      reply.route = std::string(route.pattern);
      return reply;
    }
    WebReply reply = path_known ? ErrorReply(absl::NotFoundError(absl::StrCat("method ", AV(request.method.substr(0, 10)),
                                                                              " is not allowed on ", AV(request.path.substr(0, 200)))),
                                             "method_not_allowed")
                                : ErrorReply(absl::NotFoundError(absl::StrCat("no endpoint ", AV(request.path.substr(0, 200)),
                                                                              "; see docs/business-desk.md")));
    if (path_known) reply.status = 405;
    return reply;
  }

  WebReply Answer(const Route& route, const WebRequest& request, std::vector<std::string> params) {
    Call call{request, std::move(params), std::nullopt, absl::Now()};
    if (!route.role.empty()) {
      auto who = FindSession(env_.accounts, CookieValue(request), call.now);
      if (!who.ok()) return ErrorReply(who.status());
      if (!who->has_value()) return ErrorReply(absl::UnauthenticatedError("sign in first (POST /api/v1/session)"));
      call.who = std::move(**who);
    }
    if (request.method != "GET" && request.method != "HEAD") {
      std::string code;
      if (absl::Status s = CheckChangeAllowed(request, call.who, &code); !s.ok()) return ErrorReply(s, code);
      if (absl::Status s = CheckJsonBody(request); !s.ok()) {
        WebReply reply = ErrorReply(s, "unsupported_media_type");
        reply.status = 415;
        return reply;
      }
    }
    if (call.who.has_value() && !RoleAtLeast(call.who->user.role(), route.role)) {
      return ErrorReply(absl::PermissionDeniedError(absl::StrCat("your role (", call.who->user.role(),
                                                                 ") may not do this; it needs ", AV(route.role))));
    }
    return route.handle(env_, call);
  }

  DeskOptions options_;
  MailJobRunner mail_;  // after options_, which its threads read; before env_
  DeskEnv env_;
};

}  // namespace
}  // namespace desk_internal

absl::StatusOr<std::unique_ptr<Desk>> Desk::Create(Store& store, DecisionService& service,
                                                   const DeskOptions& options) {
  AccountStore* accounts = store.accounts();
  CatalogStore* catalogs = store.catalogs();
  if (accounts == nullptr || catalogs == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("the store ", store.Describe(),
                                                      " keeps no accounts or catalog versions; the Business Desk "
                                                      "needs a SQLite or PostgreSQL store"));
  }
  return std::make_unique<desk_internal::DeskImpl>(store, *accounts, *catalogs, service, options);
}

}  // namespace herald
