// Internal: what every module's built-in components share.
#ifndef HERALD_LIB_CORE_COMPONENT_FACTORY_H_
#define HERALD_LIB_CORE_COMPONENT_FACTORY_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "core/strings.h"
#include "herald/registry.h"

namespace herald::internal {

// A factory of `Product` (a family's component type) for a class `Impl` with
//   static absl::StatusOr<std::unique_ptr<Impl>> Make(const Config&);
template <typename Product, typename Config, typename Impl>
std::unique_ptr<FactoryBase> ComponentFactory(std::string name, std::string description) {
  return MakeFactory<Product, Config>(
      std::move(name), std::move(description),
      [](const Config& config, const CreateContext&) -> absl::StatusOr<std::unique_ptr<Product>> {
        auto made = Impl::Make(config);
        if (!made.ok()) return made.status();
        return std::unique_ptr<Product>(std::move(*made));
      });
}

// "<component> config: <message>" as InvalidArgument.
inline absl::Status ConfigError(std::string_view component, std::string_view message) {
  return absl::InvalidArgumentError(Cat(component, " config: ", message));
}

}  // namespace herald::internal

#endif  // HERALD_LIB_CORE_COMPONENT_FACTORY_H_
