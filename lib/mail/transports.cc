// The built-in transports: "smtp" (libcurl; parallel connections, reuse, TLS,
// STARTTLS, AUTH), "maildir" (a drop directory: Maildir or pickup .eml files)
// and "null" (counts and discards, for benchmarks).
#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>

#include "core/strings.h"
#include "herald/mail.h"
#include "herald/model/mail_config.pb.h"

namespace herald {

namespace {

void GlobalCurlInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// ---------------------------------------------------------------- smtp

// The URL without the user information ("smtp://user:secret@host" ->
// "smtp://host"): credentials never reach errors, reports or logs.
std::string RedactUrl(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  size_t host = scheme + 3;
  size_t end = url.find_first_of("/?#", host);
  if (end == std::string_view::npos) end = url.size();
  size_t at = url.substr(host, end - host).rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return Cat(url.substr(0, host), url.substr(host + at + 1));
}

// The password of `config`: exactly one of password, password_env (the
// variable must be set and non-empty) and password_file (a final line break
// dropped). Errors name the variable or the file, never the value.
absl::StatusOr<std::string> ResolvePassword(const v1::SmtpTransportConfig& config) {
  int given = int(!config.password().empty()) + int(!config.password_env().empty()) +
              int(!config.password_file().empty());
  if (given > 1) {
    return absl::InvalidArgumentError("smtp transport: give only one of password, password_env and password_file");
  }
  if (!config.password_env().empty()) {
    const char* value = std::getenv(config.password_env().c_str());
    if (value == nullptr || *value == 0) {
      return absl::InvalidArgumentError(Cat("smtp transport: password_env: the environment variable ",
                                            config.password_env(), " is not set or empty"));
    }
    return std::string(value);
  }
  if (!config.password_file().empty()) {
    std::ifstream in(config.password_file(), std::ios::binary);
    std::string password;
    if (!in || !std::getline(in, password)) {
      return absl::InvalidArgumentError(
          Cat("smtp transport: password_file \"", config.password_file(), "\": cannot read it or it is empty"));
    }
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty()) {
      return absl::InvalidArgumentError(
          Cat("smtp transport: password_file \"", config.password_file(), "\": the first line is empty"));
    }
    return password;
  }
  return config.password();
}

// Credentials in a URL end up in shell histories, process lists and logs,
// and libcurl would use them for AUTH whatever `tls` says: refused outright.
// The URL is not repeated in the error (it holds the secret).
absl::Status RefuseUserInfo(std::string_view url) {
  size_t scheme = url.find("://");
  if (url.find('@', scheme == std::string_view::npos ? 0 : scheme + 3) == std::string_view::npos) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      "smtp transport: the url must not carry credentials (\"user:password@\" before the host): set "
      "username, and the password through password_env (an environment variable) or password_file "
      "(herald mail: --smtp-user, and HERALD_SMTP_PASSWORD or --smtp-password-file)");
}

