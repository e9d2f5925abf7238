// Stand-in Meta Conversions API and Google Ads API servers on 127.0.0.1
// (cpp-httplib) for the export tests. They validate what Herald sends
// (hashes are 64 lowercase hex, times in range and in the right format,
// batch sizes, credentials), keep what a real platform keeps (events
// deduplicated by event id / gclid+action / order id), answer with the
// platforms' success and error shapes, and inject faults on request: 429
// with Retry-After, 500, a timeout after processing, a connection reset
// after processing, per-row partial failures. The Google stand-in processes
// Customer Match jobs asynchronously (RUNNING for a few status polls, then
// SUCCESS, or FAILED with a failure reason when injected).
#ifndef HERALD_TEST_CONVERSION_STANDIN_SERVERS_H_
#define HERALD_TEST_CONVERSION_STANDIN_SERVERS_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "httplib.h"

namespace herald::testing {

enum class Fault {
  kNone, k429, k500, kTimeoutAfterProcessing, kResetAfterProcessing, kThrottleCode,
  // Answers that say nothing about the events (issue #16), before the
  // platform kept anything: a proxy's redirect, 408, 413 with an HTML page, a
  // maintenance page with 200, a reset, a hang past the client's timeout.
  k302, k408, k413, kHtml200, kResetBeforeProcessing, kHang,
  // After the platform kept the events: a 200 whose JSON is cut off.
  kCut200,
  // Google: a partial failure whose row error has no location (the first
  // conversion is refused transiently, the others kept).
  kUnlocatedRowError,
};

inline const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kNone: return "none";
    case Fault::k429: return "429";
    case Fault::k500: return "500";
    case Fault::kTimeoutAfterProcessing: return "timeout after processing";
    case Fault::kResetAfterProcessing: return "reset after processing";
    case Fault::kThrottleCode: return "throttle code";
    case Fault::k302: return "302";
    case Fault::k408: return "408";
    case Fault::k413: return "413";
    case Fault::kHtml200: return "HTML 200";
    case Fault::kResetBeforeProcessing: return "reset";
    case Fault::kHang: return "hang";
    case Fault::kCut200: return "cut 200";
    case Fault::kUnlocatedRowError: return "unlocated row error";
  }
  return "?";
}

inline bool IsLowerHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

class StandInServer {
 public:
  virtual ~StandInServer() { Stop(); }

  void Start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void Stop() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void Inject(std::vector<Fault> faults) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Fault f : faults) faults_.push_back(f);
  }
  // Every request answers with `f` until SetBurst(Fault::kNone): a fault
  // that lasts a whole run.
  void SetBurst(Fault f) {
    std::lock_guard<std::mutex> lock(mu_);
    burst_ = f;
  }
  // Per event key (Meta: event_name/event_id; Google: orderId): how many
  // clean answers told the client the event's fate, and how many times an
  // event was sent again after such an answer (must stay 0: "nothing sent
  // twice" once the platform's answer was read).
  std::map<std::string, int> acknowledged() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  int sent_after_acknowledged() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_after_ack_;
  }
  int retry_after_seconds = 2;
  std::chrono::milliseconds timeout_sleep{700};

  // Observations.
  std::vector<std::string> violations() const {
    std::lock_guard<std::mutex> lock(mu_);
    return violations_;
  }
  int requests() const { return requests_.load(); }
  std::vector<size_t> batch_sizes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batch_sizes_;
  }
  std::vector<std::string> auth_headers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return auth_headers_;
  }

 protected:
  Fault NextFault() {
    std::lock_guard<std::mutex> lock(mu_);
    if (burst_ != Fault::kNone) return burst_;
    if (faults_.empty()) return Fault::kNone;
    Fault f = faults_.front();
    faults_.pop_front();
    return f;
  }
  void Violation(std::string v) {
    std::lock_guard<std::mutex> lock(mu_);
    violations_.push_back(std::move(v));
  }
  // Writes nothing and closes the connection: the client sees a reset / empty reply.
  static void Reset(httplib::Response& res) {
    res.set_content_provider(
        100, "application/json", [](size_t, size_t, httplib::DataSink&) { return false; });
  }

  // Under mu_: a request carries `key`; a clean answer acknowledges it.
  void NoteSent(const std::string& key) {
    if (acked_.count(key) > 0) ++sent_after_ack_;
  }
  void NoteAcknowledged(const std::string& key) { ++acked_[key]; }

  // The faults answered before anything is kept; true when `f` was one.
  bool AnswerBeforeProcessing(Fault f, httplib::Response& res) {
    switch (f) {
      case Fault::k302:
        res.status = 302;
        res.set_header("Location", "http://127.0.0.1:1/login");
        res.set_content("<html><body>Moved</body></html>", "text/html");
        return true;
      case Fault::k408:
        res.status = 408;
        res.set_content("<html><body><h1>408 Request Time-out</h1></body></html>", "text/html");
        return true;
      case Fault::k413:
        res.status = 413;
        res.set_content("<html><head><title>413 Request Entity Too Large</title></head></html>", "text/html");
        return true;
      case Fault::kHtml200:
        res.status = 200;
        res.set_content("<!DOCTYPE html><html><body>Down for maintenance</body></html>", "text/html");
        return true;
      case Fault::kResetBeforeProcessing:
        Reset(res);
        return true;
      case Fault::kHang:
        std::this_thread::sleep_for(timeout_sleep);
        res.status = 504;
        return true;
      default:
        return false;
    }
  }
  // The faults answered after the events were kept, given the good answer;
  // true when `f` was one (the answer is then not a clean one).
  bool AnswerAfterProcessing(Fault f, const std::string& good, httplib::Response& res) {
    if (f == Fault::kTimeoutAfterProcessing) {
      std::this_thread::sleep_for(timeout_sleep);
      res.set_content(good, "application/json");
      return true;
    }
    if (f == Fault::kResetAfterProcessing) {
      Reset(res);
      return true;
    }
    if (f == Fault::kCut200) {
      res.set_content(good.substr(0, good.size() / 2), "application/json");
      return true;
    }
    return false;
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::deque<Fault> faults_;
  std::vector<std::string> violations_;
  std::vector<size_t> batch_sizes_;
  std::vector<std::string> auth_headers_;
  std::atomic<int> requests_{0};
  Fault burst_ = Fault::kNone;
  std::map<std::string, int> acked_;
  int sent_after_ack_ = 0;
};

