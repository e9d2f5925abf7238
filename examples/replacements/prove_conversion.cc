// Conversion: three accepted offers (and an impression, which is no
// conversion) are captured into interaction history and exported by a
// ConversionExporter to the "webhook" destination, created from
// exports.textproto as `herald export` creates destinations, pointed at a
// loopback server that answers 503 first and 200 after. Every conversion
// must reach the server exactly once in an accepted request after the
// retry, as JSON with hashed (never plain) e-mail addresses, with the token
// from the token file as the bearer; a second run must send nothing.
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/text_format.h"
#include "driver.h"
#include "herald/conversion.h"
#include "herald/store.h"
#include "loopback_http.h"

namespace site::driver {
namespace {

constexpr char kToken[] = "site-webhook-token-7f3a9c1e";
const std::vector<std::string> kEmails = {"Ann.Lee@Example.com", "bob@example.org ", "carl@example.net"};

herald::v1::ConversionAction Action() {
  herald::v1::ConversionAction action;
  action.set_issue("Sales");
  action.set_group("Outdoor");
  action.set_name("TentOffer");
  action.set_paid_sync_enabled(true);
  action.set_offline_conversion_enabled(true);
  return action;
}

absl::Status CaptureInteractions(herald::Store& store) {
  for (size_t i = 0; i <= kEmails.size(); ++i) {
    herald::v1::InteractionRecord r;
    const bool conversion = i < kEmails.size();
    r.mutable_subject()->set_email(conversion ? kEmails[i] : "dora@example.com");
    r.mutable_subject()->set_phone("+1 650 555 01" + std::to_string(10 + i));
    r.mutable_subject()->set_country("US");
    *r.mutable_action() = herald::v1::ActionRef();
    r.mutable_action()->set_issue("Sales");
    r.mutable_action()->set_group("Outdoor");
    r.mutable_action()->set_name("TentOffer");
    r.set_outcome(conversion ? herald::v1::OUTCOME_ACCEPTED : herald::v1::OUTCOME_IMPRESSION);
    r.set_channel("Web");
    r.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
    r.mutable_value()->set_minor_units(19900 + static_cast<int64_t>(i));
    r.mutable_value()->set_currency("USD");
    r.set_order_id(absl::StrCat("order-", i));
    auto captured = herald::CaptureResponse(store, r);
    if (!captured.ok()) return captured.status();
  }
  return absl::OkStatus();
}

// The site's job from exports.textproto, its url pointed at the server.
absl::StatusOr<herald::v1::ExportJobConfig> LoadJob(const std::string& dir, const std::string& url,
                                                    const Variant& variant) {
  std::ifstream in(dir + "/exports.textproto");
  std::stringstream text;
  text << in.rdbuf();
  herald::v1::ExportJobs jobs;
  if (!in || !google::protobuf::TextFormat::ParseFromString(text.str(), &jobs) || jobs.jobs_size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(dir, "/exports.textproto: not one herald.v1.ExportJobs job"));
  }
  herald::v1::ExportJobConfig job = jobs.jobs(0);
  nlohmann::json config = nlohmann::json::parse(job.destination_json_config(), nullptr, false);
  if (!config.is_object()) return absl::InvalidArgumentError("exports.textproto: destination_json_config is not JSON");
  config["url"] = url;
  job.set_destination_json_config(config.dump());
  job.set_destination_type(variant.Name(job.destination_type()));
  return job;
}

// The Authorization header of a request head ("" when absent).
std::string Authorization(absl::string_view head) {
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    if (absl::StartsWithIgnoreCase(line, "authorization:")) {
      return std::string(absl::StripAsciiWhitespace(line.substr(line.find(':') + 1)));
    }
  }
  return "";
}

// Checks every request the server got; returns how many times each event
// id arrived in an accepted (200) request.
absl::StatusOr<std::map<std::string, int>> CheckRequests(const std::vector<LoopbackHttpServer::Request>& requests,
                                                         const std::map<std::string, std::string>& hashed_emails) {
  std::map<std::string, int> delivered;
  for (const LoopbackHttpServer::Request& r : requests) {
    if (Authorization(r.head) != absl::StrCat("Bearer ", kToken)) {
      return absl::FailedPreconditionError("a request did not carry the token file's bearer token");
    }
    for (const std::string& email : kEmails) {
      if (absl::StrContains(absl::AsciiStrToLower(r.body), absl::AsciiStrToLower(absl::StripAsciiWhitespace(email)))) {
        return absl::FailedPreconditionError(absl::StrCat("a request body holds the plain address ", email));
      }
    }
    nlohmann::json events = nlohmann::json::parse(r.body, nullptr, false);
    if (!events.is_array()) return absl::FailedPreconditionError("a request body is not a JSON array");
    for (const nlohmann::json& event : events) {
      const std::string id = event.value("event_id", "");
      const std::string em = event.contains("user_data") ? event["user_data"].value("em", "") : "";
      auto want = hashed_emails.find(id);
      if (want == hashed_emails.end() || em != want->second) {
        return absl::FailedPreconditionError(absl::StrCat("event \"", id, "\": em is not the expected SHA-256"));
      }
      if (r.answered == 200) ++delivered[id];
    }
  }
  return delivered;
}