class SmtpTransport final : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<Transport>> Make(const v1::SmtpTransportConfig& config) {
    if (config.url().empty()) return absl::InvalidArgumentError("smtp transport: url is required");
    if (auto s = RefuseUserInfo(config.url()); !s.ok()) return s;
    if (config.url().rfind("smtp://", 0) != 0 && config.url().rfind("smtps://", 0) != 0) {
      return absl::InvalidArgumentError(
          Cat("smtp transport: url must start with smtp:// or smtps://, got \"", RedactUrl(config.url()), "\""));
    }
    if (config.connections() < 0 || config.connections() > 256) {
      return absl::InvalidArgumentError("smtp transport: connections must be within 0..256");
    }
    if (config.timeout_ms() < 0) return absl::InvalidArgumentError("smtp transport: timeout_ms must be >= 0");
    if (config.tls() == v1::SMTP_TLS_IMPLICIT && config.url().rfind("smtps://", 0) != 0) {
      return absl::InvalidArgumentError("smtp transport: tls IMPLICIT needs an smtps:// url");
    }
    if (!config.ca_file().empty() && ::access(config.ca_file().c_str(), R_OK) != 0) {
      return absl::InvalidArgumentError(
          Cat("smtp transport: ca_file \"", config.ca_file(), "\": cannot read it"));
    }
    if ((!config.password().empty() || !config.password_env().empty() || !config.password_file().empty()) &&
        config.username().empty()) {
      return absl::InvalidArgumentError("smtp transport: a password is set but no username");
    }
    if (!config.username().empty() && config.tls() == v1::SMTP_TLS_NONE &&
        !config.allow_plaintext_auth_insecure()) {
      return absl::InvalidArgumentError(
          "smtp transport: a username with tls NONE would send the password in clear text (AUTH without "
          "TLS): use STARTTLS or an smtps:// url, or set allow_plaintext_auth_insecure "
          "(herald mail --allow-plaintext-auth-insecure) to accept that anyone on the path reads it");
    }
    auto password = ResolvePassword(config);
    if (!password.ok()) return password.status();
    if (!config.username().empty() && password->empty()) {
      return absl::InvalidArgumentError(
          "smtp transport: a username needs a password: set password_env (an environment variable) or "
          "password_file");
    }
    GlobalCurlInit();
    auto t = std::unique_ptr<SmtpTransport>(new SmtpTransport());
    t->config_ = config;
    t->config_.set_password(std::move(*password));
    t->config_.clear_password_env();
    t->connections_ = config.connections() == 0 ? 8 : config.connections();
    std::string url = config.url();
    while (!url.empty() && url.back() == '/') url.pop_back();
    // The path of an SMTP URL is the EHLO name.
    t->url_ = Cat(url, "/", config.helo_name().empty() ? "localhost" : config.helo_name());
    t->multi_ = curl_multi_init();
    curl_multi_setopt(t->multi_, CURLMOPT_MAX_HOST_CONNECTIONS, long(t->connections_));
    curl_multi_setopt(t->multi_, CURLMOPT_MAXCONNECTS, long(t->connections_));
    for (int i = 0; i < t->connections_; ++i) {
      auto slot = std::make_unique<Slot>();
      slot->easy = curl_easy_init();
      if (slot->easy == nullptr) return absl::InternalError("smtp transport: curl_easy_init failed");
      t->Configure(*slot);
      t->slots_.push_back(std::move(slot));
    }
    return std::unique_ptr<Transport>(std::move(t));
  }

  ~SmtpTransport() override {
    for (auto& s : slots_) {
      if (s->easy != nullptr) curl_easy_cleanup(s->easy);
      if (s->rcpt != nullptr) curl_slist_free_all(s->rcpt);
    }
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
  }

  std::string Describe() const override {
    return Cat(RedactUrl(config_.url()), " (", connections_, " connections",
               config_.allow_plaintext_auth_insecure() && !config_.username().empty()
                   ? ", INSECURE: AUTH allowed without TLS"
                   : "",
               ")");
  }

  std::vector<SendResult> Send(std::span<const OutgoingMessage> messages) override {
    std::vector<SendResult> results(messages.size());
    absl::MutexLock lock(&mu_);
    size_t next = 0;
    int active = 0;
    auto start = [&](Slot& s) {
      const OutgoingMessage& m = messages[next];
      s.index = next++;
      s.data = &m.data;
      s.offset = 0;
      s.errbuf[0] = 0;
      if (s.rcpt != nullptr) curl_slist_free_all(s.rcpt);
      std::string rcpt = Cat("<", m.recipient, ">");
      s.rcpt = curl_slist_append(nullptr, rcpt.c_str());
      std::string from = Cat("<", m.envelope_from, ">");
      curl_easy_setopt(s.easy, CURLOPT_MAIL_FROM, from.c_str());
      curl_easy_setopt(s.easy, CURLOPT_MAIL_RCPT, s.rcpt);
      curl_easy_setopt(s.easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(m.data.size()));
      curl_multi_add_handle(multi_, s.easy);
      ++active;
    };
    for (auto& s : slots_) {
      if (next >= messages.size()) break;
      start(*s);
    }
    while (active > 0) {
      int running = 0;
      curl_multi_perform(multi_, &running);
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Slot* s = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&s));
        CURLcode rc = msg->data.result;
        long code = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        curl_multi_remove_handle(multi_, msg->easy_handle);
        --active;
        results[s->index] = Classify(rc, code, s->errbuf);
        if (next < messages.size()) start(*s);
      }
      if (active > 0) curl_multi_poll(multi_, nullptr, 0, 100, nullptr);
    }
    return results;
  }

 private:
  struct Slot {
    CURL* easy = nullptr;
    curl_slist* rcpt = nullptr;
    const std::string* data = nullptr;
    size_t offset = 0;
    size_t index = 0;
    char errbuf[CURL_ERROR_SIZE];
  };

  static size_t Read(char* buffer, size_t size, size_t nitems, void* userdata) {
    Slot* s = static_cast<Slot*>(userdata);
    size_t room = size * nitems;
    size_t left = s->data->size() - s->offset;
    size_t n = left < room ? left : room;
    std::memcpy(buffer, s->data->data() + s->offset, n);
    s->offset += n;
    return n;
  }

  void Configure(Slot& s) {
    CURL* e = s.easy;
    curl_easy_setopt(e, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, &SmtpTransport::Read);
    curl_easy_setopt(e, CURLOPT_READDATA, &s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s.errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    long timeout = config_.timeout_ms() == 0 ? 30000 : config_.timeout_ms();
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    switch (config_.tls()) {
      case v1::SMTP_TLS_NONE:
        curl_easy_setopt(e, CURLOPT_USE_SSL, long(CURLUSESSL_NONE));
        break;
      case v1::SMTP_TLS_STARTTLS:
      case v1::SMTP_TLS_IMPLICIT:
        curl_easy_setopt(e, CURLOPT_USE_SSL, long(CURLUSESSL_ALL));
        break;
      default:
        // smtp:// with STARTTLS when offered; but credentials are never sent
        // in clear text unless allow_plaintext_auth_insecure says so: with a
        // username TLS is required.
        curl_easy_setopt(e, CURLOPT_USE_SSL,
                         long(config_.username().empty() || config_.allow_plaintext_auth_insecure()
                                  ? CURLUSESSL_TRY
                                  : CURLUSESSL_ALL));
        break;
    }
    if (config_.insecure_skip_verify()) {
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!config_.ca_file().empty()) curl_easy_setopt(e, CURLOPT_CAINFO, config_.ca_file().c_str());
    if (!config_.username().empty()) {
      curl_easy_setopt(e, CURLOPT_USERNAME, config_.username().c_str());
      curl_easy_setopt(e, CURLOPT_PASSWORD, config_.password().c_str());
    }
  }

  SendResult Classify(CURLcode rc, long code, const char* errbuf) const {
    SendResult r;
    r.code = static_cast<int>(code);
    if (rc == CURLE_OK) {
      r.outcome = SendOutcome::kSent;
      return r;
    }
    // A failure after a positive reply (a TLS handshake after "220 Ready to
    // start TLS", ...) is not the server's answer: no SMTP code for it.
    if (code < 400) {
      code = 0;
      r.code = 0;
    }
    r.detail = Cat(code > 0 ? Cat(code, " ") : std::string(),
                   errbuf[0] != 0 ? std::string(errbuf) : std::string(curl_easy_strerror(rc)));
    // Configuration problems, said plainly (never with the credentials).
    if (rc == CURLE_LOGIN_DENIED || code == 535) {
      r.detail = Cat("authentication failed: the server refused the configured username and password (",
                     r.detail, ")");
    } else if (code == 530 && config_.tls() == v1::SMTP_TLS_NONE) {
      r.detail = Cat("the server requires STARTTLS (or AUTH) first but the transport is configured with "
                     "tls NONE (", r.detail, ")");
    } else if (rc == CURLE_USE_SSL_FAILED) {
      r.detail = Cat("TLS is required (tls STARTTLS, or a username) but the server does not offer STARTTLS (",
                     r.detail, ")");
    } else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
      r.detail = Cat("the server's TLS certificate could not be verified (set ca_file to its CA) (", r.detail,
                     ")");
    }
    if (code >= 500) {
      r.outcome = (code == 501 || code == 553) ? SendOutcome::kInvalidAddress : SendOutcome::kPermanent;
    } else if (rc == CURLE_LOGIN_DENIED || rc == CURLE_USE_SSL_FAILED ||
               rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_PEER_FAILED_VERIFICATION) {
      r.outcome = SendOutcome::kPermanent;  // configuration: retrying will not help
    } else {
      r.outcome = SendOutcome::kTemporary;  // 4xx, or the connection failed
    }
    return r;
  }

  SmtpTransport() = default;
  v1::SmtpTransportConfig config_;
  std::string url_;
  int connections_ = 8;
  absl::Mutex mu_;
  CURLM* multi_ = nullptr;
  std::vector<std::unique_ptr<Slot>> slots_;
};