// POST /{version}/{dataset}/events, and the custom audience endpoints.
class MetaStandIn : public StandInServer {
 public:
  MetaStandIn(std::string version, std::string dataset, std::string token, int64_t now_seconds)
      : version_(std::move(version)), dataset_(std::move(dataset)), token_(std::move(token)), now_(now_seconds) {
    server_.Post("/" + version_ + "/" + dataset_ + "/events", [this](const httplib::Request& req, httplib::Response& res) {
      Events(req, res);
    });
    server_.Get(R"(/v[0-9.]+/act_(\d+)/customaudiences)", [this](const httplib::Request& req, httplib::Response& res) {
      if (!Authorized(req, res)) return;
      std::lock_guard<std::mutex> lock(mu_);
      nlohmann::json data = nlohmann::json::array();
      for (const auto& [name, id] : audience_ids_) data.push_back({{"id", id}, {"name", name}});
      res.set_content(nlohmann::json{{"data", data}}.dump(), "application/json");
    });
    server_.Post(R"(/v[0-9.]+/act_(\d+)/customaudiences)", [this](const httplib::Request& req, httplib::Response& res) {
      if (!Authorized(req, res)) return;
      auto j = nlohmann::json::parse(req.body, nullptr, false);
      std::lock_guard<std::mutex> lock(mu_);
      std::string name = j.is_object() && j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>() : "";
      if (name.empty() || j.value("subtype", "") != "CUSTOM") violations_.push_back("audience create: " + req.body);
      std::string id = "2385" + std::to_string(audience_ids_.size() + 1);
      audience_ids_[name] = id;
      res.set_content(nlohmann::json{{"id", id}}.dump(), "application/json");
    });
    server_.Post(R"(/v[0-9.]+/(\d+)/users)", [this](const httplib::Request& req, httplib::Response& res) {
      if (!Authorized(req, res)) return;
      std::string id = req.matches[1];
      auto j = nlohmann::json::parse(req.body, nullptr, false);
      std::lock_guard<std::mutex> lock(mu_);
      std::string name;
      for (const auto& [n, i] : audience_ids_) {
        if (i == id) name = n;
      }
      if (name.empty() || !j.is_object() || !j.contains("payload")) {
        violations_.push_back("audience users: unknown audience or no payload");
        res.status = 400;
        return;
      }
      const auto& p = j["payload"];
      int received = 0;
      if (!p.contains("data") || !p["data"].is_array()) violations_.push_back("audience users: no data");
      else {
        for (const auto& row : p["data"]) {
          for (const auto& v : row) {
            if (!v.is_string()) continue;
            std::string s = v.get<std::string>();
            if (s.empty()) continue;
            if (!IsLowerHex64(s)) violations_.push_back("audience member not a hash: " + s);
            members_[name].insert(s);
          }
          ++received;
        }
      }
      res.set_content(nlohmann::json{{"audience_id", id}, {"session_id", "1"}, {"num_received", received},
                                     {"num_invalid_entries", 0}}.dump(),
                      "application/json");
    });
  }

