#include "core/private_file.h"

#include <sys/stat.h>

#include <fstream>

#include "absl/strings/str_format.h"
#include "core/strings.h"

namespace herald::internal {

absl::StatusOr<std::string> ReadPrivateFileLine(std::string_view what, std::string_view file,
                                                std::string_view base_dir) {
  std::string path(file);
  if (!path.empty() && path[0] != '/' && !base_dir.empty()) path = Cat(base_dir, "/", path);
  // A secret's file must be its owner's alone: refused when the group or
  // others may read or write it (as ssh does for private keys).
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return absl::NotFoundError(Cat(what, ": cannot read ", path));
  if (!S_ISREG(info.st_mode)) return absl::FailedPreconditionError(Cat(what, ": ", path, " is not a regular file"));
  if ((info.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(
        absl::StrFormat("%s: %s is accessible by group or others (mode %04o); make it the owner's only (chmod 600)",
                        std::string(what), path, static_cast<unsigned>(info.st_mode & 07777)));
  }
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(Cat(what, ": cannot read ", path));
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\n')) line.pop_back();
  if (line.empty()) return absl::FailedPreconditionError(Cat(what, ": ", path, " is empty"));
  return line;
}

}  // namespace herald::internal
