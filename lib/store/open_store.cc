// The "store" family's built-in factories and OpenStore().
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "herald/model/store.pb.h"
#include "herald/privacy.h"
#include "herald/store.h"
#include "core/strings.h"
#include "store/sqlite_store.h"

namespace herald {
namespace {

std::string ResolvePath(const std::string& path, const std::string& base_dir) {
  if (path.empty() || base_dir.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).string();
}

std::unique_ptr<FactoryBase> MemoryFactory() {
  return MakeFactory<Store, v1::MemoryStoreConfig>(
      "memory", "everything in process memory (tests, dry runs)",
      [](const v1::MemoryStoreConfig&, const CreateContext&) -> absl::StatusOr<std::unique_ptr<Store>> {
        return NewMemoryStore();
      });
}

std::unique_ptr<FactoryBase> SqliteFactory() {
  return MakeFactory<Store, v1::SqliteStoreConfig>(
      "sqlite", "one SQLite file in WAL mode, created and migrated at open (the default)",
      [](const v1::SqliteStoreConfig& config,
         const CreateContext& context) -> absl::StatusOr<std::unique_ptr<Store>> {
        v1::SqliteStoreConfig resolved = config;
        resolved.set_path(ResolvePath(config.path(), context.base_dir));
        return store_backend::OpenSqliteStore(resolved);
      });
}

// The factory `name` from the registry, else the built-in one (for "memory"
// and "sqlite"), else nullptr.
const FactoryBase* FindStoreFactory(const Registry& registry, std::string_view name,
                                    std::unique_ptr<FactoryBase>* fallback) {
  auto found = registry.Find("store", name);
  if (found.ok()) return *found;
  if (name == "memory") *fallback = MemoryFactory();
  if (name == "sqlite") *fallback = SqliteFactory();
  return fallback->get();
}

// The store wrapped for personal data at rest (herald/privacy.h); the
// options are read before the store is opened, so a bad key ring opens nothing.
absl::StatusOr<std::unique_ptr<Store>> Protected(absl::StatusOr<std::unique_ptr<Store>> store,
                                                 absl::StatusOr<PersonalDataOptions> options) {
  if (!store.ok()) return store.status();
  return ProtectPersonalData(std::move(*store), std::move(*options));
}

absl::StatusOr<std::unique_ptr<Store>> OpenUnprotected(std::string_view uri, const Registry& registry,
                                                       const OpenStoreOptions& options);

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenStore(std::string_view uri, const Registry& registry,
                                                 const OpenStoreOptions& options) {
  if (uri == "memory" || uri == "memory:") return OpenUnprotected(uri, registry, options);
  auto personal = PersonalDataOptionsFromEnvironment(options.personal_data);
  if (!personal.ok()) return personal.status();
  return Protected(OpenUnprotected(uri, registry, options), std::move(personal));
}

absl::Status RegisterStoreBackends(Registry* registry) {
  if (registry == nullptr) return absl::InvalidArgumentError("RegisterStoreBackends: null registry");
  registry->RegisterIfAbsent(MemoryFactory());
  registry->RegisterIfAbsent(SqliteFactory());
  return absl::OkStatus();
}

namespace {

absl::StatusOr<std::unique_ptr<Store>> OpenUnprotected(std::string_view uri, const Registry& registry,
                                                       const OpenStoreOptions& options) {
  if (uri.empty()) return absl::InvalidArgumentError("store URI is empty");
  CreateContext context;
  context.registry = &registry;
  context.base_dir = options.base_dir;
  std::unique_ptr<FactoryBase> fallback;

  if (uri.starts_with("postgresql://") || uri.starts_with("postgres://")) {
    auto factory = registry.Find("store", "postgresql");
    if (!factory.ok()) {
      return absl::FailedPreconditionError(Cat(
          "store ", uri.substr(0, uri.find("://") + 3),
          "...: no \"postgresql\" store is registered; link herald_store_postgres and call "
          "herald::RegisterPostgresStore() (herald/store_postgres.h)"));
    }
    auto config = (*factory)->CreateEmptyConfig();
    const auto* field = config->GetDescriptor()->FindFieldByName("connection_string");
    if (field == nullptr || field->type() != google::protobuf::FieldDescriptor::TYPE_STRING) {
      return absl::FailedPreconditionError(
          "the registered \"postgresql\" store has no connection_string config field");
    }
    config->GetReflection()->SetString(config.get(), field, std::string(uri));
    auto made = (*factory)->Create(*config, context);
    if (!made.ok()) return made.status();
    auto* store = dynamic_cast<Store*>(made->get());
    if (store == nullptr) return absl::InternalError("the \"postgresql\" factory made no Store");
    made->release();
    return std::unique_ptr<Store>(store);
  }

  std::string name;
  std::unique_ptr<google::protobuf::Message> config;
  if (uri == "memory" || uri == "memory:") {
    name = "memory";
  } else {
    std::string_view path = uri;
    if (path.starts_with("sqlite://")) {
      path.remove_prefix(9);
    } else if (path.starts_with("sqlite:")) {
      path.remove_prefix(7);
    } else if (size_t scheme = path.find("://"); scheme != std::string_view::npos) {
      return absl::InvalidArgumentError(Cat(
          "store URI \"", uri.substr(0, scheme + 3),
          "...\": unknown scheme; use memory, sqlite:PATH, a file path or postgresql://..."));
    }
    if (path.empty()) return absl::InvalidArgumentError("sqlite store URI without a path");
    name = "sqlite";
    v1::SqliteStoreConfig sqlite;
    sqlite.set_path(std::string(path));
    sqlite.set_read_only(options.read_only);
    config = std::make_unique<v1::SqliteStoreConfig>(std::move(sqlite));
  }
  const FactoryBase* factory = FindStoreFactory(registry, name, &fallback);
  if (config == nullptr) config = factory->CreateEmptyConfig();
  auto made = factory->Create(*config, context);
  if (!made.ok()) return made.status();
  auto* store = dynamic_cast<Store*>(made->get());
  if (store == nullptr) {
    return absl::InternalError(Cat("store factory \"", name, "\" made no Store"));
  }
  made->release();
  return std::unique_ptr<Store>(store);
}

}  // namespace

}  // namespace herald
