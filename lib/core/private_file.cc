#include "core/private_file.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_format.h"
#include "core/strings.h"

namespace herald::internal {

namespace {

// Closes the descriptor and wipes what was read, however the read ends.
struct OpenSecret {
  int fd = -1;
  std::string bytes;
  ~OpenSecret() {
    if (fd >= 0) ::close(fd);
    explicit_bzero(bytes.data(), bytes.size());
  }
};

constexpr size_t kMaxSecretFileBytes = 64 * 1024;  // a token or a password, not a document

}  // namespace

absl::StatusOr<std::string> ReadPrivateFileLine(std::string_view what, std::string_view file,
                                                std::string_view base_dir) {
  std::string path(file);
  if (!path.empty() && path[0] != '/' && !base_dir.empty()) path = Cat(base_dir, "/", path);
  // Opened first and checked through the descriptor, so the file checked is
  // the file read (no swap between a stat and an open); O_NONBLOCK so that a
  // FIFO put in its place is refused, not waited on.
  OpenSecret secret;
  secret.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (secret.fd < 0) return absl::NotFoundError(Cat(what, ": cannot read ", path));
  struct stat info;
  if (::fstat(secret.fd, &info) != 0) return absl::NotFoundError(Cat(what, ": cannot read ", path));
  if (!S_ISREG(info.st_mode)) return absl::FailedPreconditionError(Cat(what, ": ", path, " is not a regular file"));
  // A secret's file must be its owner's alone: refused when the group or
  // others may read or write it (as ssh does for private keys).
  if ((info.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(
        absl::StrFormat("%s: %s is accessible by group or others (mode %04o); make it the owner's only (chmod 600)",
                        std::string(what), path, static_cast<unsigned>(info.st_mode & 07777)));
  }
  secret.bytes.resize(kMaxSecretFileBytes);
  size_t size = 0;
  while (size < secret.bytes.size()) {
    const ssize_t n = ::read(secret.fd, secret.bytes.data() + size, secret.bytes.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::NotFoundError(Cat(what, ": cannot read ", path));
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  std::string_view text(secret.bytes.data(), size);
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return absl::FailedPreconditionError(Cat(what, ": ", path, " is empty"));
  return std::string(text);
}

}  // namespace herald::internal
