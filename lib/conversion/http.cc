#include "conversion/http.h"

#include <curl/curl.h>

#include <mutex>

#include "absl/strings/numbers.h"
#include "core/strings.h"

namespace herald::conversion {

namespace {

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t ReadHeader(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (size_t i = 0; i < kName.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(line[i])) != kName[i]) match = false;
    }
    if (match) {
      std::string_view v = line.substr(kName.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      static_cast<HttpResponse*>(user)->retry_after.assign(v);
    }
  }
  return size * n;
}

}  // namespace

HttpClient::HttpClient(absl::Duration timeout) : curl_(nullptr), timeout_(timeout) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

HttpResponse HttpClient::Request(std::string_view method, const std::string& url,
                                 const std::vector<std::string>& headers, std::string_view body) {
  HttpResponse response;
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) {
    response.error = "libcurl could not be initialized";
    return response;
  }
  curl_easy_reset(curl);
  char error[CURL_ERROR_SIZE] = {0};
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout_)));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(absl::ToInt64Milliseconds(timeout_), 10000)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, ReadHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
  if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    response.status = 0;
    response.body.clear();
    response.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    response.error = Cat(curl_easy_strerror(rc), error[0] != 0 ? ": " : "", error);
    return response;
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

absl::Duration ParseRetryAfter(std::string_view value, absl::Time now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (value.empty()) return absl::ZeroDuration();
  int64_t seconds = 0;
  if (absl::SimpleAtoi(AbslView(value), &seconds)) {
    return seconds > 0 ? absl::Seconds(seconds) : absl::ZeroDuration();
  }
  absl::Time t;
  std::string err;
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S", std::string(value.substr(0, value.rfind(' '))), absl::UTCTimeZone(),
                      &t, &err)) {
    return t > now ? t - now : absl::ZeroDuration();
  }
  return absl::ZeroDuration();
}

}  // namespace herald::conversion