  // Event ids kept (deduplicated by event_name + event_id).
  std::map<std::string, int> received() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  std::set<std::string> members(const std::string& audience) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = members_.find(audience);
    return it == members_.end() ? std::set<std::string>() : it->second;
  }
  std::vector<nlohmann::json> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  void Poison(const std::string& event_id) {
    std::lock_guard<std::mutex> lock(mu_);
    poison_.insert(event_id);
  }
  bool echo_token_in_errors = false;  // a badly behaved server: tests that Herald redacts it

 private:
  bool Authorized(const httplib::Request& req, httplib::Response& res) {
    ++requests_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auth_headers_.push_back(req.get_header_value("Authorization"));
    }
    if (req.get_header_value("Authorization") != "Bearer " + token_) {
      res.status = 401;
      res.set_content(R"({"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,"fbtrace_id":"AbCdEf"}})",
                      "application/json");
      return false;
    }
    return true;
  }

  static void Error(httplib::Response& res, int status, int code, const std::string& message, int subcode = 0) {
    res.status = status;
    nlohmann::json e = {{"message", message}, {"type", "OAuthException"}, {"code", code}, {"fbtrace_id", "AxYz01"}};
    if (subcode != 0) {
      e["error_subcode"] = subcode;
      e["error_user_title"] = "Invalid parameter";
      e["error_user_msg"] = message;
    }
    res.set_content(nlohmann::json{{"error", e}}.dump(), "application/json");
  }

  void Events(const httplib::Request& req, httplib::Response& res) {
    if (!Authorized(req, res)) return;
    Fault fault = NextFault();
    if (fault == Fault::k429) {
      res.set_header("Retry-After", std::to_string(retry_after_seconds));
      Error(res, 429, 4, "(#4) Application request limit reached");
      return;
    }
    if (fault == Fault::kThrottleCode) {
      Error(res, 400, 80004, "There have been too many calls to this ad-account.");
      return;
    }
    if (fault == Fault::k500) {
      Error(res, 500, 2, "An unexpected error has occurred. Please retry your request later.");
      return;
    }
    if (AnswerBeforeProcessing(fault, res)) return;
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("data") || !body["data"].is_array()) {
      Violation("body without data[]");
      Error(res, 400, 100, "The parameter data is required", 2804002);
      return;
    }
    const auto& data = body["data"];
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch_sizes_.push_back(data.size());
    }
    if (data.empty() || data.size() > 1000) {
      Violation("batch size " + std::to_string(data.size()));
      Error(res, 400, 100, "Invalid parameter: data must hold 1 to 1000 events", 2804003);
      return;
    }
    // Validate every event; one invalid event rejects the whole request (as Meta does).
    for (const auto& e : data) {
      std::string why = Check(e);
      if (!why.empty()) {
        Violation(why);
        Error(res, 400, 100, "Invalid parameter: " + why, 2804019);
        return;
      }
      std::string id = e["event_id"].get<std::string>();
      std::lock_guard<std::mutex> lock(mu_);
      if (poison_.count(id) > 0) {
        std::string msg = "Invalid parameter: event " + id + " has an invalid value";
        if (echo_token_in_errors) msg += " (access_token=" + token_ + ")";
        res.status = 400;
        res.set_content(nlohmann::json{{"error", {{"message", msg}, {"type", "OAuthException"}, {"code", 100},
                                                  {"error_subcode", 2804019}, {"fbtrace_id", "P01"}}}}.dump(),
                        "application/json");
        return;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& e : data) {
        std::string key = e["event_name"].get<std::string>() + "/" + e["event_id"].get<std::string>();
        NoteSent(key);
        if (received_.count(key) == 0) events_.push_back(e);
        ++received_[key];
      }
    }
    std::string good = nlohmann::json{{"events_received", data.size()}, {"messages", nlohmann::json::array()},
                                      {"fbtrace_id", "Ok123"}}.dump();
    if (AnswerAfterProcessing(fault, good, res)) return;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& e : data) NoteAcknowledged(e["event_name"].get<std::string>() + "/" + e["event_id"].get<std::string>());
    res.set_content(good, "application/json");
  }

  std::string Check(const nlohmann::json& e) const {
    if (!e.is_object()) return "event is not an object";
    for (const char* k : {"event_name", "action_source", "event_id"}) {
      if (!e.contains(k) || !e[k].is_string() || e[k].get<std::string>().empty()) return std::string("missing ") + k;
    }
    if (!e.contains("event_time") || !e["event_time"].is_number_integer()) return "event_time is not Unix seconds";
    int64_t t = e["event_time"].get<int64_t>();
    int64_t max_age = e["action_source"] == "physical_store" ? 62 * 86400 : 7 * 86400;
    if (t < now_ - max_age) return "event_time too old";
    if (t > now_ + 600) return "event_time in the future";
    if (!e.contains("user_data") || !e["user_data"].is_object() || e["user_data"].empty()) return "no user_data";
    for (auto it = e["user_data"].begin(); it != e["user_data"].end(); ++it) {
      if (it.key() == "fbc" || it.key() == "fbp" || it.key() == "client_ip_address" ||
          it.key() == "client_user_agent") {
        continue;
      }
      if (!it.value().is_string() || !IsLowerHex64(it.value().get<std::string>())) {
        return "user_data." + it.key() + " is not a SHA-256 hex";
      }
    }
    // Limited Data Use, as Meta's server event parameters document it: an
    // array of options ("LDU" only), with country 1 / 0 and state 1000.. / 0.
    if (e.contains("data_processing_options")) {
      const auto& o = e["data_processing_options"];
      if (!o.is_array()) return "data_processing_options is not an array";
      for (const auto& v : o) {
        if (!v.is_string() || v.get<std::string>() != "LDU") return "data_processing_options: unknown option " + v.dump();
      }
    }
    for (const char* k : {"data_processing_options_country", "data_processing_options_state"}) {
      if (!e.contains(k)) continue;
      if (!e[k].is_number_integer()) return std::string(k) + " is not an integer";
      if (!e.contains("data_processing_options")) return std::string(k) + " without data_processing_options";
      int64_t v = e[k].get<int64_t>();
      bool ok = std::string(k) == "data_processing_options_country" ? (v == 0 || v == 1) : (v == 0 || (v >= 1000 && v < 2000));
      if (!ok) return std::string(k) + " " + std::to_string(v);
    }
    if (e.contains("custom_data")) {
      const auto& c = e["custom_data"];
      if (c.contains("value") && (!c["value"].is_number() || !c.contains("currency"))) return "value without currency";
      if (c.contains("currency") && (!c["currency"].is_string() || c["currency"].get<std::string>().size() != 3)) {
        return "bad currency";
      }
    }
    return {};
  }

  std::string version_, dataset_, token_;
  int64_t now_;
  std::map<std::string, int> received_;
  std::vector<nlohmann::json> events_;
  std::set<std::string> poison_;
  std::map<std::string, std::string> audience_ids_;
  std::map<std::string, std::set<std::string>> members_;
};

