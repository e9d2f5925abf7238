// `herald capture` and `herald export`, the built binary driven from the
// test (tools/herald/capture_command.cc, export_command.cc): what they print,
// their exit codes, what they write to the store, and that credentials are
// never printed. The stand-in servers run in this process on 127.0.0.1; the
// binary inherits the credential variables from it.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "herald_process.h"
#include "herald/conversion.h"
#include "herald/store.h"
#include "nlohmann/json.hpp"
#include "standin_servers.h"

namespace herald {
namespace {

using testing::GoogleStandIn;
using testing::MetaStandIn;

constexpr char kMetaToken[] = "EAAGcliMETAsecret0123456789";
constexpr char kGoogleDev[] = "devCLIsecret-4242";
constexpr char kGoogleAccess[] = "ya29.cliACCESSsecret-abcdef";
constexpr char kWrongToken[] = "wrong-cli-token-value-1234";
const std::string kHerald = std::string(HERALD_BINARY_DIR) + "/bin/herald";
const std::string kCatalog = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";


std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Dir {
  std::string path;
  Dir() {
    char tmpl[] = "/tmp/herald-conv-cli-XXXXXX";
    char* made = mkdtemp(tmpl);
    path = made == nullptr ? std::string("/tmp") : std::string(made);
  }
  ~Dir() { (void)std::system(("rm -rf " + path).c_str()); }
};

// The stores these tests open (here and in the herald processes they run)
// keep raw identifiers sealed under a test key, so the exports normalize the
// raw values as the destinations' rules say (docs/operations.md, "Personal
// data at rest"); test/privacy covers the other modes.
[[maybe_unused]] const bool kTestKey = [] {
  setenv("HERALD_PERSONAL_DATA_KEYS", "test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 0);
  return true;
}();

using Run = testing::HeraldRun;

// Runs `herald <args...>`; stdout and stderr apart.
Run Herald(const Dir& dir, const std::vector<std::string>& args) {
  (void)dir;
  return testing::RunHerald(args);
}

std::vector<v1::InteractionRecord> Records(const std::string& store_path) {
  Registry registry;
  auto store = OpenStore(store_path, registry);
  REQUIRE(store.ok());
  auto all = (*store)->interactions().ReadInteractions(0, 100000);
  REQUIRE(all.ok());
  return *all;
}

// Captures `accepted` Accepted responses of PlatinumCreditCard and one Rejected.
void CaptureSome(const std::string& store_path, int accepted) {
  Registry registry;
  auto store = OpenStore(store_path, registry);
  REQUIRE(store.ok());
  for (int i = 0; i <= accepted; ++i) {
    v1::InteractionRecord r;
    r.mutable_subject()->set_email("buyer" + std::to_string(i) + "@example.org");
    r.mutable_subject()->set_phone("+1 650 555 " + std::to_string(1000 + i));
    r.mutable_subject()->set_gclid("Cj0-cli-" + std::to_string(i));
    r.mutable_action()->set_issue("Sales");
    r.mutable_action()->set_group("Cards");
    r.mutable_action()->set_name("PlatinumCreditCard");
    r.set_outcome(i < accepted ? v1::OUTCOME_ACCEPTED : v1::OUTCOME_REJECTED);
    r.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(3)));
    r.mutable_value()->set_minor_units(1999);
    r.mutable_value()->set_currency("USD");
    r.set_order_id("cli-order-" + std::to_string(i));
    // Asked and granted, so that every destination's default consent policy sends them.
    r.mutable_consent()->set_ad_user_data(v1::CONSENT_STATUS_GRANTED);
    r.mutable_consent()->set_ad_personalization(v1::CONSENT_STATUS_GRANTED);
    REQUIRE(CaptureResponse(**store, r).ok());
  }
}

TEST_CASE("herald capture records a good response and rejects a bad one with its reason", "[conversion][cli]") {
  Dir dir;
  const std::string db = dir.path + "/site.db";
  Run good = Herald(dir, {"capture", "--store", db, "--catalog", kCatalog, "--issue", "Sales", "--group", "Cards",
                          "--action", "PlatinumCreditCard", "--outcome", "Accepted", "--email", "Ann@Example.org",
                          "--phone", "+1 650 555 1212", "--gclid", "Cj0KCQ-cli", "--value", "19.99",
                          "--currency", "USD", "--order-id", "o-1001", "--channel", "Web"});
  INFO(good.err);
  REQUIRE(good.exit_code == 0);
  auto printed = nlohmann::json::parse(good.out, nullptr, false);
  REQUIRE(printed.is_object());
  const std::string id = printed["interaction_id"].get<std::string>();
  CHECK(id.size() == 32);
  CHECK(printed["order_id"] == "o-1001");

  // The record is in the store, as given.
  auto records = Records(db);
  REQUIRE(records.size() == 1);
  CHECK(records[0].interaction_id() == id);
  CHECK(records[0].subject().email() == "Ann@Example.org");
  CHECK(records[0].subject().gclid() == "Cj0KCQ-cli");
  CHECK(records[0].outcome() == v1::OUTCOME_ACCEPTED);
  CHECK(records[0].value().minor_units() == 1999);
  CHECK(records[0].value().currency() == "USD");
  CHECK(records[0].action().name() == "PlatinumCreditCard");

  // The whole record as JSON.
  Run json = Herald(dir, {"capture", "--store", db, "--catalog", kCatalog, "--record",
                          R"({"subject": {"email": "bo@example.org"}, "action": {"issue": "Sales", "group": "Gear",
                              "name": "WinterJacket"}, "outcome": "OUTCOME_ACCEPTED", "interaction_id": "cli-json-1"})"});
  INFO(json.err);
  CHECK(json.exit_code == 0);
  records = Records(db);
  REQUIRE(records.size() == 2);
  CHECK(records[1].interaction_id() == "cli-json-1");
  CHECK(records[1].action().name() == "WinterJacket");

