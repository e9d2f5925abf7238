#include "catalog_source.h"

#include <filesystem>

#include "core/strings.h"
#include "herald/catalog.h"
#include "herald/catalog_versions.h"
#include "herald/store.h"

namespace herald::cli {

absl::StatusOr<CommandCatalog> LoadCommandCatalog(const std::string& file, const std::string& store_uri,
                                                  const Registry& registry) {
  CommandCatalog out;
  if (!file.empty()) {
    absl::StatusOr<v1::Catalog> catalog = LoadCatalog(file);
    if (!catalog.ok()) return catalog.status();
    out.catalog = std::move(*catalog);
    out.name = file;
    out.base_dir = std::filesystem::path(file).parent_path().string();
    return out;
  }
  if (store_uri.empty() || store_uri == "memory") {
    return absl::InvalidArgumentError(
        "no catalog: give --catalog FILE, or --store URI of a store holding one (herald catalog push FILE --store URI)");
  }
  OpenStoreOptions open;
  open.read_only = !(store_uri.starts_with("postgresql://") || store_uri.starts_with("postgres://"));
  absl::StatusOr<std::unique_ptr<Store>> store = OpenStore(store_uri, registry, open);
  if (!store.ok()) return store.status();
  if ((*store)->catalogs() == nullptr) {
    return absl::FailedPreconditionError(Cat("store ", (*store)->Describe(), " keeps no catalog versions"));
  }
  int64_t version = 0;
  absl::StatusOr<v1::Catalog> catalog = LoadStoredCatalog(*(*store)->catalogs(), 0, &version);
  if (absl::IsNotFound(catalog.status())) {
    return absl::NotFoundError(Cat("store ", (*store)->Describe(),
                                   " holds no catalog version: give --catalog FILE, or push one with "
                                   "herald catalog push FILE --store URI"));
  }
  if (!catalog.ok()) return catalog.status();
  out.catalog = std::move(*catalog);
  out.name = Cat("store version ", version);
  return out;
}

}  // namespace herald::cli
