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
#include "herald/plugin.h"
#include "site_components.h"

namespace site::driver {

absl::Status RegisterAll(herald::Registry* registry) {
  if (absl::Status s = herald::RegisterBuiltins(registry); !s.ok()) return s;
  if (absl::Status s = RegisterSiteComponents(registry); !s.ok()) return s;
  for (const char* plugin : {"replacement_exposure_limit", "replacement_member_order_discount",
                             "replacement_skip_domains", "replacement_webhook"}) {
    auto loaded = herald::LoadPlugin(absl::StrCat(HERALD_REPLACEMENT_PLUGIN_DIR, "/", plugin, ".so"), registry);
    if (!loaded.ok()) return loaded.status();
  }
  return absl::OkStatus();
}

std::string Variant::Name(const std::string& site) const {
  auto it = renames.find(site);
  return it == renames.end() ? site : it->second;
}

herald::v1::PipelineDefinition Variant::Renamed(herald::v1::PipelineDefinition definition) const {
  for (auto& stage : *definition.mutable_stages()) {
    for (auto& component : *stage.mutable_components()) component.set_name(Name(component.name()));
  }
  return definition;
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
  using Proof = absl::StatusOr<std::string> (*)(const std::string&, const site::driver::Variant&);
  const std::pair<const char*, Proof> proofs[] = {{"selection", site::driver::ProveSelection},
                                                  {"basket", site::driver::ProveBasket},
                                                  {"mail", site::driver::ProveMail},
                                                  {"conversion", site::driver::ProveConversion}};
  // The site's C++ components first, then the same four as C-ABI plugins
  // (plugins/), which only LoadHistory and RecordHistory's site versions
  // have no plugin twin of: the plugins' pipeline keeps the built-ins there.
  const site::driver::Variant variants[] = {
      {"C++ components", {}},
      {"C-ABI plugins",
       {{"SiteExposureLimit", "PluginExposureLimit"},
        {"SiteLoadHistory", "LoadHistory"},
        {"SiteRecordHistory", "RecordHistory"},
        {"MemberOrderDiscount", "PluginMemberOrderDiscount"},
        {"SkipDomains", "PluginSkipDomains"},
        {"webhook", "plugin_webhook"}}}};
  for (const site::driver::Variant& variant : variants) {
    for (const auto& [family, prove] : proofs) {
      absl::StatusOr<std::string> line = prove(dir, variant);
      if (!line.ok()) {
        std::cerr << family << " (" << variant.what << "): FAILED: " << line.status().message() << "\n";
        return 1;
      }
      std::cout << family << " (" << variant.what << "): " << *line << std::endl;
    }
  }
  std::cout << "all four replacements work, as C++ components and as C-ABI plugins" << std::endl;
  return 0;
}