  // Refused: the reason names the field; nothing is written.
  Run bad_email = Herald(dir, {"capture", "--store", db, "--issue", "Sales", "--group", "Cards", "--action",
                               "PlatinumCreditCard", "--outcome", "Accepted", "--email", "not-an-email"});
  CHECK(bad_email.exit_code == 1);
  CHECK(bad_email.out.empty());
  CHECK_THAT(bad_email.err, Catch::Contains("herald capture: CaptureResponse: subject.email"));
  Run unknown_action = Herald(dir, {"capture", "--store", db, "--catalog", kCatalog, "--issue", "Sales", "--group",
                                    "Cards", "--action", "GoldCard", "--outcome", "Accepted", "--email",
                                    "ann@example.org"});
  CHECK(unknown_action.exit_code == 1);
  CHECK_THAT(unknown_action.err, Catch::Contains("Sales/Cards/GoldCard"));
  Run bad_json = Herald(dir, {"capture", "--store", db, "--record", R"({"subject": {"emali": "x"}})"});
  CHECK(bad_json.exit_code == 1);
  CHECK_THAT(bad_json.err, Catch::Contains("--record:"));
  Run no_outcome = Herald(dir, {"capture", "--store", db, "--issue", "Sales", "--group", "Cards", "--action",
                                "PlatinumCreditCard", "--email", "ann@example.org"});
  CHECK(no_outcome.exit_code == 2);
  CHECK_THAT(no_outcome.err, Catch::Contains("--outcome is required"));
  Run value_without_currency = Herald(dir, {"capture", "--store", db, "--issue", "Sales", "--group", "Cards",
                                            "--action", "PlatinumCreditCard", "--outcome", "Accepted", "--email",
                                            "ann@example.org", "--value", "5"});
  CHECK(value_without_currency.exit_code == 1);
  CHECK_THAT(value_without_currency.err, Catch::Contains("--value needs --currency"));
  CHECK(Records(db).size() == 2);
}

