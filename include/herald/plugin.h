// herald/plugin.h: loading plugins (.so files built against herald/plugin_abi.h).
//
// LoadPlugin opens a shared object, finds `herald_plugin_entry`, checks the
// ABI version exactly and registers the plugin's components in `registry`.
// Every failure (missing file, not a shared object, missing symbol, wrong ABI
// version, a failing or duplicate registration) is an absl::Status naming the
// file; nothing is registered from a plugin whose registration failed.
//
// Lifetime: the shared object stays loaded for the life of the process (it is
// never dlclose'd), so factories and instances from it never dangle.
// Thread-safety: LoadPlugin may be called concurrently; it locks the registry
// like Register does.
#ifndef HERALD_PLUGIN_H_
#define HERALD_PLUGIN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "herald/registry.h"

namespace herald {

struct PluginInfo {
  std::string path;
  std::string name;
  std::string version;
  std::vector<std::string> components;  // "family/name" registered
};

absl::StatusOr<PluginInfo> LoadPlugin(const std::string& path, Registry* registry);

}  // namespace herald

#endif  // HERALD_PLUGIN_H_
