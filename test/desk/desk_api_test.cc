// The Business Desk's admin API (herald/desk.h), answered in process over a
// real SQLite store and a real DecisionService: signing in and throttling,
// CSRF and Origin checks, roles, optimistic concurrency, validation issues,
// the goaling switch, expression checks, users, the audit log and the app's
// files.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <google/protobuf/text_format.h>

#include "herald/builtins.h"
#include "herald/catalog_versions.h"
#include "herald/desk.h"
#include "herald/mail.h"
#include "herald/server.h"
#include "herald/store.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCatalog = R"pb(
name: "Desk"
user_attributes { name: "state" type: VALUE_TYPE_STRING }
customers { id: "zeta" name: "Zeta Paints" }
customers { id: "acme" name: "acme Outdoor" }
campaigns {
  id: "spring" name: "Spring" customer_id: "acme"
  start: "2026-01-01" end: "2027-01-01"
  goaling: GOALING_LEVEL_AD
  items { id: "ad-1" name: "Ad 1" ad { type: AD_TYPE_PAID quantity: 1000 weight: 1 } }
  items { id: "ad-2" name: "Ad 2" ad { type: AD_TYPE_PAID quantity: 500 weight: 1 } }
}
)pb";

constexpr const char* kPassword = "correct-horse-battery";

struct Answer {
  int status = 0;
  nlohmann::json body;
  WebReply raw;
  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : raw.headers) {
      if (n == name) return v;
    }
    return "";
  }
};

