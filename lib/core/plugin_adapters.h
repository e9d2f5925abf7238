// Internal: turns a plugin's C component description into a Registry factory.
// One adapter per family that ABI version 1 supports (selection: lib/csf).
#ifndef HERALD_LIB_CORE_PLUGIN_ADAPTERS_H_
#define HERALD_LIB_CORE_PLUGIN_ADAPTERS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "herald/plugin_abi.h"
#include "herald/registry.h"

namespace herald::internal {

// The plugin's description must stay valid while the plugin is loaded
// (it is never unloaded). `plugin` names the file in errors.
absl::StatusOr<std::unique_ptr<FactoryBase>> MakeSelectionPluginFactory(
    const herald_component_desc& desc, const std::string& plugin);

// A herald_error that collects the message into a std::string.
struct ErrorSink {
  herald_error error;
  std::string message;
  ErrorSink();
};

}  // namespace herald::internal

#endif  // HERALD_LIB_CORE_PLUGIN_ADAPTERS_H_
