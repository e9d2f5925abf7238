// herald/registry.h: factories of named extensions and the Registry that holds them.
//
// Every replaceable piece of Herald (pipeline components, stores, mail
// transports, conversion destinations, recipient sources) is created by a
// factory registered under a name in a family. Built-in pieces are registered
// exactly like a third party's, by the explicit and idempotent
// RegisterBuiltins(Registry*) (herald/builtins.h) or by a loadable plugin
// (herald/plugin.h).
//
// A factory has a name(), a typed protobuf config (CreateEmptyConfig()) and
// Create(config, context) returning absl::StatusOr. TypedFactory<Product,
// Config> checks and downcasts the config so implementations see their own
// message type.
//
// Registries are objects, not hidden globals: a registry may have a parent
// whose names it sees (a per-test registry on top of the built-ins, say).
// Registry::Default() is an optional process-wide instance for programs that
// want one.
//
// Lifetime: a Registry owns its factories; it must outlive every lookup result
// and every extension created through it whose code comes from a plugin. A
// parent must outlive its children.
// Thread-safety: all methods are safe to call concurrently; registration takes
// an exclusive lock, lookups a shared one.
#ifndef HERALD_REGISTRY_H_
#define HERALD_REGISTRY_H_

#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace herald {

class Registry;
class Store;

// Everything a factory may need to build its product. Members are borrowed:
// they must outlive the created product unless documented otherwise.
struct CreateContext {
  CreateContext() = default;
  explicit CreateContext(const Registry* r, std::string dir = {}, Store* s = nullptr)
      : registry(r), base_dir(std::move(dir)), store(s) {}

  const Registry* registry = nullptr;  // to create nested extensions
  std::string base_dir;                // relative paths in configs resolve against it; empty = cwd
  Store* store = nullptr;              // the stores of the running site (herald/store.h); may be null
};

// Base of every product a factory creates.
class Extension {
 public:
  virtual ~Extension() = default;
};

// Maps a product type to its family name. Specialize for each extension point:
//   template <> struct ExtensionTraits<Store> { static constexpr std::string_view kFamily = "store"; };
// Pipeline components are mapped by herald/pipeline.h.
template <typename Product>
struct ExtensionTraits;

class FactoryBase {
 public:
  virtual ~FactoryBase() = default;
  virtual std::string_view family() const = 0;
  virtual std::string_view name() const = 0;
  // One line for `herald components`.
  virtual std::string_view description() const { return {}; }
  // A new default instance of this factory's config message.
  virtual std::unique_ptr<google::protobuf::Message> CreateEmptyConfig() const = 0;
  // Creates the product. `config` must be of the type CreateEmptyConfig() returns.
  virtual absl::StatusOr<std::unique_ptr<Extension>> Create(
      const google::protobuf::Message& config, const CreateContext& context) const = 0;
};

// Base for factories of `Product` configured by the message type `Config`.
template <typename Product, typename Config>
class TypedFactory : public FactoryBase {
 public:
  std::string_view family() const final { return ExtensionTraits<Product>::kFamily; }
  std::unique_ptr<google::protobuf::Message> CreateEmptyConfig() const override {
    return std::make_unique<Config>();
  }
  absl::StatusOr<std::unique_ptr<Extension>> Create(
      const google::protobuf::Message& config, const CreateContext& context) const final {
    if (config.GetDescriptor() != Config::descriptor()) {
      return absl::InvalidArgumentError(
          std::string(family()) + " component \"" + std::string(name()) +
          "\": config must be " + Config::descriptor()->full_name() + ", got " +
          config.GetDescriptor()->full_name());
    }
    auto product = CreateTyped(static_cast<const Config&>(config), context);
    if (!product.ok()) return product.status();
    return std::unique_ptr<Extension>(std::move(*product));
  }

 protected:
  virtual absl::StatusOr<std::unique_ptr<Product>> CreateTyped(
      const Config& config, const CreateContext& context) const = 0;
};

// A TypedFactory from a function: the shortest way to register a component.
//   registry.Register(MakeFactory<Component<SelectionContext>, MyConfig>(
//       "MyScorer", "multiplies scores by 2",
//       [](const MyConfig& c, const CreateContext&) -> absl::StatusOr<...> {...}));
template <typename Product, typename Config, typename Fn>
std::unique_ptr<FactoryBase> MakeFactory(std::string name, std::string description, Fn fn) {
  class FnFactory final : public TypedFactory<Product, Config> {
   public:
    FnFactory(std::string n, std::string d, Fn f)
        : name_(std::move(n)), description_(std::move(d)), fn_(std::move(f)) {}
    std::string_view name() const override { return name_; }
    std::string_view description() const override { return description_; }

   protected:
    absl::StatusOr<std::unique_ptr<Product>> CreateTyped(
        const Config& config, const CreateContext& context) const override {
      return fn_(config, context);
    }

   private:
    std::string name_, description_;
    Fn fn_;
  };
  return std::make_unique<FnFactory>(std::move(name), std::move(description), std::move(fn));
}

class Registry {
 public:
  explicit Registry(const Registry* parent = nullptr);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The optional process-wide registry (never destroyed). Nothing in the
  // library uses it implicitly.
  static Registry& Default();

  // Adds a factory. AlreadyExists if this registry or a parent already has the
  // (family, name); InvalidArgument for a null factory or an empty name.
  absl::Status Register(std::unique_ptr<FactoryBase> factory);

  // Registers unless an equal (family, name) is present: for idempotent
  // RegisterBuiltins-style functions. Returns whether it was added.
  bool RegisterIfAbsent(std::unique_ptr<FactoryBase> factory);

  // The factory of `family`/`name`, from this registry or its parents.
  // NotFound names it and lists the family's known names.
  absl::StatusOr<const FactoryBase*> Find(std::string_view family, std::string_view name) const;

  // Creates a `Product` named `name` from a config of the factory's type.
  template <typename Product>
  absl::StatusOr<std::unique_ptr<Product>> Create(std::string_view name,
                                                  const google::protobuf::Message& config,
                                                  const CreateContext& context) const {
    auto factory = Find(ExtensionTraits<Product>::kFamily, name);
    if (!factory.ok()) return factory.status();
    auto made = (*factory)->Create(config, context);
    if (!made.ok()) return made.status();
    auto* typed = dynamic_cast<Product*>(made->get());
    if (typed == nullptr) {
      return absl::InternalError(std::string(ExtensionTraits<Product>::kFamily) + " \"" +
                                 std::string(name) +
                                 "\": factory made a product of the wrong type");
    }
    made->release();
    return std::unique_ptr<Product>(typed);
  }

  // Creates with the factory's default config.
  template <typename Product>
  absl::StatusOr<std::unique_ptr<Product>> CreateDefault(std::string_view name,
                                                         const CreateContext& context) const {
    auto factory = Find(ExtensionTraits<Product>::kFamily, name);
    if (!factory.ok()) return factory.status();
    auto config = (*factory)->CreateEmptyConfig();
    return Create<Product>(name, *config, context);
  }

  // Sorted names of a family, parents included.
  std::vector<std::string> Names(std::string_view family) const;
  // Sorted family names that have at least one factory, parents included.
  std::vector<std::string> Families() const;
  // Every factory, parents included, ordered by (family, name).
  std::vector<const FactoryBase*> All() const;

  const Registry* parent() const { return parent_; }

 private:
  struct Factories;  // lib/core/registry.cc: the factories and their lock

  const Registry* const parent_;
  std::unique_ptr<Factories> factories_;
};

}  // namespace herald

#endif  // HERALD_REGISTRY_H_