TEST_CASE("herald capture records consent from flags and JSON - refuses bad values naming the field",
          "[conversion][cli][consent]") {
  setenv("HERALD_CLI_GOOGLE_DEV", kGoogleDev, 1);
  setenv("HERALD_CLI_GOOGLE_ACCESS", kGoogleAccess, 1);
  Dir dir;
  const std::string db = dir.path + "/site.db";
  const std::vector<std::string> base = {"capture", "--store", db, "--catalog", kCatalog, "--issue", "Sales",
                                         "--group", "Cards", "--action", "PlatinumCreditCard", "--outcome",
                                         "Accepted", "--gclid", "Cj0-consent"};
  auto capture = [&](const std::string& order, std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), {"--email", order + "@example.org", "--order-id", order});
    args.insert(args.end(), extra.begin(), extra.end());
    return Herald(dir, args);
  };
  Run granted = capture("o-granted", {"--ad-user-data", "granted", "--ad-personalization", "GRANTED",
                                      "--data-processing-options", "LDU", "--data-processing-country", "1",
                                      "--data-processing-state", "1000"});
  INFO(granted.err);
  REQUIRE(granted.exit_code == 0);
  auto printed = nlohmann::json::parse(granted.out, nullptr, false);
  REQUIRE(printed.is_object());
  CHECK(printed["consent"]["ad_user_data"] == "CONSENT_STATUS_GRANTED");
  REQUIRE(capture("o-denied", {"--ad-user-data", "denied"}).exit_code == 0);
  REQUIRE(capture("o-none", {}).exit_code == 0);
  Run json = Herald(dir, {"capture", "--store", db, "--catalog", kCatalog, "--record",
                          R"({"subject": {"email": "j@example.org", "gclid": "Cj0-json"}, "action": {"issue": "Sales",
                              "group": "Cards", "name": "PlatinumCreditCard"}, "outcome": "accepted",
                              "order_id": "o-json", "consent": {"ad_user_data": "granted",
                              "data_processing_options": []}})"});
  INFO(json.err);
  REQUIRE(json.exit_code == 0);
  auto records = Records(db);
  REQUIRE(records.size() == 4);
  CHECK(records[0].consent().ad_user_data() == v1::CONSENT_STATUS_GRANTED);
  CHECK(records[0].consent().ad_personalization() == v1::CONSENT_STATUS_GRANTED);
  CHECK(records[0].consent().data_processing_options_size() == 1);
  CHECK(records[0].consent().data_processing_options_state() == 1000);
  CHECK(records[1].consent().ad_user_data() == v1::CONSENT_STATUS_DENIED);
  CHECK_FALSE(records[2].has_consent());  // no flag: nothing recorded
  CHECK(records[3].consent().ad_user_data() == v1::CONSENT_STATUS_GRANTED);

  // Refused, naming the flag or the field; nothing is written.
  Run bad_status = capture("o-bad", {"--ad-user-data", "yes"});
  CHECK(bad_status.exit_code == 1);
  CHECK_THAT(bad_status.err, Catch::Contains("--ad-user-data: "));
  CHECK_THAT(bad_status.err, Catch::Contains("granted"));
  Run bad_option = capture("o-bad", {"--data-processing-options", "GDPR"});
  CHECK(bad_option.exit_code == 1);
  CHECK_THAT(bad_option.err, Catch::Contains("--data-processing-options: \"GDPR\""));
  Run bad_state = capture("o-bad", {"--data-processing-options", "LDU", "--data-processing-country", "1",
                                    "--data-processing-state", "7"});
  CHECK(bad_state.exit_code == 1);
  CHECK_THAT(bad_state.err, Catch::Contains("CaptureResponse: consent.data_processing_options_state"));
  Run bad_json = Herald(dir, {"capture", "--store", db, "--record",
                              R"({"subject": {"email": "j@example.org"}, "action": {"issue": "Sales", "group": "Cards",
                                  "name": "PlatinumCreditCard"}, "outcome": "accepted",
                                  "consent": {"ad_user_data": "maybe"}})"});
  CHECK(bad_json.exit_code == 1);
  CHECK_THAT(bad_json.err, Catch::Contains("--record:"));
  CHECK(Records(db).size() == 4);

  // Google's default: only the granted ones are sent; the others are counted.
  GoogleStandIn google("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(absl::Now()));
  google.Start();
  const std::string jobs = dir.path + "/exports.textproto";
  std::ofstream(jobs) << R"pb(
    jobs { destination: "google-ads" destination_type: "google_ads"
           destination_json_config: '{"customerId": "1234567890", "developerTokenEnv": "HERALD_CLI_GOOGLE_DEV", "accessTokenEnv": "HERALD_CLI_GOOGLE_ACCESS", "audienceJobPollMs": 5}' }
  )pb";
  const std::vector<std::string> export_args = {"export", "--destination", "google-ads", "--store", db, "--catalog",
                                                kCatalog, "--jobs", jobs, "--once", "--base-url", google.url()};
  std::vector<std::string> as_json = export_args;
  as_json.push_back("--json");
  Run run = Herald(dir, as_json);
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  auto report = nlohmann::json::parse(run.out, nullptr, false);
  REQUIRE(report.is_object());
  CHECK(report["delivered"] == 2);
  CHECK(report["no_consent"] == 2);
  CHECK(report["no_consent_by_reason"] == nlohmann::json({{"ad_user_data_denied", 1}, {"ad_user_data_not_granted", 1}}));
  CHECK(report["audience_no_consent"] == 1);  // o-json: ad_personalization not given
  std::set<std::string> sent;
  for (const auto& c : google.conversions()) sent.insert(c["orderId"].get<std::string>());
  CHECK(sent == std::set<std::string>{"o-granted", "o-json"});
  CHECK(google.violations().empty());
  // The text summary names the count too (a new run: nothing left, 0).
  Run text = Herald(dir, export_args);
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("no consent       0"));
}

