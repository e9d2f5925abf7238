#include "server/access_log.h"

#include <cerrno>
#include <cstring>
#include <map>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace herald::server_internal {

namespace {

constexpr size_t kMaxRequestIdBytes = 64;
constexpr size_t kFlushBytes = 64 << 10;
constexpr auto kFlushEvery = std::chrono::milliseconds(200);

bool IsRequestIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

}  // namespace

std::string RequestIdFrom(std::string_view header) {
  bool well_formed = !header.empty() && header.size() <= kMaxRequestIdBytes;
  for (size_t i = 0; well_formed && i < header.size(); ++i) well_formed = IsRequestIdChar(header[i]);
  if (well_formed) return std::string(header);
  // Not a secret, only unique: a fast per-thread generator is enough.
  thread_local absl::InsecureBitGen random;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = absl::Uniform<uint64_t>(random);
    for (int i = 0; i < 16; ++i, bits >>= 4) id[half * 16 + i] = kHex[bits & 15];
  }
  return id;
}

namespace {

// "2026-12-04T21:03:04.123Z": the part up to the seconds formatted once per
// second and thread (absl::FormatTime costs about a microsecond).
std::string TimeText(absl::Time time) {
  thread_local int64_t cached_second = -1;
  thread_local std::string cached;
  const int64_t nanos = absl::ToUnixNanos(time);
  const int64_t second = nanos >= 0 ? nanos / 1000000000 : (nanos - 999999999) / 1000000000;
  if (second != cached_second) {
    cached = absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second), absl::UTCTimeZone());
    cached_second = second;
  }
  const int millis = static_cast<int>((nanos - second * 1000000000) / 1000000);
  std::string text = cached;
  text += '.';
  text += static_cast<char>('0' + millis / 100);
  text += static_cast<char>('0' + millis / 10 % 10);
  text += static_cast<char>('0' + millis % 10);
  text += 'Z';
  return text;
}

}  // namespace

std::string FormatAccessEntry(const AccessEntry& e) {
  // Every value is either a number or text from a closed set (method names,
  // route templates, error codes, a checked request id, key names checked
  // when created), so nothing needs JSON escaping; Printable-like filtering
  // guards the key name anyway.
  std::string key;
  for (char c : e.key_name) key += IsRequestIdChar(c) || c == ' ' ? c : '?';
  std::string line = absl::StrCat(
      R"({"time":")", TimeText(e.time),
      R"(","level":"info","msg":"request","request_id":")",
      absl::string_view(e.request_id.data(), e.request_id.size()), R"(","method":")",
      absl::string_view(e.method.data(), e.method.size()), R"(","route":")",
      absl::string_view(e.route.data(), e.route.size()), R"(","status":)", e.status,
      R"(,"duration_seconds":)", absl::StrFormat("%.6f", absl::ToDoubleSeconds(e.duration)),
      R"(,"request_bytes":)", e.request_bytes, R"(,"response_bytes":)", e.response_bytes);
  if (!e.error_code.empty()) {
    absl::StrAppend(&line, R"(,"error_code":")", absl::string_view(e.error_code.data(), e.error_code.size()),
                    "\"");
  }
  if (!e.grpc_code.empty()) {
    absl::StrAppend(&line, R"(,"grpc_code":")", absl::string_view(e.grpc_code.data(), e.grpc_code.size()), "\"");
  }
  if (!key.empty()) absl::StrAppend(&line, R"(,"key":")", key, "\"");
  line += "}\n";
  return line;
}

absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Open(const std::string& path) {
  if (path == "off") return std::unique_ptr<AccessLog>();
  if (path.empty() || path == "-") return std::unique_ptr<AccessLog>(new AccessLog(stderr, false));
  std::FILE* file = std::fopen(path.c_str(), "ae");
  if (file == nullptr) {
    return absl::UnavailableError(absl::StrCat("access_log: cannot open \"", path, "\": ", std::strerror(errno)));
  }
  return std::unique_ptr<AccessLog>(new AccessLog(file, true));
}

absl::StatusOr<std::shared_ptr<AccessLog>> AccessLog::OpenShared(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<AccessLog>>* open = new std::map<std::string, std::weak_ptr<AccessLog>>;
  const std::string key = path.empty() ? "-" : path;
  std::lock_guard<std::mutex> lock(mu);
  if (std::shared_ptr<AccessLog> held = (*open)[key].lock()) return held;
  auto opened = Open(path);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<AccessLog> log = std::move(*opened);
  if (log != nullptr) (*open)[key] = log;
  return log;
}

AccessLog::AccessLog(std::FILE* file, bool owned) : file_(file), owned_(owned) {
  writer_ = std::thread([this] { RunWriter(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
  Flush();
  if (owned_) std::fclose(file_);
}

void AccessLog::Write(const AccessEntry& entry) {
  std::string line = FormatAccessEntry(entry);
  bool full;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ += line;
    full = pending_.size() >= kFlushBytes;
  }
  if (full) cv_.notify_one();
}

void AccessLog::Flush() {
  // write_mu_ first: chunks reach the file in the order they were taken.
  std::lock_guard<std::mutex> write(write_mu_);
  std::string chunk;
  {
    std::lock_guard<std::mutex> lock(mu_);
    chunk.swap(pending_);
  }
  WriteOut(chunk);
}

void AccessLog::WriteOut(std::string& chunk) {
  if (chunk.empty()) return;
  std::fwrite(chunk.data(), 1, chunk.size(), file_);
  std::fflush(file_);
}

void AccessLog::RunWriter() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kFlushEvery, [this] { return stopping_ || pending_.size() >= kFlushBytes; });
    lock.unlock();
    Flush();
    lock.lock();
  }
}

}  // namespace herald::server_internal
