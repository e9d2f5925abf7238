#include "core/strings.h"
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "core/plugin_adapters.h"
#include "herald/plugin.h"
#include "herald/plugin_abi.h"

namespace herald {
namespace {

struct RegistrarState {
  herald_registrar registrar;
  std::string path;
  std::vector<std::unique_ptr<FactoryBase>> factories;
  std::vector<std::string> names;
};

// What the description of a component of `family` must hold; "" when it is complete.
std::string MissingFunctions(const herald_component_desc& desc, std::string_view family) {
  if ((desc.create == nullptr && desc.create_in_context == nullptr) || desc.destroy == nullptr) {
    return "create (or create_in_context) and destroy are required";
  }
  if (family != "destination") {
    return desc.run == nullptr ? Cat("run is required in the ", family, " family") : std::string();
  }
  const herald_destination_ops* ops = desc.destination;
  if (ops == nullptr) return "a destination needs its operations (herald_component_desc.destination)";
  if (ops->struct_size < sizeof(herald_destination_ops)) return "herald_destination_ops.struct_size is too small";
  if (ops->limits == nullptr || ops->prepare == nullptr || ops->send_batch == nullptr || ops->describe == nullptr) {
    return "a destination needs limits, prepare, send_batch and describe";
  }
  return std::string();
}

herald_code RegisterComponent(herald_registrar* registrar, const herald_component_desc* given,
                              herald_error* error) {
  auto* state = static_cast<RegistrarState*>(registrar->host_data);
  auto fail = [&](herald_code code, const std::string& message) {
    if (error != nullptr && error->set != nullptr) error->set(error, message.c_str());
    return code;
  };
  if (given == nullptr) return fail(HERALD_INVALID_ARGUMENT, "null component description");
  if (given->struct_size < HERALD_COMPONENT_DESC_SIZE_V1) {
    return fail(HERALD_INVALID_ARGUMENT, "herald_component_desc.struct_size is too small");
  }
  // A plugin written for an older description passes a shorter struct: copy
  // what it has and leave the rest zero (NULL).
  // Only whole fields are copied: after struct_size every field is a pointer.
  herald_component_desc desc{};
  size_t size = std::min<size_t>(given->struct_size, sizeof(desc));
  size -= size % alignof(void*);
  std::memcpy(&desc, given, size);
  if (desc.family == nullptr || desc.name == nullptr || desc.name[0] == '\0') {
    return fail(HERALD_INVALID_ARGUMENT, "a component needs a family and a name");
  }
  const std::string family = desc.family;
  const internal::PluginFactoryMaker make = internal::FindPluginFamily(family);
  if (make == nullptr) {
    return fail(HERALD_INVALID_ARGUMENT,
                Cat("component \"", desc.name, "\": family \"", family, "\" is not supported by plugin ABI version ",
                    HERALD_PLUGIN_ABI_VERSION, " in this build (supported: ", internal::PluginFamilyList(), ")"));
  }
  if (std::string missing = MissingFunctions(desc, family); !missing.empty()) {
    return fail(HERALD_INVALID_ARGUMENT, Cat("component \"", desc.name, "\": ", missing));
  }
  auto factory = make(desc, state->path);
  if (!factory.ok()) return fail(HERALD_INVALID_ARGUMENT, std::string(factory.status().message()));
  state->names.push_back(Cat(family, "/", desc.name));
  state->factories.push_back(std::move(*factory));
  return HERALD_OK;
}

// The plugin must have been built against this very plugin_abi.h: its
// herald_plugin_abi_hash() is compared with ours before anything else in it
// is called. Hashes are shown shortened, as git shows commits.
absl::Status CheckAbiHash(void* handle, const std::string& path) {
  dlerror();
  void* symbol = dlsym(handle, HERALD_PLUGIN_ABI_HASH_SYMBOL);
  if (symbol == nullptr) {
    return absl::FailedPreconditionError(
        Cat("plugin ", path, ": no symbol ", HERALD_PLUGIN_ABI_HASH_SYMBOL,
            " (built against an older plugin ABI, or without HERALD_PLUGIN_DEFINE_ABI_HASH()); "
            "rebuild the plugin against this Herald's herald/plugin_abi.h"));
  }
  const char* theirs = reinterpret_cast<herald_plugin_abi_hash_fn>(symbol)();
  constexpr std::string_view kOurs = HERALD_PLUGIN_ABI_HASH;
  // Read at most one byte past our hash's length: a shorter or longer string
  // differs either way, and a garbage pointer is not scanned far.
  std::string_view hash = theirs == nullptr
                              ? std::string_view()
                              : std::string_view(theirs, strnlen(theirs, kOurs.size() + 1));
  if (hash != kOurs) {
    std::string shown = hash.empty() ? std::string("(none)") : std::string(hash.substr(0, 12));
    for (char c : shown) {
      if (c < 0x20 || c > 0x7e) shown = "(not text)";
    }
    return absl::FailedPreconditionError(
        Cat("plugin ", path, ": built against plugin ABI ", shown, ", this Herald's is ",
            kOurs.substr(0, 12), " (SHA-256 of herald/plugin_abi.h); rebuild the plugin against "
            "this Herald's headers"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PluginInfo> LoadPlugin(const std::string& path, Registry* registry) {
  if (registry == nullptr) return absl::InvalidArgumentError("LoadPlugin: null registry");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(Cat("plugin ", path, ": no such file"));
  }
  // dlopen needs a path with a slash to avoid a library search.
  std::string open_path = path.find('/') == std::string::npos ? Cat("./", path) : path;
  void* handle = dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return absl::InvalidArgumentError(
        Cat("plugin ", path, ": cannot load: ", why != nullptr ? why : "unknown error"));
  }
  // From here on the handle is kept open for the life of the process (factories
  // and component instances point into it), also when registration fails,
  // since the plugin's code may already have run.
  if (absl::Status abi = CheckAbiHash(handle, path); !abi.ok()) return abi;
  dlerror();
  void* symbol = dlsym(handle, HERALD_PLUGIN_ENTRY_SYMBOL);
  if (symbol == nullptr) {
    return absl::NotFoundError(Cat("plugin ", path, ": no symbol ",
                                            HERALD_PLUGIN_ENTRY_SYMBOL,
                                            " (is it built with herald_add_plugin?)"));
  }
  auto entry = reinterpret_cast<herald_plugin_entry_fn>(symbol);
  const herald_plugin* plugin = entry();
  if (plugin == nullptr) {
    return absl::FailedPreconditionError(
        Cat("plugin ", path, ": ", HERALD_PLUGIN_ENTRY_SYMBOL, " returned null"));
  }
  if (plugin->abi_version != HERALD_PLUGIN_ABI_VERSION) {
    return absl::FailedPreconditionError(
        Cat("plugin ", path, ": built for plugin ABI version ", plugin->abi_version,
                     ", this Herald speaks version ", HERALD_PLUGIN_ABI_VERSION,
                     "; rebuild the plugin against this Herald"));
  }
  if (plugin->register_components == nullptr) {
    return absl::FailedPreconditionError(
        Cat("plugin ", path, ": register_components is null"));
  }
  RegistrarState state;
  state.path = path;
  state.registrar.host_data = &state;
  state.registrar.register_component = &RegisterComponent;
  state.registrar.host_abi_version = HERALD_PLUGIN_ABI_VERSION;
  internal::ErrorSink sink;
  herald_code code = plugin->register_components(&state.registrar, &sink.error);
  if (code != HERALD_OK) {
    return absl::FailedPreconditionError(Cat(
        "plugin ", path, ": registration failed (code ", static_cast<int>(code), "): ",
        sink.message.empty() ? "no message" : sink.message));
  }
  // All or nothing: check every name first, then register.
  for (const auto& factory : state.factories) {
    if (registry->Find(factory->family(), factory->name()).ok()) {
      return absl::AlreadyExistsError(Cat("plugin ", path, ": ", factory->family(),
                                                   " \"", factory->name(),
                                                   "\" is already registered"));
    }
  }
  PluginInfo info;
  info.path = path;
  info.name = plugin->name != nullptr ? plugin->name : "";
  info.version = plugin->version != nullptr ? plugin->version : "";
  info.components = state.names;
  for (auto& factory : state.factories) {
    if (absl::Status s = registry->Register(std::move(factory)); !s.ok()) {
      return absl::Status(s.code(), Cat("plugin ", path, ": ", s.message()));
    }
  }
  return info;
}

}  // namespace herald