TEST_CASE("herald export sends to the file destination once and then nothing new", "[conversion][cli]") {
  Dir dir;
  const std::string db = dir.path + "/site.db";
  CaptureSome(db, 3);
  const std::string jobs = dir.path + "/exports.textproto";
  std::ofstream(jobs) << R"pb(
    jobs { destination: "file-out" destination_type: "file" destination_json_config: '{"path": "out.jsonl"}' }
  )pb";
  const std::vector<std::string> base = {"export", "--destination", "file-out", "--store", db,
                                         "--catalog", kCatalog, "--jobs", jobs};
  std::vector<std::string> once = base;
  once.push_back("--once");
  once.push_back("--json");
  Run first = Herald(dir, once);
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  auto report = nlohmann::json::parse(first.out, nullptr, false);
  REQUIRE(report.is_object());
  CHECK(report["destination"] == "file-out");
  CHECK(report["state"] == "completed");
  CHECK(report["delivered"] == 3);
  CHECK(report["interactions_read"] == 4);
  // Relative paths are relative to the jobs file.
  std::istringstream lines(ReadFile(dir.path + "/out.jsonl"));
  std::string line;
  std::set<std::string> orders;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    orders.insert(j["order_id"].get<std::string>());
  }
  CHECK(orders == std::set<std::string>{"cli-order-0", "cli-order-1", "cli-order-2"});

  // The watermark moved: the second run reads nothing and writes nothing.
  Run second = Herald(dir, once);
  REQUIRE(second.exit_code == 0);
  auto again = nlohmann::json::parse(second.out, nullptr, false);
  REQUIRE(again.is_object());
  CHECK(again["conversions"] == 0);
  CHECK(again["interactions_read"] == 0);
  const std::string written = ReadFile(dir.path + "/out.jsonl");
  CHECK(std::count(written.begin(), written.end(), '\n') == 3);

  // Text report.
  std::vector<std::string> text = base;
  text.push_back("--once");
  Run plain = Herald(dir, text);
  CHECK(plain.exit_code == 0);
  CHECK_THAT(plain.out, Catch::Contains("destination file-out: completed"));

  // Without --once the job's schedule must be enabled.
  Run scheduled = Herald(dir, base);
  CHECK(scheduled.exit_code == 2);
  CHECK_THAT(scheduled.err, Catch::Contains("is not enabled"));

  // An unknown destination names itself and the jobs there are.
  std::vector<std::string> unknown = {"export", "--destination", "nope", "--store", db, "--catalog", kCatalog,
                                      "--jobs", jobs, "--once"};
  Run missing = Herald(dir, unknown);
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("no job for destination \"nope\""));
  CHECK_THAT(missing.err, Catch::Contains("(jobs: file-out)"));
  // --base-url applies only to destinations with a base URL.
  once.push_back("--base-url");
  once.push_back("http://127.0.0.1:9");
  Run no_base = Herald(dir, once);
  CHECK(no_base.exit_code == 2);
  CHECK_THAT(no_base.err, Catch::Contains("destination type \"file\" has no base_url"));
}

