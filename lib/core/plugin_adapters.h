// Internal: turns a plugin's C component description into a Registry
// factory. The family-independent part (config as JSON, create / destroy,
// the declared contract, typed values) lives in core; each family's adapter
// (the view a plugin sees) lives in its module:
//   selection   lib/csf/plugin_component.cc
//   basket      lib/discount/plugin_component.cc
//   mail        lib/mail/plugin_component.cc
//   conversion, destination   lib/conversion/plugin_component.cc
#ifndef HERALD_LIB_CORE_PLUGIN_ADAPTERS_H_
#define HERALD_LIB_CORE_PLUGIN_ADAPTERS_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "herald/model/common.pb.h"
#include "herald/pipeline.h"
#include "herald/plugin_abi.h"
#include "herald/registry.h"

namespace herald::internal {

// A herald_error that collects the message into a std::string.
struct ErrorSink {
  herald_error error;
  std::string message;
  ErrorSink();
  // `code` as a Status naming the plugin component ("plugin component X: ...").
  absl::Status ToStatus(herald_code code, std::string_view component) const;
};

// One created plugin instance: destroyed through the plugin when the
// adapter that owns it goes.
struct PluginInstance {
  herald_component_desc desc;  // full size: fields past the plugin's struct_size are NULL
  void* instance = nullptr;
  PluginInstance(const herald_component_desc& d, void* i) : desc(d), instance(i) {}
  ~PluginInstance() { desc.destroy(instance); }
  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;
};

// Builds the family's adapter (a pipeline component or a destination)
// around a created instance.
using PluginAdapterMaker = std::function<std::unique_ptr<Extension>(std::unique_ptr<PluginInstance>)>;

// A factory of family `family` for the plugin component `desc` (copied;
// its strings and functions live as long as the plugin, which is never
// unloaded). Its config is google.protobuf.Struct, given to create as JSON.
// `plugin` names the file in descriptions and errors.
std::unique_ptr<FactoryBase> MakePluginFactory(std::string_view family, const herald_component_desc& desc,
                                               const std::string& plugin, PluginAdapterMaker make);

// The contract the plugin declared (desc.reads / writes), or undeclared.
ComponentContract PluginContract(const herald_component_desc& desc);

// A Value as the ABI's typed value (strings borrowed from `value`); false
// for an unset value.
bool ToPluginValue(const v1::Value& value, herald_value* out);

// A C string that may be null, as a string_view.
inline std::string_view View(const char* s) { return s == nullptr ? std::string_view() : std::string_view(s); }
inline std::string_view View(herald_str s) {
  return s.data == nullptr ? std::string_view() : std::string_view(s.data, s.size);
}
inline herald_str Str(std::string_view s) { return herald_str{s.data(), s.size()}; }

// Makes the factory of a plugin component of one family. `desc` is checked
// (its family's required functions present) and copied to full size by the
// loader.
using PluginFactoryMaker = absl::StatusOr<std::unique_ptr<FactoryBase>> (*)(const herald_component_desc& desc,
                                                                         const std::string& plugin);

// The families plugins may offer components of. Each module that adapts one
// adds it at static initialization, so that the loader in core names no
// module and a library built from a subset of the modules loads the plugins
// of the families it has:
//   [[maybe_unused]] const bool kAdapted = internal::AddPluginFamily("basket", &Make...);
// Returns true. Thread-safety: AddPluginFamily only during static
// initialization; the others from any thread after it.
bool AddPluginFamily(std::string_view family, PluginFactoryMaker make);
// The maker of `family`, or null when no module adapts it.
PluginFactoryMaker FindPluginFamily(std::string_view family);
// The families adapted, sorted ("basket, conversion, ...").
std::string PluginFamilyList();

}  // namespace herald::internal

#endif  // HERALD_LIB_CORE_PLUGIN_ADAPTERS_H_
