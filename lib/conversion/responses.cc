#include "conversion/responses.h"

#include <nlohmann/json.hpp>

namespace herald::conversion {

namespace {

using nlohmann::json;

std::string Str(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return {};
}

int Int(const json& obj, const char* key, int fallback) {
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  if (it->is_number_integer()) {
    int64_t v = it->get<int64_t>();
    if (v > INT32_MAX || v < INT32_MIN) return fallback;
    return static_cast<int>(v);
  }
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    return v > INT32_MAX ? fallback : static_cast<int>(v);
  }
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > 9) return fallback;
    int v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return fallback;
      v = v * 10 + (c - '0');
    }
    return v;
  }
  return fallback;
}

void ParseGoogleAdsFailure(const json& details, std::vector<GoogleRowError>& rows) {
  if (!details.is_array()) return;
  for (const json& d : details) {
    if (!d.is_object()) continue;
    auto errors = d.find("errors");
    if (errors == d.end() || !errors->is_array()) continue;
    for (const json& e : *errors) {
      if (!e.is_object()) continue;
      GoogleRowError row;
      row.message = Str(e, "message");
      auto code = e.find("errorCode");
      if (code != e.end() && code->is_object()) {
        for (auto it = code->begin(); it != code->end(); ++it) {
          row.category = it.key();
          if (it.value().is_string()) row.code = it.value().get<std::string>();
          break;
        }
      }
      auto loc = e.find("location");
      if (loc != e.end() && loc->is_object()) {
        auto path = loc->find("fieldPathElements");
        if (path != loc->end() && path->is_array()) {
          for (const json& p : *path) {
            if (!p.is_object()) continue;
            if (Str(p, "fieldName") == "conversions") {
              row.index = Int(p, "index", 0);  // proto3 JSON omits a zero index
              break;
            }
          }
        }
      }
      rows.push_back(std::move(row));
    }
  }
}

}  // namespace

MetaResponse ParseMetaResponse(std::string_view body) {
  MetaResponse r;
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return r;
  r.parsed = true;
  auto err = j.find("error");
  if (err != j.end() && err->is_object()) {
    r.has_error = true;
    r.code = Int(*err, "code", 0);
    r.subcode = Int(*err, "error_subcode", 0);
    r.type = Str(*err, "type");
    r.message = Str(*err, "message");
    std::string user = Str(*err, "error_user_msg");
    if (!user.empty()) r.message += (r.message.empty() ? "" : " - ") + user;
    r.fbtrace_id = Str(*err, "fbtrace_id");
    return r;
  }
  r.events_received = Int(j, "events_received", -1);
  r.fbtrace_id = Str(j, "fbtrace_id");
  r.id = Str(j, "id");
  auto data = j.find("data");
  if (data != j.end() && data->is_array()) {
    for (const json& a : *data) {
      if (a.is_object()) r.audiences.emplace_back(Str(a, "id"), Str(a, "name"));
    }
  }
  return r;
}

bool IsMetaThrottleCode(int code) {
  return code == 4 || code == 17 || code == 32 || code == 613 || code == 80004;
}

bool IsMetaTransientCode(int code) { return code == 1 || code == 2; }

GoogleResponse ParseGoogleResponse(std::string_view body) {
  GoogleResponse r;
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  // Streaming REST answers come as an array of one object.
  if (j.is_array() && j.size() == 1) j = json(j[0]);
  if (!j.is_object()) return r;
  r.parsed = true;
  auto err = j.find("error");
  if (err != j.end() && err->is_object()) {
    r.has_error = true;
    r.error_code = Int(*err, "code", 0);
    r.status = Str(*err, "status");
    r.message = Str(*err, "message");
    auto details = err->find("details");
    if (details != err->end()) ParseGoogleAdsFailure(*details, r.rows);
    return r;
  }
  auto pf = j.find("partialFailureError");
  if (pf != j.end() && pf->is_object()) {
    r.error_code = Int(*pf, "code", 0);
    r.message = Str(*pf, "message");
    auto details = pf->find("details");
    if (details != pf->end()) ParseGoogleAdsFailure(*details, r.rows);
  }
  auto results = j.find("results");
  if (results != j.end() && results->is_array()) {
    r.results = static_cast<int>(results->size());
    r.result_kept.reserve(results->size());
    for (const json& x : *results) r.result_kept.push_back(x.is_object() && !x.empty());
  }
  r.job_id = Str(j, "jobId");
  return r;
}

RowClass ClassifyGoogleRow(const GoogleRowError& row) {
  const std::string& c = row.code;
  if (c == "CLICK_CONVERSION_ALREADY_EXISTS" || c == "ORDER_ID_ALREADY_IN_USE" ||
      c == "DUPLICATE_CLICK_CONVERSION_IN_REQUEST" || c == "DUPLICATE_ORDER_ID") {
    return RowClass::kDuplicate;
  }
  if (c == "TOO_RECENT_EVENT" || c == "TOO_RECENT_CONVERSION_ACTION" || c == "TRANSIENT_ERROR" ||
      row.category == "internalError" || row.category == "quotaError" || c == "INTERNAL_ERROR" ||
      c == "RESOURCE_EXHAUSTED" || c == "RESOURCE_TEMPORARILY_EXHAUSTED") {
    return RowClass::kTransient;
  }
  return RowClass::kPermanent;
}

}  // namespace herald::conversion