TEST_CASE("herald export --json counts the identifiers normalization dropped - per kind", "[conversion][cli]") {
  Dir dir;
  const std::string db = dir.path + "/site.db";
  auto capture = [&](const std::string& order, const std::string& phone, const std::string& country) {
    std::vector<std::string> args = {"capture", "--store", db, "--catalog", kCatalog, "--issue", "Sales", "--group",
                                     "Cards", "--action", "PlatinumCreditCard", "--outcome", "Accepted",
                                     "--email", "ann@example.org", "--phone", phone, "--order-id", order};
    if (!country.empty()) {
      args.push_back("--country");
      args.push_back(country);
    }
    Run r = Herald(dir, args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  };
  capture("o-national", "020 7946 0958", "");         // read with the job's default region, GB
  capture("o-us", "(650) 555-1212", "US");            // the person's country wins over GB
  capture("o-short", "+44 20 7946", "");              // not a valid number: dropped
  capture("o-fake", "+1 123 456 7890", "");           // no such area code: dropped
  const std::string jobs = dir.path + "/exports.textproto";
  std::ofstream(jobs) << R"pb(
    jobs { destination: "file-out" destination_type: "file"
           destination_json_config: '{"path": "out.jsonl", "defaultRegion": "GB"}' }
  )pb";
  Run run = Herald(dir, {"export", "--destination", "file-out", "--store", db, "--catalog", kCatalog, "--jobs", jobs,
                         "--once", "--json"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  auto report = nlohmann::json::parse(run.out, nullptr, false);
  REQUIRE(report.is_object());
  CHECK(report["delivered"] == 4);  // the e-mail still identifies each person
  CHECK(report["identifiers_dropped"] == nlohmann::json({{"phone_invalid", 2}}));
  std::map<std::string, nlohmann::json> by_order;
  std::istringstream lines(ReadFile(dir.path + "/out.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    by_order[j["order_id"].get<std::string>()] = j["user_data"];
  }
  REQUIRE(by_order.size() == 4);
  // sha256("442079460958") and sha256("16505551212"), computed with Python's hashlib.
  CHECK(by_order["o-national"]["ph"] == "35e206e5dec4c89b9e8b71b8c32724a5bb518483ac5a20c6617d738375b3b823");
  CHECK(by_order["o-us"]["ph"] == "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176");
  CHECK_FALSE(by_order["o-short"].contains("ph"));
  CHECK_FALSE(by_order["o-fake"].contains("ph"));

  // A default region that is not a country code is refused, naming the field.
  std::ofstream(jobs) << R"pb(
    jobs { destination: "file-out" destination_type: "file"
           destination_json_config: '{"path": "out.jsonl", "defaultRegion": "Britain"}' }
  )pb";
  Run bad = Herald(dir, {"export", "--destination", "file-out", "--store", db, "--catalog", kCatalog, "--jobs", jobs,
                         "--once"});
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("default_region \"Britain\""));
}

TEST_CASE("herald export sends to the stand-ins with --base-url and never prints credentials", "[conversion][cli]") {
  setenv("HERALD_CLI_META_TOKEN", kMetaToken, 1);
  setenv("HERALD_CLI_WRONG_TOKEN", kWrongToken, 1);
  setenv("HERALD_CLI_GOOGLE_DEV", kGoogleDev, 1);
  setenv("HERALD_CLI_GOOGLE_ACCESS", kGoogleAccess, 1);
  Dir dir;
  const std::string db = dir.path + "/site.db";
  CaptureSome(db, 4);
  const auto records = Records(db);
  MetaStandIn meta("v21.0", "1234567", kMetaToken, absl::ToUnixSeconds(absl::Now()));
  meta.echo_token_in_errors = true;  // a badly behaved platform: Herald must redact it
  meta.Poison(records[2].interaction_id());
  meta.Start();
  GoogleStandIn google("v17", "1234567890", kGoogleDev, kGoogleAccess, absl::ToUnixSeconds(absl::Now()));
  google.Start();
  // The production jobs: no base URLs (the platforms' own); --base-url points them at the stand-ins.
  const std::string jobs = dir.path + "/exports.textproto";
  std::ofstream(jobs) << R"pb(
    jobs { destination: "meta-offline" destination_type: "meta"
           destination_json_config: '{"datasetId": "1234567", "accessTokenEnv": "HERALD_CLI_META_TOKEN", "adAccountId": "99"}' }
    jobs { destination: "meta-wrong" destination_type: "meta"
           destination_json_config: '{"datasetId": "1234567", "accessTokenEnv": "HERALD_CLI_WRONG_TOKEN"}' }
    jobs { destination: "google-ads" destination_type: "google_ads"
           destination_json_config: '{"customerId": "1234567890", "developerTokenEnv": "HERALD_CLI_GOOGLE_DEV", "accessTokenEnv": "HERALD_CLI_GOOGLE_ACCESS", "audienceJobPollMs": 5}' }
  )pb";
  auto export_to = [&](const std::string& destination, const std::string& url) {
    return Herald(dir, {"export", "--destination", destination, "--store", db, "--catalog", kCatalog, "--jobs", jobs,
                        "--once", "--json", "--trace", "--base-url", url});
  };
  std::vector<Run> runs;

  Run to_meta = export_to("meta-offline", meta.url());
  runs.push_back(to_meta);
  INFO(to_meta.err);
  REQUIRE(to_meta.exit_code == 0);
  auto report = nlohmann::json::parse(to_meta.out, nullptr, false);
  REQUIRE(report.is_object());
  CHECK(report["delivered"] == 3);
  CHECK(report["failed"] == 1);  // the poisoned event, with the platform's (redacted) message
  CHECK(report["audience_members"] == 3);
  CHECK(meta.received().size() == 3);
  CHECK(meta.members("Sales-Cards-PlatinumCreditCard-C").size() == 6);
  CHECK(meta.violations().empty());
  CHECK(meta.auth_headers().back() == std::string("Bearer ") + kMetaToken);  // the header carried it
  CHECK_THAT(to_meta.out, Catch::Contains("[redacted]"));

  Run to_google = export_to("google-ads", google.url());
  runs.push_back(to_google);
  INFO(to_google.err);
  REQUIRE(to_google.exit_code == 0);
  report = nlohmann::json::parse(to_google.out, nullptr, false);
  REQUIRE(report.is_object());
  CHECK(report["delivered"] == 4);
  CHECK(report["audience_members"] == 4);
  CHECK(google.received().size() == 4);
  CHECK(google.members("Sales-Cards-PlatinumCreditCard-C").size() == 8);
  CHECK(google.violations().empty());

  // A second run sends nothing new.
  int before = google.requests();
  Run google_again = export_to("google-ads", google.url());
  runs.push_back(google_again);
  CHECK(google_again.exit_code == 0);
  CHECK(google.requests() == before);

  // Refused credentials: the platform's message, not the token, and exit 1.
  Run wrong = export_to("meta-wrong", meta.url());
  runs.push_back(wrong);
  CHECK(wrong.exit_code == 1);
  CHECK_THAT(wrong.err, Catch::Contains("Invalid OAuth access token"));

  // A credential variable that is not set: named, never a value.
  unsetenv("HERALD_CLI_GOOGLE_DEV");
  Run unset = export_to("google-ads", google.url());
  runs.push_back(unset);
  CHECK(unset.exit_code == 1);
  CHECK_THAT(unset.err, Catch::Contains("HERALD_CLI_GOOGLE_DEV"));

  for (const Run& r : runs) {
    for (const char* secret : {kMetaToken, kWrongToken, kGoogleDev, kGoogleAccess}) {
      INFO(secret);
      CHECK(r.all().find(secret) == std::string::npos);
    }
  }
}