// POST /{version}/customers/{cid}:uploadClickConversions (partial failure).
class GoogleStandIn : public StandInServer {
 public:
  GoogleStandIn(std::string version, std::string customer, std::string developer_token, std::string access_token,
                int64_t now_seconds)
      : version_(std::move(version)), customer_(std::move(customer)), developer_(std::move(developer_token)),
        access_(std::move(access_token)), now_(now_seconds) {
    server_.Post("/" + version_ + "/customers/" + customer_ + ":uploadClickConversions",
                 [this](const httplib::Request& req, httplib::Response& res) { Upload(req, res); });
    // Customer Match: GAQL search, user list create, offline user data jobs.
    server_.Post("/" + version_ + "/customers/" + customer_ + "/googleAds:search",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   if (!Authorized(req, res)) return;
                   auto j = nlohmann::json::parse(req.body, nullptr, false);
                   std::string q = j.is_object() && j.contains("query") && j["query"].is_string() ? j["query"].get<std::string>() : "";
                   static const std::regex re(R"(FROM user_list WHERE user_list\.name = '(.*)'$)");
                   std::smatch m;
                   nlohmann::json results = nlohmann::json::array();
                   std::lock_guard<std::mutex> lock(mu_);
                   if (q.find("FROM offline_user_data_job") != std::string::npos) {
                     res.set_content(nlohmann::json{{"results", PollJob(q)}}.dump(), "application/json");
                     return;
                   }
                   if (!std::regex_search(q, m, re)) violations_.push_back("bad GAQL: " + q);
                   else if (user_lists_.count(m[1]) > 0) {
                     results.push_back({{"userList", {{"resourceName", user_lists_[m[1]]}, {"name", m[1]}}}});
                   }
                   res.set_content(nlohmann::json{{"results", results}}.dump(), "application/json");
                 });
    server_.Post("/" + version_ + "/customers/" + customer_ + "/userLists:mutate",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   if (!Authorized(req, res)) return;
                   auto j = nlohmann::json::parse(req.body, nullptr, false);
                   std::lock_guard<std::mutex> lock(mu_);
                   if (!j.is_object() || !j.contains("operations") || !j["operations"].is_array() || j["operations"].empty() ||
                       !j["operations"][0].contains("create") || !j["operations"][0]["create"].contains("crmBasedUserList")) {
                     violations_.push_back("bad userLists:mutate");
                     res.status = 400;
                     return;
                   }
                   std::string name = j["operations"][0]["create"].value("name", "");
                   std::string rn = "customers/" + customer_ + "/userLists/" + std::to_string(100 + user_lists_.size());
                   user_lists_[name] = rn;
                   res.set_content(nlohmann::json{{"results", nlohmann::json::array({{{"resourceName", rn}}})}}.dump(), "application/json");
                 });
    server_.Post("/" + version_ + "/customers/" + customer_ + "/offlineUserDataJobs:create",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   if (!Authorized(req, res)) return;
                   auto j = nlohmann::json::parse(req.body, nullptr, false);
                   std::lock_guard<std::mutex> lock(mu_);
                   std::string list;
                   if (j.is_object() && j.contains("job") && j["job"].value("type", "") == "CUSTOMER_MATCH_USER_LIST" &&
                       j["job"].contains("customerMatchUserListMetadata")) {
                     list = j["job"]["customerMatchUserListMetadata"].value("userList", "");
                   }
                   if (list.empty()) violations_.push_back("bad offlineUserDataJobs:create");
                   std::string rn = "customers/" + customer_ + "/offlineUserDataJobs/" + std::to_string(500 + jobs_.size());
                   jobs_[rn] = list;
                   job_states_[rn] = JobState{};
                   res.set_content(nlohmann::json{{"resourceName", rn}}.dump(), "application/json");
                 });
    server_.Post(R"(/v\d+/(customers/\d+/offlineUserDataJobs/\d+):(addOperations|run))",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   if (!Authorized(req, res)) return;
                   std::string job = req.matches[1], verb = req.matches[2];
                   std::lock_guard<std::mutex> lock(mu_);
                   if (jobs_.count(job) == 0) {
                     violations_.push_back("unknown job " + job);
                     res.status = 404;
                     return;
                   }
                   JobState& state = job_states_[job];
                   if (state.status != "PENDING") {
                     violations_.push_back(verb + " on a job that is " + state.status + ": " + job);
                     res.status = 400;
                     return;
                   }
                   if (verb == "run") {
                     // Processed asynchronously: RUNNING for a few polls, then SUCCESS (the
                     // members join the list) or, when injected, FAILED.
                     state.status = "RUNNING";
                     state.running_polls_left = running_polls;
                     if (!job_failures_.empty()) {
                       state.failure_reason = job_failures_.front();
                       job_failures_.pop_front();
                     }
                     res.set_content(nlohmann::json{{"name", "customers/" + customer_ + "/operations/" +
                                                                 job.substr(job.rfind('/') + 1)}}.dump(),
                                     "application/json");
                     return;
                   }
                   auto j = nlohmann::json::parse(req.body, nullptr, false);
                   if (!j.is_object() || !j.contains("operations") || !j["operations"].is_array()) {
                     violations_.push_back("addOperations without operations");
                   } else {
                     for (const auto& op : j["operations"]) {
                       if (!op.contains("create") || !op["create"].contains("userIdentifiers")) continue;
                       operations_.push_back(op["create"]);
                       // UserData.consent: both fields may be set here.
                       if (op["create"].contains("consent")) {
                         std::string why = CheckConsent(op["create"]["consent"], true);
                         if (!why.empty()) violations_.push_back("addOperations: " + why);
                       }
                       for (const auto& id : op["create"]["userIdentifiers"]) {
                         for (auto it = id.begin(); it != id.end(); ++it) {
                           std::string v = it.value().is_string() ? it.value().get<std::string>() : "";
                           if (!IsLowerHex64(v)) violations_.push_back("member not a hash: " + v);
                           pending_[job].push_back(v);
                         }
                       }
                     }
                   }
                   res.set_content("{}", "application/json");
                 });
  }

  // Customer Match jobs: polls answered RUNNING after :run before the job
  // finishes; the next offline user data jobs run FAILED with these reasons.
  int running_polls = 2;
  void FailNextJob(const std::string& failure_reason) {
    std::lock_guard<std::mutex> lock(mu_);
    job_failures_.push_back(failure_reason);
  }
  struct JobState {
    std::string status = "PENDING";   // PENDING, RUNNING, SUCCESS, FAILED
    std::string failure_reason;       // FAILED when set (at the end of RUNNING)
    int running_polls_left = 0;
    int polls = 0;
  };
  std::map<std::string, JobState> jobs() const {  // resource name -> state
    std::lock_guard<std::mutex> lock(mu_);
    return job_states_;
  }

  // Members of the user list named `name` (after its jobs succeeded).
  std::set<std::string> members(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto l = user_lists_.find(name);
    if (l == user_lists_.end()) return {};
    auto it = members_.find(l->second);
    return it == members_.end() ? std::set<std::string>() : it->second;
  }
  size_t user_lists() const {
    std::lock_guard<std::mutex> lock(mu_);
    return user_lists_.size();
  }

  std::map<std::string, int> received() const {  // orderId -> times accepted (1 = once)
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  // Every Customer Match member operation received (the UserData of `create`).
  std::vector<nlohmann::json> operations() const {
    std::lock_guard<std::mutex> lock(mu_);
    return operations_;
  }
  std::vector<nlohmann::json> conversions() const {
    std::lock_guard<std::mutex> lock(mu_);
    return conversions_;
  }
  // gclids answered with a transient TOO_RECENT_EVENT the first time they are seen.
  void TransientOnce(const std::string& gclid) {
    std::lock_guard<std::mutex> lock(mu_);
    transient_once_.insert(gclid);
  }
  int duplicates_answered() const { return duplicates_.load(); }
  // OAuth: access tokens checked by this function (an OAuthStandIn's) instead of the fixed one.
  std::function<bool(const std::string&)> access_check;
  std::string expected_login_customer_id;     // checked when not empty
  std::chrono::milliseconds upload_delay{0};  // each upload takes this long (a long export)
  int unauthenticated() const { return unauthenticated_.load(); }

 private:
  static nlohmann::json Failure(const nlohmann::json& errors) {
    return {{"@type", "type.googleapis.com/google.ads.googleads.v17.errors.GoogleAdsFailure"},
            {"errors", errors},
            {"requestId", "req-1"}};
  }
  static void RpcError(httplib::Response& res, int http, const std::string& status, const std::string& message,
                       const nlohmann::json& code) {
    res.status = http;
    nlohmann::json err = {{"code", http}, {"message", message}, {"status", status}};
    err["details"] = nlohmann::json::array({Failure(nlohmann::json::array({{{"errorCode", code}, {"message", message}}}))});
    res.set_content(nlohmann::json{{"error", err}}.dump(), "application/json");
  }

  static bool DateTimeOk(const std::string& s, int64_t now, std::string* why) {
    static const std::regex re(R"(^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})([+-])(\d{2}):(\d{2})$)");
    std::smatch m;
    if (!std::regex_match(s, m, re)) {
      *why = "conversionDateTime \"" + s + "\" is not yyyy-mm-dd hh:mm:ss+hh:mm";
      return false;
    }
    std::tm tm{};
    tm.tm_year = std::stoi(m[1]) - 1900;
    tm.tm_mon = std::stoi(m[2]) - 1;
    tm.tm_mday = std::stoi(m[3]);
    tm.tm_hour = std::stoi(m[4]);
    tm.tm_min = std::stoi(m[5]);
    tm.tm_sec = std::stoi(m[6]);
    int64_t t = timegm(&tm);
    int64_t offset = (std::stoi(m[8]) * 3600 + std::stoi(m[9]) * 60) * (m[7] == "-" ? -1 : 1);
    t -= offset;
    if (t > now + 600) {
      *why = "conversionDateTime in the future";
      return false;
    }
    if (t < now - 90 * 86400) {
      *why = "conversionDateTime older than 90 days";
      return false;
    }
    return true;
  }

  bool Authorized(const httplib::Request& req, httplib::Response& res) {
    ++requests_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auth_headers_.push_back(req.get_header_value("Authorization"));
    }
    const std::string auth = req.get_header_value("Authorization");
    const bool token_ok = access_check ? auth.rfind("Bearer ", 0) == 0 && access_check(auth.substr(7))
                                       : auth == "Bearer " + access_;
    if (!expected_login_customer_id.empty() &&
        req.get_header_value("login-customer-id") != expected_login_customer_id) {
      Violation("login-customer-id \"" + req.get_header_value("login-customer-id") + "\"");
    }
    if (!token_ok || req.get_header_value("developer-token") != developer_) {
      ++unauthenticated_;
      RpcError(res, 401, "UNAUTHENTICATED", "Request is missing required authentication credential.",
               {{"authenticationError", "AUTHENTICATION_ERROR"}});
      return false;
    }
    return true;
  }

  void Upload(const httplib::Request& req, httplib::Response& res) {
    if (upload_delay.count() > 0) std::this_thread::sleep_for(upload_delay);
    if (!Authorized(req, res)) return;
    Fault fault = NextFault();
    if (fault == Fault::k429) {
      res.set_header("Retry-After", std::to_string(retry_after_seconds));
      RpcError(res, 429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).",
               {{"quotaError", "RESOURCE_EXHAUSTED"}});
      return;
    }
    if (fault == Fault::k500) {
      RpcError(res, 500, "INTERNAL", "Internal error encountered.", {{"internalError", "INTERNAL_ERROR"}});
      return;
    }
    if (AnswerBeforeProcessing(fault, res)) return;
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("conversions") || !body["conversions"].is_array()) {
      Violation("no conversions[]");
      RpcError(res, 400, "INVALID_ARGUMENT", "Request contains an invalid argument.", {{"requestError", "INVALID_INPUT"}});
      return;
    }
    if (body.value("partialFailure", false) != true) Violation("partialFailure is not true");
    const auto& conversions = body["conversions"];
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch_sizes_.push_back(conversions.size());
    }
    if (conversions.empty() || conversions.size() > 2000) {
      Violation("batch size " + std::to_string(conversions.size()));
      RpcError(res, 400, "INVALID_ARGUMENT", "Too many operations.", {{"requestError", "TOO_MANY_OPERATIONS"}});
      return;
    }
    nlohmann::json errors = nlohmann::json::array();
    nlohmann::json results = nlohmann::json::array();
    static const std::regex action_re(R"(^customers/\d+/conversionActions/\d+$)");
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < conversions.size(); ++i) {
        const auto& c = conversions[i];
        if (c.contains("orderId") && c["orderId"].is_string()) NoteSent(c["orderId"].get<std::string>());
        auto row_error = [&](const nlohmann::json& code, const std::string& message) {
          errors.push_back({{"errorCode", code},
                            {"message", message},
                            {"location", {{"fieldPathElements", nlohmann::json::array({{{"fieldName", "conversions"}, {"index", i}}})}}}});
          results.push_back(nlohmann::json::object());
        };
        if (i == 0 && fault == Fault::kUnlocatedRowError) {
          errors.push_back({{"errorCode", {{"conversionUploadError", "TOO_RECENT_EVENT"}}},
                            {"message", "The click occurred less than 6 hours ago."}});
          results.push_back(nlohmann::json::object());
          continue;
        }
        std::string why;
        int ids = 0;
        for (const char* k : {"gclid", "gbraid", "wbraid"}) ids += c.contains(k) ? 1 : 0;
        if (ids > 1) why = "more than one of gclid, gbraid, wbraid";
        if (ids == 0 && !c.contains("userIdentifiers")) why = "no click id and no user identifiers";
        if (!c.contains("conversionAction") || !c["conversionAction"].is_string() ||
            !std::regex_match(c["conversionAction"].get<std::string>(), action_re)) {
          why = "bad conversionAction";
        }
        if (why.empty() && (!c.contains("conversionDateTime") || !c["conversionDateTime"].is_string())) {
          why = "no conversionDateTime";
        }
        if (why.empty()) DateTimeOk(c["conversionDateTime"].get<std::string>(), now_, &why);
        if (why.empty() && c.contains("userIdentifiers")) {
          const auto& u = c["userIdentifiers"];
          if (!u.is_array() || u.size() > 5) why = "userIdentifiers: at most 5";
          else {
            for (const auto& id : u) {
              for (auto it = id.begin(); it != id.end(); ++it) {
                if ((it.key() == "hashedEmail" || it.key() == "hashedPhoneNumber") &&
                    (!it.value().is_string() || !IsLowerHex64(it.value().get<std::string>()))) {
                  why = it.key() + " is not a SHA-256 hex";
                }
              }
            }
          }
        }
        if (why.empty() && c.contains("consent")) why = CheckConsent(c["consent"], false);
        if (why.empty() && c.contains("conversionValue") && !c.contains("currencyCode")) why = "value without currency";
        if (why.empty() && (!c.contains("orderId") || !c["orderId"].is_string())) why = "no orderId";
        if (!why.empty()) {
          violations_.push_back(why);
          row_error({{"requestError", "INVALID_INPUT"}}, why);
          continue;
        }
        std::string gclid = c.value("gclid", "");
        std::string order = c["orderId"].get<std::string>();
        if (gclid.rfind("bad", 0) == 0) {
          row_error({{"conversionUploadError", "UNPARSEABLE_GCLID"}}, "The click ID could not be decoded.");
          continue;
        }
        if (transient_once_.erase(gclid) > 0) {
          row_error({{"conversionUploadError", "TOO_RECENT_EVENT"}},
                    "The click associated with the given identifier or iOS URL parameter occurred less than 6 hours ago, please retry after 6 hours have passed.");
          continue;
        }
        if (received_.count(order) > 0) {
          ++duplicates_;
          row_error({{"conversionUploadError", "ORDER_ID_ALREADY_IN_USE"}},
                    "This order ID was already used.");
          continue;
        }
        received_[order] = 1;
        conversions_.push_back(c);
        results.push_back({{"gclid", gclid}, {"conversionAction", c["conversionAction"]},
                           {"conversionDateTime", c["conversionDateTime"]}});
      }
    }
    nlohmann::json out = {{"results", results}, {"jobId", "7001"}};
    if (!errors.empty()) {
      std::string at = errors[0].contains("location")
                           ? ", at conversions[" +
                                 std::to_string(errors[0]["location"]["fieldPathElements"][0]["index"].get<int>()) + "]"
                           : "";
      out["partialFailureError"] = {{"code", 3},
                                    {"message", errors[0]["message"].get<std::string>() + at},
                                    {"details", nlohmann::json::array({Failure(errors)})}};
    }
    std::string good = out.dump();
    if (AnswerAfterProcessing(fault, good, res)) return;
    std::lock_guard<std::mutex> lock(mu_);
    // Every row's fate is told, but that of the unlocated error's row.
    for (size_t i = fault == Fault::kUnlocatedRowError ? 1 : 0; i < conversions.size(); ++i) {
      const auto& c = conversions[i];
      if (c.contains("orderId") && c["orderId"].is_string()) NoteAcknowledged(c["orderId"].get<std::string>());
    }
    res.set_content(good, "application/json");
  }

  // Google's Consent message in REST JSON: adUserData, and adPersonalization
  // only where Google allows it (Customer Match's UserData, not click
  // conversions: "can only be set for OfflineUserDataJobService and UserDataService").
  static std::string CheckConsent(const nlohmann::json& c, bool personalization) {
    if (!c.is_object() || c.empty()) return "consent is not an object with a field";
    for (auto it = c.begin(); it != c.end(); ++it) {
      if (it.key() != "adUserData" && !(personalization && it.key() == "adPersonalization")) {
        return "consent." + it.key() + " may not be set here";
      }
      std::string v = it.value().is_string() ? it.value().get<std::string>() : "";
      if (v != "GRANTED" && v != "DENIED") return "consent." + it.key() + " \"" + v + "\"";
    }
    return {};
  }

  // GAQL on offline_user_data_job (under mu_): the job's status moves on by one poll.
  nlohmann::json PollJob(const std::string& q) {
    static const std::regex re(
        R"(^SELECT offline_user_data_job\.resource_name, offline_user_data_job\.status, )"
        R"(offline_user_data_job\.failure_reason FROM offline_user_data_job )"
        R"(WHERE offline_user_data_job\.resource_name = '(customers/\d+/offlineUserDataJobs/\d+)'$)");
    std::smatch m;
    nlohmann::json results = nlohmann::json::array();
    if (!std::regex_match(q, m, re)) {
      violations_.push_back("bad job GAQL: " + q);
      return results;
    }
    auto it = job_states_.find(m[1]);
    if (it == job_states_.end()) return results;  // no such job: no rows
    JobState& job = it->second;
    ++job.polls;
    if (job.status == "RUNNING") {
      if (job.running_polls_left > 0) {
        --job.running_polls_left;
      } else if (!job.failure_reason.empty()) {
        job.status = "FAILED";
      } else {
        job.status = "SUCCESS";
        for (const auto& v : pending_[it->first]) members_[jobs_[it->first]].insert(v);
      }
    }
    results.push_back({{"offlineUserDataJob",
                        {{"resourceName", it->first},
                         {"status", job.status},
                         {"failureReason", job.status == "FAILED" ? job.failure_reason : "UNSPECIFIED"}}}});
    return results;
  }

  std::string version_, customer_, developer_, access_;
  int64_t now_;
  std::map<std::string, JobState> job_states_;
  std::deque<std::string> job_failures_;
  std::map<std::string, int> received_;
  std::vector<nlohmann::json> conversions_;
  std::vector<nlohmann::json> operations_;
  std::set<std::string> transient_once_;
  std::atomic<int> duplicates_{0};
  std::atomic<int> unauthenticated_{0};
  std::map<std::string, std::string> user_lists_;           // name -> resource name
  std::map<std::string, std::string> jobs_;                 // job -> user list
  std::map<std::string, std::vector<std::string>> pending_; // job -> identifiers added
  std::map<std::string, std::set<std::string>> members_;    // user list -> identifiers
};