// ---------------------------------------------------------------- maildir

absl::Status MakeDirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
        return absl::UnavailableError(Cat("cannot create directory \"", cur, "\": ", std::strerror(errno)));
      }
    }
    if (i < path.size()) cur.push_back(path[i]);
  }
  return absl::OkStatus();
}

class MaildirTransport final : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<Transport>> Make(const v1::MaildirTransportConfig& config,
                                                         const CreateContext& context) {
    if (config.path().empty()) return absl::InvalidArgumentError("maildir transport: path is required");
    auto t = std::unique_ptr<MaildirTransport>(new MaildirTransport());
    t->config_ = config;
    t->dir_ = config.path();
    if (t->dir_[0] != '/' && !context.base_dir.empty()) t->dir_ = Cat(context.base_dir, "/", t->dir_);
    t->pickup_ = config.layout() == v1::DROP_LAYOUT_PICKUP;
    if (t->pickup_) {
      if (auto s = MakeDirs(t->dir_); !s.ok()) return s;
    } else {
      for (const char* sub : {"/tmp", "/new", "/cur"}) {
        if (auto s = MakeDirs(t->dir_ + sub); !s.ok()) return s;
      }
    }
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    for (char& c : host) {
      if (c == '/' || c == ':') c = '_';
    }
    t->host_ = host;
    return std::unique_ptr<Transport>(std::move(t));
  }

  std::string Describe() const override {
    return Cat(pickup_ ? "pickup:" : "maildir:", dir_);
  }

  std::vector<SendResult> Send(std::span<const OutgoingMessage> messages) override {
    std::vector<SendResult> results(messages.size());
    std::string body;
    for (size_t i = 0; i < messages.size(); ++i) results[i] = Write(messages[i], body);
    return results;
  }

 private:
  SendResult Write(const OutgoingMessage& m, std::string& body) {
    SendResult r;
    auto now = std::chrono::system_clock::now().time_since_epoch();
    int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
    std::string unique = Cat(us / 1000000, ".M", us % 1000000, "P", getpid(), "Q",
                             counter_.fetch_add(1), ".", host_);
    std::string tmp, final_path;
    std::string_view data = m.data;
    if (pickup_) {
      tmp = Cat(dir_, "/.", unique, ".tmp");
      final_path = Cat(dir_, "/", unique, ".eml");
      body = Cat("X-Sender: ", m.envelope_from, "\r\nX-Receiver: ", m.recipient, "\r\n");
      body.append(m.data);
      data = body;
    } else {
      tmp = Cat(dir_, "/tmp/", unique);
      final_path = Cat(dir_, "/new/", unique);
      body = Cat("Return-Path: <", m.envelope_from, ">\nDelivered-To: ", m.recipient, "\n");
      body.reserve(body.size() + m.data.size());
      for (size_t i = 0; i < m.data.size(); ++i) {
        if (m.data[i] == '\r' && i + 1 < m.data.size() && m.data[i + 1] == '\n') continue;
        body.push_back(m.data[i]);
      }
      data = body;
    }
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      r.outcome = SendOutcome::kTemporary;
      r.detail = Cat("open ", tmp, ": ", std::strerror(errno));
      return r;
    }
    size_t done = 0;
    bool ok = true;
    while (done < data.size()) {
      ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n <= 0) {
        ok = false;
        break;
      }
      done += size_t(n);
    }
    if (ok && !config_.no_fsync()) ok = ::fsync(fd) == 0;
    ok = (::close(fd) == 0) && ok;
    if (ok) ok = ::rename(tmp.c_str(), final_path.c_str()) == 0;
    if (!ok) {
      ::unlink(tmp.c_str());
      r.outcome = SendOutcome::kTemporary;
      r.detail = Cat("write ", final_path, ": ", std::strerror(errno));
      return r;
    }
    r.detail = final_path;
    return r;
  }

  MaildirTransport() = default;
  v1::MaildirTransportConfig config_;
  std::string dir_, host_;
  bool pickup_ = false;
  std::atomic<uint64_t> counter_{0};
};