TEST_CASE("herald export exits 1 when transient faults let nothing through - and 0 once they pass",
          "[conversion][cli][faults][issue16]") {
  setenv("HERALD_CLI_META_TOKEN", kMetaToken, 1);
  Dir dir;
  const std::string db = dir.path + "/site.db";
  CaptureSome(db, 4);
  MetaStandIn meta("v21.0", "1234567", kMetaToken, absl::ToUnixSeconds(absl::Now()));
  meta.Start();
  const std::string jobs = dir.path + "/exports.textproto";
  std::ofstream(jobs) << R"pb(
    jobs { destination: "meta-offline" destination_type: "meta"
           destination_json_config: '{"datasetId": "1234567", "accessTokenEnv": "HERALD_CLI_META_TOKEN"}' }
  )pb";
  // Short backoff: the test needs the retries, not the waits.
  const std::string pipeline = dir.path + "/conversion.textproto";
  std::ofstream(pipeline) << R"pb(
    name: "conversion" family: "conversion"
    stages { name: "select" components { name: "SelectConversions" } }
    stages { name: "prepare" components { name: "PrepareEvents" } }
    stages { name: "validate" components { name: "ValidateEvents" } }
    stages { name: "send" components { name: "SendEvents" json_config: '{"retries": 2, "backoffMs": 1}' } }
    stages { name: "acknowledge" components { name: "AcknowledgeEvents" } }
  )pb";
  auto run = [&] {
    return Herald(dir, {"export", "--destination", "meta-offline", "--store", db, "--catalog", kCatalog, "--jobs",
                        jobs, "--pipeline", pipeline, "--once", "--json", "--base-url", meta.url()});
  };
  meta.SetBurst(testing::Fault::k408);
  Run down = run();
  INFO(down.out << down.err);
  CHECK(down.exit_code == 1);
  CHECK_THAT(down.err, Catch::Contains("nothing delivered: 4 conversions pending"));
  auto report = nlohmann::json::parse(down.out, nullptr, false);
  REQUIRE(report.is_object());
  CHECK(report["pending"] == 4);
  CHECK(report["failed"] == 0);
  meta.SetBurst(testing::Fault::kNone);
  Run up = run();
  INFO(up.out << up.err);
  CHECK(up.exit_code == 0);
  report = nlohmann::json::parse(up.out, nullptr, false);
  REQUIRE(report.is_object());
  CHECK(report["delivered"] == 4);
  CHECK(meta.received().size() == 4);
}

}  // namespace
}  // namespace herald