// The expected em of each conversion: SHA-256 of the normalized address.
std::map<std::string, std::string> HashedEmails(herald::Store& store) {
  std::map<std::string, std::string> out;
  herald::IdentifierHasher hasher;
  auto records = store.interactions().ReadInteractions(0, 100);
  if (!records.ok()) return out;
  for (const herald::v1::InteractionRecord& r : *records) {
    if (r.outcome() != herald::v1::OUTCOME_ACCEPTED) continue;
    out[r.interaction_id()] = hasher.Hash(herald::NormalizeEmail(r.subject().email()));
  }
  return out;
}

// Bad configs are refused with a message naming the setting, never the token.
absl::Status CheckRefusals(const herald::Registry& registry, const std::string& scratch, const Variant& variant) {
  if (absl::Status s = WriteFile(scratch + "/shared.token", absl::StrCat(kToken, "\n"), 0644); !s.ok()) return s;
  const std::pair<const char*, const char*> cases[] = {
      {R"({"url": "https://site:secret@hooks.example.com/", "bearerTokenFile": "webhook.token"})", "credentials"},
      {R"({"url": "https://hooks.example.com/", "bearerTokenFile": "shared.token"})", "shared.token"},
      {R"({"url": "ftp://hooks.example.com/", "bearerTokenFile": "webhook.token"})", "http"}};
  for (const auto& [json, named] : cases) {
    herald::v1::ExportJobConfig job;
    job.set_destination("refused");
    job.set_destination_type(variant.Name("webhook"));
    job.set_destination_json_config(json);
    auto made = herald::CreateDestination(job, herald::CreateContext(&registry, scratch));
    if (made.ok() || !absl::StrContains(made.status().message(), named) ||
        absl::StrContains(made.status().message(), kToken)) {
      return absl::FailedPreconditionError(absl::StrCat("the webhook config ", json, " was not refused naming \"",
                                                        named, "\": ", made.status().ToString()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Export(const std::string& dir, const std::string& scratch, const Variant& variant) {
  absl::StatusOr<std::unique_ptr<LoopbackHttpServer>> server = LoopbackHttpServer::Start({503, 200});
  if (!server.ok()) return server.status();
  if (absl::Status s = WriteFile(scratch + "/webhook.token", absl::StrCat(kToken, "\n"), 0600); !s.ok()) return s;
  auto job = LoadJob(dir, (*server)->Url("/herald/conversions"), variant);
  if (!job.ok()) return job.status();
  herald::Registry registry;
  if (absl::Status s = RegisterAll(&registry); !s.ok()) return s;
  if (absl::Status s = CheckRefusals(registry, scratch, variant); !s.ok()) return s;
  auto destination = herald::CreateDestination(*job, herald::CreateContext(&registry, scratch));
  if (!destination.ok()) return destination.status();
  std::unique_ptr<herald::Store> store = herald::NewMemoryStore();
  if (absl::Status s = CaptureInteractions(*store); !s.ok()) return s;

  std::vector<absl::Duration> waits;
  herald::ExporterOptions options;
  options.registry = &registry;
  options.store = store.get();
  options.destination = destination->get();
  options.destination_name = job->destination();
  options.actions = {Action()};
  options.sleep = [&waits](absl::Duration d) { waits.push_back(d); };  // the retry without the wait
  auto exporter = herald::ConversionExporter::Create(std::move(options));
  if (!exporter.ok()) return exporter.status();
  auto first = (*exporter)->RunOnce();
  if (!first.ok()) return first.status();
  auto second = (*exporter)->RunOnce();
  if (!second.ok()) return second.status();

  const std::string describe = (*destination)->Describe();
  if (absl::StrContains(describe, kToken) || absl::StrContains(first->ToText(), kToken)) {
    return absl::FailedPreconditionError("the token appears in Describe() or the report");
  }
  if (first->delivered != 3 || first->transient != 0 || first->failed != 0 || first->retries < 1 ||
      second->conversions != 0) {
    return absl::FailedPreconditionError(absl::StrCat("expected 3 delivered after a retry, then nothing:\n",
                                                      first->ToText(), "\n", second->ToText()));
  }
  const auto requests = (*server)->requests();
  auto delivered = CheckRequests(requests, HashedEmails(*store));
  if (!delivered.ok()) return delivered.status();
  for (const auto& [id, hash] : HashedEmails(*store)) {
    if ((*delivered)[id] != 1) {
      return absl::FailedPreconditionError(absl::StrCat("conversion ", id, " was accepted ", (*delivered)[id],
                                                        " times, not once"));
    }
  }
  return absl::StrCat(variant.Name("webhook"), " delivered ", first->delivered, " conversions once each in ", requests.size(),
                      " requests (", first->retries, " retry after 503), e-mails hashed, token from file; ",
                      describe);
}

}  // namespace

absl::StatusOr<std::string> ProveConversion(const std::string& dir, const Variant& variant) {
  absl::StatusOr<std::string> scratch = MakeTempDir();
  if (!scratch.ok()) return scratch.status();
  absl::StatusOr<std::string> line = Export(dir, *scratch, variant);
  RemoveTree(*scratch);
  return line;
}

}  // namespace site::driver
