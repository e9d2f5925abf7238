// herald_replacements: proves that a third party can re-implement one
// built-in of each pipeline family from Herald's public headers alone.
// Each proof runs Herald's own pipeline with the site's component in place
// (site_components.h) and checks the outcome; the program prints one line
// per family and exits 0, or names the family and what did not hold and
// exits 1.
//
//   herald_replacements [DIR]   DIR: examples/replacements (default: its source folder)
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "driver.h"
#include "herald/builtins.h"
#include "site_components.h"

namespace site::driver {

absl::Status RegisterAll(herald::Registry* registry) {
  if (absl::Status s = herald::RegisterBuiltins(registry); !s.ok()) return s;
  return RegisterSiteComponents(registry);
}

absl::StatusOr<std::string> MakeTempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string path = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/herald-replacements-XXXXXX");
  if (::mkdtemp(path.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot make a temporary directory ", path));
  }
  return path;
}

void RemoveTree(const std::string& dir) {
  ::nftw(
      dir.c_str(), [](const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }, 16,
      FTW_DEPTH | FTW_PHYS);
}

absl::Status WriteFile(const std::string& path, std::string_view text, int mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot create ", path));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return written ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

absl::Status Expect(bool ok, const std::string& what) {
  return ok ? absl::OkStatus() : absl::FailedPreconditionError(what);
}

}  // namespace site::driver

int main(int argc, char** argv) {
  if (argc > 2) {
    std::cerr << "usage: herald_replacements [DIR]\n";
    return 2;
  }
  const std::string dir = argc == 2 ? argv[1] : HERALD_REPLACEMENTS_DIR;
  using Proof = absl::StatusOr<std::string> (*)(const std::string&);
  const std::pair<const char*, Proof> proofs[] = {{"selection", site::driver::ProveSelection},
                                                  {"basket", site::driver::ProveBasket},
                                                  {"mail", site::driver::ProveMail},
                                                  {"conversion", site::driver::ProveConversion}};
  for (const auto& [family, prove] : proofs) {
    absl::StatusOr<std::string> line = prove(dir);
    if (!line.ok()) {
      std::cerr << family << ": FAILED: " << line.status().message() << "\n";
      return 1;
    }
    std::cout << family << ": " << *line << std::endl;
  }
  std::cout << "all four replacements work" << std::endl;
  return 0;
}