// A desk over a fresh SQLite store holding kCatalog as version 1, with the
// users ann (admin), ed (editor) and vic (viewer).
class DeskFixture {
 public:
  // `with_mail`: mail jobs write to maildir() (DeskOptions::mail_transport).
  explicit DeskFixture(bool with_mail = false) {
    dir_ = fs::temp_directory_path() / ("herald-desk-api-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "web" / "desk");
    std::ofstream(dir_ / "web" / "desk" / "index.html") << "<!doctype html><title>desk</title>";
    fs::create_directories(dir_ / "web" / "node_modules" / "preact" / "dist");
    std::ofstream(dir_ / "web" / "node_modules" / "preact" / "dist" / "preact.module.js") << "export {};";
    fs::create_directories(dir_ / "web" / "node_modules" / "secret");
    std::ofstream(dir_ / "web" / "node_modules" / "secret" / "key.js") << "secret";
    const std::string uri = "sqlite:" + (dir_ / "h.db").string();
    REQUIRE(RegisterBuiltins(&registry_).ok());
    auto store = OpenStore(uri, registry_);
    REQUIRE(store.ok());
    store_ = std::move(*store);
    v1::Catalog catalog;
    REQUIRE(google::protobuf::TextFormat::ParseFromString(kCatalog, &catalog));
    CatalogSaveOptions by;
    by.author = "test";
    REQUIRE(SaveCatalog(*store_->catalogs(), catalog, by).ok());
    for (auto [name, role] : {std::pair{"ann", "admin"}, {"ed", "editor"}, {"vic", "viewer"}}) {
      REQUIRE(CreateDeskUser(*store_->accounts(), name, role, kPassword, "test").ok());
    }
    v1::ServerConfig config;
    config.set_store(uri);
    config.set_catalog_refresh_ms(60000);
    auto service = DecisionService::Create(config, registry_);
    REQUIRE(service.ok());
    service_ = std::move(*service);
    DeskOptions options;
    options.assets_dir = (dir_ / "web").string();
    options.registry = &registry_;
    if (with_mail) {
      v1::MaildirTransportConfig maildir;
      maildir.set_path(maildir_path().string());
      auto transport = registry_.Create<Transport>("maildir", maildir, CreateContext{&registry_});
      REQUIRE(transport.ok());
      transport_ = std::move(*transport);
      options.mail_transport = transport_.get();
      options.mail_workers = 2;
      options.mail_batch_size = 2;
    }
    auto desk = Desk::Create(*store_, *service_, options);
    REQUIRE(desk.ok());
    desk_ = std::move(*desk);
  }
  ~DeskFixture() {
    desk_.reset();
    service_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  Answer Send(std::string method, std::string path, const std::string& body = "",
              std::vector<std::pair<std::string, std::string>> headers = {}, std::string peer = "192.0.2.1",
              bool tls = false) {
    std::string query;
    if (size_t q = path.find('?'); q != std::string::npos) {
      query = path.substr(q + 1);
      path.resize(q);
    }
    WebRequest request;
    request.method = method;
    request.path = path;
    request.query = query;
    request.body = body;
    request.peer = peer;
    request.tls = tls;
    headers.emplace_back("host", "127.0.0.1:8081");
    if (!body.empty()) headers.emplace_back("content-type", "application/json");
    for (const auto& [n, v] : headers) request.headers.emplace_back(n, v);
    Answer out;
    out.raw = desk_->Handle(request);
    out.status = out.raw.status;
    out.body = nlohmann::json::parse(out.raw.body, nullptr, false);
    return out;
  }

  // Signs `user` in; later Call()s carry its cookie and CSRF token.
  struct Session {
    std::string cookie, csrf;
  };
  Session SignIn(const std::string& user) {
    Answer a = Send("POST", "/api/v1/session", nlohmann::json{{"user", user}, {"password", kPassword}}.dump());
    REQUIRE(a.status == 200);
    std::string set = a.Header("Set-Cookie");
    REQUIRE(set.rfind("herald_desk=", 0) == 0);
    return {set.substr(0, set.find(';')), a.body["csrfToken"]};
  }
  Answer Call(const Session& s, std::string method, std::string path, const nlohmann::json& body = nullptr,
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("cookie", s.cookie);
    if (method != "GET") headers.emplace_back("x-csrf-token", s.csrf);
    return Send(std::move(method), std::move(path), body.is_null() ? "" : body.dump(), std::move(headers));
  }

  Store& store() { return *store_; }
  fs::path maildir_path() const { return dir_ / "maildir"; }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
  Registry registry_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<DecisionService> service_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<Desk> desk_;
};

int64_t CurrentVersion(Store& store) { return *store.catalogs()->CurrentCatalogVersion(); }

TEST_CASE("desk: signing in sets an HttpOnly SameSite cookie, Secure only under TLS - wrong user or password is one "
          "401",
          "[desk][api]") {
  DeskFixture desk;
  Answer ok = desk.Send("POST", "/api/v1/session", R"({"user":"ann","password":"correct-horse-battery"})");
  REQUIRE(ok.status == 200);
  CHECK(ok.body["role"] == "admin");
  CHECK(ok.body["csrfToken"].get<std::string>().size() >= 40);
  const std::string cookie = ok.Header("Set-Cookie");
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(cookie.find("SameSite=Strict") != std::string::npos);
  CHECK(cookie.find("Secure") == std::string::npos);
  Answer over_tls = desk.Send("POST", "/api/v1/session", R"({"user":"ann","password":"correct-horse-battery"})", {},
                              "192.0.2.9", /*tls=*/true);
  CHECK(over_tls.Header("Set-Cookie").find("; Secure") != std::string::npos);
  CHECK(ok.Header("Content-Security-Policy").find("default-src 'self'") != std::string::npos);

  Answer wrong = desk.Send("POST", "/api/v1/session", R"({"user":"ann","password":"nope-nope-nope"})");
  Answer unknown = desk.Send("POST", "/api/v1/session", R"({"user":"nobody","password":"nope-nope-nope"})");
  CHECK(wrong.status == 401);
  CHECK(unknown.status == 401);
  CHECK(wrong.body["message"] == unknown.body["message"]);
  CHECK(desk.Send("GET", "/api/v1/catalog").status == 401);
  CHECK(desk.Send("GET", "/api/v1/catalog", "", {{"cookie", "herald_desk=forged"}}).status == 401);
}

TEST_CASE("desk: after five failed sign-ins a user waits (429, Retry-After), from any address", "[desk][api]") {
  DeskFixture desk;
  for (int i = 0; i < 5; ++i) {
    CHECK(desk.Send("POST", "/api/v1/session", R"({"user":"ed","password":"wrong-wrong-wrong"})", {},
                    "198.51.100." + std::to_string(i))
              .status == 401);
  }
  Answer locked = desk.Send("POST", "/api/v1/session", R"({"user":"ed","password":"correct-horse-battery"})", {},
                            "203.0.113.7");
  CHECK(locked.status == 429);
  CHECK(locked.body["code"] == "resource_exhausted");
  CHECK(!locked.Header("Retry-After").empty());
  // Another user from yet another address is not held up.
  CHECK(desk.Send("POST", "/api/v1/session", R"({"user":"ann","password":"correct-horse-battery"})", {},
                  "203.0.113.8")
            .status == 200);
}

TEST_CASE("desk: a change needs the session's CSRF token and no foreign Origin - nothing is saved otherwise",
          "[desk][api]") {
  DeskFixture desk;
  auto ann = desk.SignIn("ann");
  const std::string body = R"({"name":"Bolt Bikes"})";
  Answer missing = desk.Send("PUT", "/api/v1/customers/bolt", body, {{"cookie", ann.cookie}});
  CHECK(missing.status == 403);
  CHECK(missing.body["code"] == "csrf_token_missing");
  auto other = desk.SignIn("ed");
  Answer wrong = desk.Send("PUT", "/api/v1/customers/bolt", body, {{"cookie", ann.cookie}, {"x-csrf-token", other.csrf}});
  CHECK(wrong.status == 403);
  CHECK(wrong.body["code"] == "csrf_token_wrong");
  Answer foreign = desk.Send("PUT", "/api/v1/customers/bolt", body,
                             {{"cookie", ann.cookie}, {"x-csrf-token", ann.csrf}, {"origin", "https://evil.example"}});
  CHECK(foreign.status == 403);
  CHECK(foreign.body["code"] == "origin_refused");
  Answer form = desk.Send("PUT", "/api/v1/customers/bolt", "name=x",
                          {{"cookie", ann.cookie}, {"x-csrf-token", ann.csrf}, {"content-type", "text/plain"}});
  CHECK(form.status == 415);
  CHECK(CurrentVersion(desk.store()) == 1);

  Answer saved = desk.Call(ann, "PUT", "/api/v1/customers/bolt", nlohmann::json{{"name", "Bolt Bikes"}},
                           {{"origin", "http://127.0.0.1:8081"}});
  REQUIRE(saved.status == 200);
  CHECK(saved.body["version"] == 2);
  CHECK(saved.body["changes"] == nlohmann::json::array({"added customer \"bolt\""}));
  Answer audit = desk.Call(ann, "GET", "/api/v1/audit?limit=1");
  REQUIRE(audit.body["entries"].size() == 1);
  CHECK(audit.body["entries"][0]["user"] == "ann");
  CHECK(audit.body["entries"][0]["action"] == "catalog.save");
  CHECK(audit.body["entries"][0]["object"] == "customer \"bolt\"");
}

TEST_CASE("desk: roles - a viewer reads and checks, an editor edits, only an admin manages users", "[desk][api]") {
  DeskFixture desk;
  auto vic = desk.SignIn("vic");
  auto ed = desk.SignIn("ed");
  CHECK(desk.Call(vic, "GET", "/api/v1/catalog").status == 200);
  CHECK(desk.Call(vic, "POST", "/api/v1/expressions:check", {{"expression", "user.state == 'WA'"}}).status == 200);
  Answer refused = desk.Call(vic, "PUT", "/api/v1/customers/bolt", {{"name", "Bolt"}});
  CHECK(refused.status == 403);
  CHECK(refused.body["code"] == "permission_denied");
  CHECK(desk.Call(ed, "PUT", "/api/v1/customers/bolt", {{"name", "Bolt"}}).status == 200);
  CHECK(desk.Call(ed, "GET", "/api/v1/users").status == 403);
  CHECK(desk.Call(ed, "POST", "/api/v1/users", {{"name", "eve"}, {"role", "admin"}, {"password", kPassword}}).status ==
        403);
  CHECK(CurrentVersion(desk.store()) == 2);
}

TEST_CASE("desk: customers in alphabetical order - a change on an old version is refused (409) - an invalid one lists "
          "its issues",
          "[desk][api]") {
  DeskFixture desk;
  auto ed = desk.SignIn("ed");
  Answer customers = desk.Call(ed, "GET", "/api/v1/customers");
  REQUIRE(customers.body["customers"].size() == 2);
  CHECK(customers.body["customers"][0]["id"] == "acme");  // "acme Outdoor" before "Zeta Paints", case aside
  CHECK(desk.Call(ed, "PUT", "/api/v1/customers/bolt", {{"name", "Bolt"}}, {{"if-match", "\"1\""}}).status == 200);
  Answer stale = desk.Call(ed, "PUT", "/api/v1/customers/zeta", {{"name", "Zeta"}}, {{"if-match", "\"1\""}});
  CHECK(stale.status == 409);
  CHECK(stale.body["code"] == "aborted");
  Answer invalid = desk.Call(ed, "PUT", "/api/v1/campaigns/fall",
                             {{"name", "Fall"}, {"customerId", "nobody"}, {"start", "2026-09-01"}});
  CHECK(invalid.status == 400);
  REQUIRE(invalid.body["issues"].is_array());
  CHECK(invalid.body["issues"][0]["message"].get<std::string>().find("nobody") != std::string::npos);
  Answer renamed = desk.Call(ed, "PUT", "/api/v1/customers/zeta", {{"id", "other"}, {"name", "Zeta"}});
  CHECK(renamed.status == 400);
  CHECK(renamed.body["field"] == "id");
  CHECK(desk.Call(ed, "DELETE", "/api/v1/customers/nobody").status == 404);
  CHECK(CurrentVersion(desk.store()) == 2);
}

TEST_CASE("desk: the goaling switch through the API - 1,500 at 1000:500, then weights 3 and 1 give 1,125 and 375",
          "[desk][api][goaling]") {
  DeskFixture desk;
  auto ed = desk.SignIn("ed");
  Answer switched = desk.Call(ed, "POST", "/api/v1/campaigns/spring:set-goaling", {{"level", "campaign"}});
  REQUIRE(switched.status == 200);
  CHECK(switched.body["items"] == nlohmann::json::parse(R"([{"id":"ad-1","quantity":1000,"weight":1000.0},
                                                           {"id":"ad-2","quantity":500,"weight":500.0}])"));
  Answer catalog = desk.Call(ed, "GET", "/api/v1/catalog");
  CHECK(catalog.body["catalog"]["campaigns"][0]["quantityOrdered"] == "1500");
  for (auto [id, weight] : {std::pair{"ad-1", 3}, {"ad-2", 1}}) {
    nlohmann::json item = {{"id", id}, {"name", id}, {"ad", {{"type", "AD_TYPE_PAID"}, {"weight", weight}}}};
    REQUIRE(desk.Call(ed, "PUT", std::string("/api/v1/campaigns/spring/items/") + id, item).status == 200);
  }
  catalog = desk.Call(ed, "GET", "/api/v1/catalog");
  CHECK(catalog.body["goals"] == nlohmann::json{{"ad-1", 1125}, {"ad-2", 375}});
  Answer back = desk.Call(ed, "POST", "/api/v1/campaigns/spring:set-goaling", {{"level", "ad"}});
  REQUIRE(back.status == 200);
  CHECK(back.body["items"][0]["quantity"] == 1125);
  CHECK(desk.Call(ed, "POST", "/api/v1/campaigns/spring:set-goaling", {{"level", "both"}}).status == 400);
}

TEST_CASE("desk: an expression check marks the error's line and column", "[desk][api]") {
  DeskFixture desk;
  auto vic = desk.SignIn("vic");
  Answer good = desk.Call(vic, "POST", "/api/v1/expressions:check", {{"expression", "user.state == 'WA'"}});
  CHECK(good.body["ok"] == true);
  Answer typo = desk.Call(vic, "POST", "/api/v1/expressions:check", {{"expression", "user.state == 'WA' && usr.x"}});
  CHECK(typo.body["ok"] == false);
  CHECK(typo.body["line"] == 1);
  CHECK(typo.body["column"] == 23);
  CHECK(typo.body["message"].get<std::string>().find("usr") != std::string::npos);
  CHECK(desk.Call(vic, "POST", "/api/v1/expressions:check", {{"expression", "x"}, {"kind", "sql"}}).status == 400);
}

TEST_CASE("desk: users - an admin adds, changes and removes - a changed password signs the user out", "[desk][api]") {
  DeskFixture desk;
  auto ann = desk.SignIn("ann");
  auto vic = desk.SignIn("vic");
  CHECK(desk.Call(ann, "POST", "/api/v1/users", {{"name", "bob"}, {"role", "chief"}, {"password", kPassword}}).status ==
        400);
  CHECK(desk.Call(ann, "POST", "/api/v1/users", {{"name", "bob"}, {"role", "viewer"}, {"password", "short"}}).status ==
        400);
  CHECK(desk.Call(ann, "POST", "/api/v1/users", {{"name", "bob"}, {"role", "viewer"}, {"password", kPassword}}).status ==
        201);
  CHECK(desk.Call(ann, "POST", "/api/v1/users", {{"name", "bob"}, {"role", "viewer"}, {"password", kPassword}}).status ==
        409);
  CHECK(desk.Call(ann, "PATCH", "/api/v1/users/vic", {{"password", "another-long-password"}}).status == 200);
  CHECK(desk.Call(vic, "GET", "/api/v1/session").status == 401);
  CHECK(desk.Call(ann, "PATCH", "/api/v1/users/ann", {{"role", "viewer"}}).status == 409);
  CHECK(desk.Call(ann, "DELETE", "/api/v1/users/ann").status == 409);
  CHECK(desk.Call(ann, "DELETE", "/api/v1/users/bob").status == 204);
  Answer audit = desk.Call(ann, "GET", "/api/v1/audit");
  std::vector<std::string> actions;
  for (const auto& e : audit.body["entries"]) actions.push_back(e["action"]);
  CHECK(std::find(actions.begin(), actions.end(), "user.delete") != actions.end());
  CHECK(std::find(actions.begin(), actions.end(), "user.update") != actions.end());
}

TEST_CASE("desk: the app's files - its own folder and the listed npm packages only", "[desk][api]") {
  DeskFixture desk;
  Answer index = desk.Send("GET", "/");
  CHECK(index.status == 200);
  CHECK(index.raw.content_type.rfind("text/html", 0) == 0);
  CHECK(desk.Send("GET", "/lib/preact/dist/preact.module.js").raw.content_type.rfind("text/javascript", 0) == 0);
  for (const char* path : {"/lib/secret/key.js", "/app/../node_modules/secret/key.js", "/app/%2e%2e/h.db",
                           "/app/..%2fh.db", "/lib/preact/../secret/key.js", "/app/index.html%00.js", "/h.db"}) {
    INFO(path);
    CHECK(desk.Send("GET", path).status == 404);
  }
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

constexpr const char* kRecipientsCsv =
    "Name,E-Mail Address,City\n"
    "Ada,ada@Example.COM,London\n"
    "\"Bob, Jr.\",bob@example.com,\"Two\nLines\"\n"
    "Cy,not-an-address,Paris\n"
    "Ada again,ada@EXAMPLE.com,Leeds\n"
    "Di,di@example.org,Rome\n";

// A direct-mail item to the list "customers" minus the opt-out list "optouts".
nlohmann::json SpringLetter() {
  return {{"id", "mail-1"},
          {"name", "Spring letter"},
          {"directMail",
           {{"recipients", {{"storeList", "customers"}}},
            {"optOutStoreList", "optouts"},
            {"from", "Shop <shop@example.com>"},
            {"message", {{"template", {{"subject", "Hello {{Name}}"}, {"text", "Hi {{Name}} of {{City}}"}}}}}}}};
}

// The messages in a Maildir's new/ folder.
std::vector<std::string> MaildirMessages(const fs::path& maildir) {
  std::vector<std::string> out;
  if (!fs::exists(maildir / "new")) return out;
  for (const auto& entry : fs::directory_iterator(maildir / "new")) {
    std::ifstream in(entry.path(), std::ios::binary);
    out.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  return out;
}

// Polls the job until it is no longer running here (a bounded wait, not a timing assertion).
Answer WaitForJob(DeskFixture& desk, const DeskFixture::Session& s, const std::string& item) {
  Answer a;
  for (int i = 0; i < 600; ++i) {
    a = desk.Call(s, "GET", "/api/v1/mail-jobs/" + item);
    if (a.status != 200 || !a.body["running"].get<bool>()) return a;
    usleep(50 * 1000);
  }
  return a;
}

TEST_CASE("desk: the List Manager previews a CSV's column mapping - left-out rows named by line - nothing saved",
          "[desk][lists]") {
  DeskFixture desk;
  auto ed = desk.SignIn("ed");
  Answer preview = desk.Call(ed, "POST", "/api/v1/lists:preview", {{"csv", kRecipientsCsv}});
  REQUIRE(preview.status == 200);
  CHECK(preview.body["emailColumn"] == "E-Mail Address");  // guessed from its header
  CHECK(preview.body["columns"] == nlohmann::json({"Name", "E-Mail Address", "City"}));
  CHECK(preview.body["mappedColumns"] == nlohmann::json({"Name", "email", "City"}));
  CHECK(preview.body["rows"] == 5);
  CHECK(preview.body["valid"] == 3);
  CHECK(preview.body["invalidAddresses"] == 1);
  CHECK(preview.body["duplicates"] == 1);
  REQUIRE(preview.body["sample"].size() == 3);
  CHECK(preview.body["sample"][0] == nlohmann::json({"Ada", "ada@example.com", "London"}));  // domain lowercased
  CHECK(preview.body["sample"][1][2] == "Two\nLines");
  REQUIRE(preview.body["problems"].size() == 2);
  CHECK(preview.body["problems"][0]["line"] == 5);  // the quoted line break moves it down one
  CHECK(preview.body["problems"][1]["line"] == 6);
  CHECK(preview.body["problems"][1]["message"].get<std::string>().find("earlier row") != std::string::npos);
  CHECK(desk.store().mail_lists()->ListLists()->empty());

  // Without a header that says so, the column whose values are addresses.
  Answer by_values = desk.Call(ed, "POST", "/api/v1/lists:preview", {{"csv", "who,contact\nA,a@x.org\nB,b@x.org\n"}});
  CHECK(by_values.body["emailColumn"] == "contact");
  Answer none = desk.Call(ed, "POST", "/api/v1/lists:preview", {{"csv", "who,city\nA,Rome\n"}});
  CHECK(none.status == 400);
  CHECK(none.body["field"] == "emailColumn");
  Answer missing = desk.Call(ed, "POST", "/api/v1/lists:preview", {{"csv", kRecipientsCsv}, {"emailColumn", "Mail"}});
  CHECK(missing.status == 400);
  CHECK(missing.body["message"].get<std::string>().find("E-Mail Address") != std::string::npos);
  Answer ragged = desk.Call(ed, "POST", "/api/v1/lists:preview", {{"csv", "email,name\na@x.org\n"}});
  CHECK(ragged.status == 400);
  CHECK(ragged.body["message"].get<std::string>().find("csv:2") != std::string::npos);
  Answer clash = desk.Call(ed, "POST", "/api/v1/lists:preview",
                           {{"csv", "contact,email\na@x.org,b@x.org\n"}, {"emailColumn", "contact"}});
  CHECK(clash.status == 400);
  auto vic = desk.SignIn("vic");
  CHECK(desk.Call(vic, "POST", "/api/v1/lists:preview", {{"csv", kRecipientsCsv}}).status == 403);
}

TEST_CASE("desk: lists stored, paged and counted after the opt-out lists - a list in use is not deleted",
          "[desk][lists]") {
  DeskFixture desk;
  auto ed = desk.SignIn("ed");
  Answer put = desk.Call(ed, "PUT", "/api/v1/lists/customers", {{"csv", kRecipientsCsv}, {"description", "crm"}});
  REQUIRE(put.status == 200);
  CHECK(put.body["imported"] == 3);
  CHECK(put.body["list"]["rows"] == 3);
  CHECK(put.body["list"]["kind"] == "recipients");
  CHECK(put.body["list"]["updatedBy"] == "ed");
  Answer page = desk.Call(ed, "GET", "/api/v1/lists/customers?offset=1&limit=1");
  REQUIRE(page.status == 200);
  REQUIRE(page.body["rows"].size() == 1);
  CHECK(page.body["rows"][0][1] == "bob@example.com");
  CHECK(desk.Call(ed, "GET", "/api/v1/lists/customers?limit=5000").status == 400);
  CHECK(desk.Call(ed, "GET", "/api/v1/lists/nothing").status == 404);
  CHECK(desk.Call(ed, "PUT", "/api/v1/lists/bad%20name", {{"csv", kRecipientsCsv}}).status == 400);

  Answer optouts = desk.Call(ed, "PUT", "/api/v1/lists/optouts",
                             {{"kind", "opt-out"}, {"addresses", {"bob@Example.COM", "zed@x.org", "oops"}}});
  REQUIRE(optouts.status == 200);
  CHECK(optouts.body["imported"] == 2);
  CHECK(optouts.body["invalidAddresses"] == 1);
  // An import into an existing opt-out list adds to it; replacing it is asked for.
  Answer merged = desk.Call(ed, "PUT", "/api/v1/lists/optouts", {{"kind", "opt-out"}, {"addresses", {"new@x.org", "zed@x.org"}}});
  REQUIRE(merged.status == 200);
  CHECK(merged.body["imported"] == 1);
  CHECK(merged.body["list"]["rows"] == 3);
  Answer replaced = desk.Call(ed, "PUT", "/api/v1/lists/optouts",
                              {{"kind", "opt-out"}, {"replace", true}, {"addresses", {"bob@Example.COM", "zed@x.org"}}});
  REQUIRE(replaced.status == 200);
  CHECK(replaced.body["list"]["rows"] == 2);
  Answer added = desk.Call(ed, "POST", "/api/v1/lists/site:add", {{"addresses", {"di@example.org", "nope"}}});
  REQUIRE(added.status == 200);
  CHECK(added.body["added"] == 1);
  CHECK(added.body["invalid"] == nlohmann::json({"nope"}));
  CHECK(desk.Call(ed, "POST", "/api/v1/lists/site:add", {{"addresses", {"di@EXAMPLE.org"}}}).body["added"] == 0);
  CHECK(desk.Call(ed, "POST", "/api/v1/lists/customers:add", {{"addresses", {"a@x.org"}}}).status == 409);

  // An item that uses the lists, and the site-wide one in the catalog.
  const nlohmann::json item = SpringLetter();
  REQUIRE(desk.Call(ed, "PUT", "/api/v1/campaigns/spring/items/mail-1", item).status == 200);
  Answer catalog = desk.Call(ed, "GET", "/api/v1/catalog");
  nlohmann::json with_site = catalog.body["catalog"];
  with_site["siteOptOutStoreList"] = "site";
  REQUIRE(desk.Call(ed, "PUT", "/api/v1/catalog", {{"catalog", with_site}, {"basedOn", catalog.body["version"]}}).status ==
          200);
  Answer audience = desk.Call(ed, "GET", "/api/v1/mail-items/mail-1/audience");
  REQUIRE(audience.status == 200);
  CHECK(audience.body["recipients"] == 3);
  CHECK(audience.body["optedOutItem"] == 1);   // bob
  CHECK(audience.body["optedOutSite"] == 1);   // di
  CHECK(audience.body["optedOut"] == 2);
  CHECK(audience.body["willReceive"] == 1);    // ada
  CHECK(audience.body["recipientList"] == "customers");
  CHECK(desk.Call(ed, "GET", "/api/v1/mail-items/ad-1/audience").status == 404);

  Answer in_use = desk.Call(ed, "DELETE", "/api/v1/lists/optouts");
  CHECK(in_use.status == 409);
  CHECK(in_use.body["message"].get<std::string>().find("item \"mail-1\" opt_out_store_list") != std::string::npos);
  REQUIRE(desk.Call(ed, "PUT", "/api/v1/lists/spare", {{"kind", "opt-out"}, {"addresses", {"q@x.org"}}}).status == 200);
  CHECK(desk.Call(ed, "DELETE", "/api/v1/lists/spare").status == 204);
  CHECK(desk.Call(ed, "GET", "/api/v1/lists/spare").status == 404);

  Answer lists = desk.Call(ed, "GET", "/api/v1/lists");
  REQUIRE(lists.body["lists"].size() == 3);
  CHECK(lists.body["lists"][0]["name"] == "customers");
  Answer audit = desk.Call(ed, "GET", "/api/v1/audit?limit=50");
  std::string actions;
  for (const auto& e : audit.body["entries"]) actions += e["action"].get<std::string>() + " ";
  CHECK(actions.find("list.import") != std::string::npos);
  CHECK(actions.find("list.add") != std::string::npos);
  CHECK(actions.find("list.delete") != std::string::npos);
}

TEST_CASE("desk: a mail job started from the desk sends once to each recipient left after the opt-out lists",
          "[desk][lists][mail]") {
  DeskFixture desk(/*with_mail=*/true);
  auto ed = desk.SignIn("ed");
  REQUIRE(desk.Call(ed, "PUT", "/api/v1/lists/customers", {{"csv", kRecipientsCsv}}).status == 200);
  REQUIRE(desk.Call(ed, "PUT", "/api/v1/lists/optouts", {{"kind", "opt-out"}, {"addresses", {"bob@example.com"}}})
              .status == 200);
  const nlohmann::json item = SpringLetter();
  REQUIRE(desk.Call(ed, "PUT", "/api/v1/campaigns/spring/items/mail-1", item).status == 200);

  Answer before = desk.Call(ed, "GET", "/api/v1/mail-jobs");
  REQUIRE(before.body["jobs"].size() == 1);
  CHECK(before.body["jobs"][0]["state"] == "none");
  auto vic = desk.SignIn("vic");
  CHECK(desk.Call(vic, "POST", "/api/v1/mail-jobs/mail-1:start", nlohmann::json::object()).status == 403);
  CHECK(desk.Call(ed, "POST", "/api/v1/mail-jobs/mail-1:pause", nlohmann::json::object()).status == 404);

  Answer started = desk.Call(ed, "POST", "/api/v1/mail-jobs/mail-1:start", nlohmann::json::object());
  REQUIRE(started.status == 202);
  Answer done = WaitForJob(desk, ed, "mail-1");
  REQUIRE(done.status == 200);
  CHECK(done.body["state"] == "completed");
  CHECK(done.body["error"] == "");
  CHECK(done.body["total"] == 3);
  CHECK(done.body["sent"] == 2);
  CHECK(done.body["skipped"] == 1);
  CHECK(done.body["report"]["sent_this_run"] == 2);
  std::vector<std::string> messages = MaildirMessages(desk.maildir_path());
  REQUIRE(messages.size() == 2);
  std::string all = messages[0] + messages[1];
  CHECK(all.find("To: ada@example.com") != std::string::npos);
  CHECK(all.find("To: di@example.org") != std::string::npos);
  CHECK(all.find("Hi Ada of London") != std::string::npos);
  CHECK(all.find("bob@example.com") == std::string::npos);

  // Started again: the ledger mails nobody twice.
  REQUIRE(desk.Call(ed, "POST", "/api/v1/mail-jobs/mail-1:start", nlohmann::json::object()).status == 202);
  CHECK(WaitForJob(desk, ed, "mail-1").body["state"] == "completed");
  CHECK(MaildirMessages(desk.maildir_path()).size() == 2);
  // A finished job cannot be paused; aborting it is refused too.
  CHECK(desk.Call(ed, "POST", "/api/v1/mail-jobs/mail-1:pause", nlohmann::json::object()).status == 409);
}

TEST_CASE("desk: without a mail transport a job start says how to give one", "[desk][lists][mail]") {
  DeskFixture desk;
  auto ed = desk.SignIn("ed");
  REQUIRE(desk.Call(ed, "PUT", "/api/v1/lists/customers", {{"csv", kRecipientsCsv}}).status == 200);
  nlohmann::json item = {{"id", "mail-1"},
                         {"name", "Letter"},
                         {"directMail",
                          {{"recipients", {{"storeList", "customers"}}},
                           {"from", "shop@example.com"},
                           {"message", {{"template", {{"subject", "Hello"}, {"text", "Hi"}}}}}}}};
  Answer saved = desk.Call(ed, "PUT", "/api/v1/campaigns/spring/items/mail-1", item);
  INFO(saved.body.dump());
  REQUIRE(saved.status == 200);
  Answer refused = desk.Call(ed, "POST", "/api/v1/mail-jobs/mail-1:start", nlohmann::json::object());
  CHECK(refused.status == 409);
  CHECK(refused.body["message"].get<std::string>().find("--mail-maildir") != std::string::npos);
  CHECK(desk.Call(ed, "GET", "/api/v1/mail-jobs/mail-1").body["state"] == "none");

  // No files folder: an item naming a file (here the server's own database) is refused, never read.
  item["directMail"]["recipients"] = {{"csvPath", "h.db"}};
  REQUIRE(desk.Call(ed, "PUT", "/api/v1/campaigns/spring/items/mail-1", item).status == 200);
  Answer file = desk.Call(ed, "GET", "/api/v1/mail-items/mail-1/audience");
  CHECK(file.status == 409);
  CHECK(file.body["message"].get<std::string>().find("desk_mail.files_dir") != std::string::npos);
  item["directMail"]["recipients"] = {{"storeList", "customers"}};
  item["directMail"]["message"] = {{"url", "http://169.254.169.254/latest"}};
  REQUIRE(desk.Call(ed, "PUT", "/api/v1/campaigns/spring/items/mail-1", item).status == 200);
  CHECK(desk.Call(ed, "GET", "/api/v1/mail-items/mail-1/audience").status == 409);
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

TEST_CASE("desk: a customer's contact and billing address are kept - a malformed one is refused at its path",
          "[desk][api]") {
  DeskFixture desk;
  auto ed = desk.SignIn("ed");
  nlohmann::json customer = {{"id", "acme"},
                             {"name", "acme Outdoor"},
                             {"contactName", "Ann Lee"},
                             {"contactEmail", "ann@acme.example"},
                             {"billingAddress",
                              {{"lines", {"1 Main St", "Suite 2"}}, {"locality", "Portland"}, {"region", "OR"},
                               {"postalCode", "97201"}, {"countryCode", "US"}}}};
  REQUIRE(desk.Call(ed, "PUT", "/api/v1/customers/acme", customer).status == 200);
  Answer list = desk.Call(ed, "GET", "/api/v1/customers");
  nlohmann::json kept;
  for (const auto& c : list.body["customers"]) {
    if (c["id"] == "acme") kept = c;
  }
  CHECK(kept["billingAddress"]["lines"][1] == "Suite 2");
  CHECK(kept["billingAddress"]["countryCode"] == "US");
  CHECK(kept["contactEmail"] == "ann@acme.example");

  customer["billingAddress"]["countryCode"] = "usa";
  Answer bad_country = desk.Call(ed, "PUT", "/api/v1/customers/acme", customer);
  CHECK(bad_country.status == 400);
  REQUIRE(bad_country.body["issues"].size() == 1);
  CHECK(bad_country.body["issues"][0]["path"].get<std::string>().find("customer \"acme\"") != std::string::npos);
  CHECK(bad_country.body["field"] == "");
  customer["billingAddress"]["countryCode"] = "US";
  customer["contactEmail"] = "ann at acme";
  CHECK(desk.Call(ed, "PUT", "/api/v1/customers/acme", customer).status == 400);
}

TEST_CASE("desk: saving an item that names a list not imported yet warns, and saves", "[desk][lists]") {
  DeskFixture desk;
  auto ed = desk.SignIn("ed");
  Answer saved = desk.Call(ed, "PUT", "/api/v1/campaigns/spring/items/mail-1", SpringLetter());
  INFO(saved.body.dump());
  REQUIRE(saved.status == 200);
  std::vector<std::string> warnings;
  for (const auto& w : saved.body["warnings"]) {
    warnings.push_back(w["path"].get<std::string>() + ": " + w["message"].get<std::string>());
  }
  CHECK(warnings == std::vector<std::string>{
                        "campaign \"Spring\" / direct mail \"Spring letter\": recipients.store_list: no list "
                        "\"customers\" in the List Manager yet; import it before the job starts",
                        "campaign \"Spring\" / direct mail \"Spring letter\": opt_out_store_list: no list "
                        "\"optouts\" in the List Manager yet; import it before the job starts"});
  // Once both lists are imported, the same save warns no more.
  REQUIRE(desk.Call(ed, "PUT", "/api/v1/lists/customers", {{"csv", kRecipientsCsv}}).status == 200);
  REQUIRE(desk.Call(ed, "PUT", "/api/v1/lists/optouts", {{"kind", "opt-out"}, {"addresses", {"ada@example.com"}}})
              .status == 200);
  saved = desk.Call(ed, "PUT", "/api/v1/campaigns/spring/items/mail-1", SpringLetter());
  REQUIRE(saved.status == 200);
  CHECK(saved.body["warnings"].empty());
}

}  // namespace
}  // namespace herald