// ---------------------------------------------------------------- null

class NullTransport final : public Transport {
 public:
  std::string Describe() const override { return "null"; }
  std::vector<SendResult> Send(std::span<const OutgoingMessage> messages) override {
    bytes_.fetch_add(0);
    return std::vector<SendResult>(messages.size());
  }

 private:
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace

void RegisterMailTransports(Registry* registry) {
  registry->RegisterIfAbsent(MakeFactory<Transport, v1::SmtpTransportConfig>(
      "smtp", "SMTP through libcurl: parallel connections, reuse, TLS / STARTTLS, AUTH",
      [](const v1::SmtpTransportConfig& c, const CreateContext&) { return SmtpTransport::Make(c); }));
  registry->RegisterIfAbsent(MakeFactory<Transport, v1::MaildirTransportConfig>(
      "maildir", "a drop directory: Maildir (tmp, new) or pickup .eml files",
      [](const v1::MaildirTransportConfig& c, const CreateContext& ctx) {
        return MaildirTransport::Make(c, ctx);
      }));
  registry->RegisterIfAbsent(MakeFactory<Transport, v1::NullTransportConfig>(
      "null", "discards every message (benchmarks, dry runs)",
      [](const v1::NullTransportConfig&, const CreateContext&)
          -> absl::StatusOr<std::unique_ptr<Transport>> {
        return std::unique_ptr<Transport>(std::make_unique<NullTransport>());
      }));
}

}  // namespace herald