// An OAuth 2.0 token endpoint (POST /token, grant_type=refresh_token) like
// Google's: answers {"access_token","expires_in","token_type":"Bearer"} for
// the right client and refresh token, {"error":"invalid_grant"} (400)
// otherwise. Its tokens really expire after `lifetime_seconds`, and with
// `revoke_after_uses` a token is refused after that many API calls (an
// early revocation: the client must refresh on the 401).
class OAuthStandIn : public StandInServer {
 public:
  OAuthStandIn(std::string client_id, std::string client_secret, std::string refresh_token)
      : client_id_(std::move(client_id)), secret_(std::move(client_secret)), refresh_(std::move(refresh_token)) {
    server_.Post("/token", [this](const httplib::Request& req, httplib::Response& res) { Grant(req, res); });
  }
  int lifetime_seconds = 3600;
  int revoke_after_uses = 0;  // 0 = never

  std::string token_url() const { return url() + "/token"; }
  int grants() const { return grants_.load(); }
  int expired_seen() const { return expired_seen_.load(); }
  std::vector<std::string> issued() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [token, t] : tokens_) out.push_back(token);
    return out;
  }
  // The API's check of a bearer token.
  bool Valid(const std::string& token) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(token);
    if (it == tokens_.end()) return false;
    if (std::chrono::steady_clock::now() >= it->second.expires) {
      ++expired_seen_;
      return false;
    }
    if (revoke_after_uses > 0 && ++it->second.uses > revoke_after_uses) return false;
    return true;
  }

 private:
  struct Issued {
    std::chrono::steady_clock::time_point expires;
    int uses = 0;
  };
  static std::map<std::string, std::string> Form(const std::string& body) {
    std::map<std::string, std::string> out;
    size_t start = 0;
    while (start <= body.size()) {
      size_t amp = body.find('&', start);
      std::string pair = body.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      size_t eq = pair.find('=');
      if (eq != std::string::npos) {
        out[httplib::detail::decode_url(pair.substr(0, eq), true)] =
            httplib::detail::decode_url(pair.substr(eq + 1), true);
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
    return out;
  }
  void Grant(const httplib::Request& req, httplib::Response& res) {
    ++requests_;
    if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) != 0) {
      Violation("token request not form-encoded");
    }
    auto form = Form(req.body);
    if (form["grant_type"] != "refresh_token" || form["client_id"] != client_id_ ||
        form["client_secret"] != secret_ || form["refresh_token"] != refresh_) {
      res.status = 400;
      res.set_content(R"({"error":"invalid_grant","error_description":"Token has been expired or revoked."})",
                      "application/json");
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::string token = "ya29.refreshed-" + std::to_string(++serial_) + "-SECRET";
    tokens_[token] = Issued{std::chrono::steady_clock::now() + std::chrono::seconds(lifetime_seconds), 0};
    ++grants_;
    res.set_content(nlohmann::json{{"access_token", token}, {"expires_in", lifetime_seconds},
                                   {"scope", "https://www.googleapis.com/auth/adwords"}, {"token_type", "Bearer"}}
                        .dump(),
                    "application/json");
  }

  std::string client_id_, secret_, refresh_;
  std::map<std::string, Issued> tokens_;
  int serial_ = 0;
  std::atomic<int> grants_{0}, expired_seen_{0};
};

}  // namespace herald::testing

#endif  // HERALD_TEST_CONVERSION_STANDIN_SERVERS_H_
