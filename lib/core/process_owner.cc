#include "core/process_owner.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace herald::internal {

std::string HostName() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

std::string NewLocalOwnerId() {
  absl::BitGen gen;
  return absl::StrFormat("%s:%d/%08x", HostName(), static_cast<int>(getpid()), absl::Uniform<uint32_t>(gen));
}

bool IsDeadLocalOwner(std::string_view owner) {
  std::string_view base = owner.substr(0, owner.find('/'));
  const size_t colon = base.rfind(':');
  if (colon == std::string_view::npos || base.substr(0, colon) != HostName()) return false;
  std::string_view digits = base.substr(colon + 1);
  if (digits.empty() || digits.size() > 9 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  pid_t pid = 0;
  for (char c : digits) pid = pid * 10 + (c - '0');
  if (pid <= 0 || pid == getpid()) return false;
  return kill(pid, 0) != 0 && errno == ESRCH;  // EPERM: alive, not ours to probe
}

}  // namespace herald::internal
