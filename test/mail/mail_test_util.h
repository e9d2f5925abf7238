// Helpers shared by the mail tests: temporary folders, files, subprocess output,
// and a transport and filter written the way a third party would.
#ifndef HERALD_TEST_MAIL_MAIL_TEST_UTIL_H_
#define HERALD_TEST_MAIL_MAIL_TEST_UTIL_H_

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "absl/synchronization/mutex.h"
#include "herald/mail.h"

namespace herald::testing {

inline std::string MakeTempDir(const std::string& prefix = "herald-mail") {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  char* made = mkdtemp(tmpl.data());
  return made == nullptr ? std::string() : std::string(made);
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `command` through the shell and returns its standard output.
inline std::string RunCommand(const std::string& command, int* exit_code = nullptr) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (exit_code != nullptr) *exit_code = WEXITSTATUS(rc);
  return out;
}

// A transport a third party might write: keeps every message, and answers
// with whatever `answer` says (default: accepted).
class CaptureTransport final : public Transport {
 public:
  std::vector<SendResult> Send(std::span<const OutgoingMessage> messages) override {
    std::vector<SendResult> results;
    absl::MutexLock lock(&mu_);
    for (const OutgoingMessage& m : messages) {
      SendResult r = answer ? answer(m, attempts_[m.recipient]++) : SendResult{};
      if (r.outcome == SendOutcome::kSent) sent_.push_back(m);
      results.push_back(r);
      if (after_each) after_each(sent_.size());
    }
    return results;
  }
  std::string Describe() const override { return "capture"; }

  std::vector<OutgoingMessage> sent() {
    absl::MutexLock lock(&mu_);
    return sent_;
  }
  // (message, how many times this recipient was tried before) -> result
  std::function<SendResult(const OutgoingMessage&, int)> answer;
  std::function<void(size_t)> after_each;

 private:
  absl::Mutex mu_;
  std::vector<OutgoingMessage> sent_;
  std::map<std::string, int> attempts_;
};

}  // namespace herald::testing

#endif  // HERALD_TEST_MAIL_MAIL_TEST_UTIL_H_