namespace herald {
namespace {

TEST_CASE("herald export opens the store with the jobs file's personal_data", "[conversion][cli][privacy]") {
  unsetenv("HERALD_PERSONAL_DATA_MODE");
  unsetenv("HERALD_PERSONAL_DATA_KEYS");
  unsetenv("HERALD_PERSONAL_DATA_KEYS_FILE");
  Dir dir;
  const std::string db = dir.path + "/site.db";
  CaptureSome(db, 2);
  const std::string jobs = dir.path + "/exports.textproto";
  const std::string job = R"pb(
    jobs { destination: "file-out" destination_type: "file" destination_json_config: '{"path": "out.jsonl"}' }
  )pb";
  const std::vector<std::string> args = {"export", "--destination", "file-out", "--store", db,
                                         "--catalog", kCatalog, "--jobs", jobs, "--once"};
  // ENCRYPT asked for, no key ring: refused before anything is read, naming what to set.
  std::ofstream(jobs) << job << "personal_data { mode: PERSONAL_DATA_MODE_ENCRYPT }\n";
  Run refused = Herald(dir, args);
  CHECK(refused.exit_code != 0);
  CHECK_THAT(refused.err, Catch::Contains("HERALD_PERSONAL_DATA_KEYS"));
  CHECK_FALSE(std::filesystem::exists(dir.path + "/out.jsonl"));
  // HASH_ONLY asked for: the export runs.
  std::ofstream(jobs) << job << "personal_data { mode: PERSONAL_DATA_MODE_HASH_ONLY }\n";
  Run ran = Herald(dir, args);
  INFO(ran.err);
  CHECK(ran.exit_code == 0);
  CHECK_THAT(ran.out, Catch::Contains("destination file-out: completed"));
}

}  // namespace
}  // namespace herald
