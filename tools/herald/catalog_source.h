// The catalog a command runs on (docs/cli.md, "Catalogs in the store"):
// --catalog FILE when given, else the current catalog version of --store.
#ifndef HERALD_TOOLS_CATALOG_SOURCE_H_
#define HERALD_TOOLS_CATALOG_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "herald/model/catalog.pb.h"
#include "herald/registry.h"

namespace herald::cli {

struct CommandCatalog {
  v1::Catalog catalog;  // validated, defaults applied
  std::string name;     // for messages: the file, or "store version N"
  std::string base_dir; // where its relative file names resolve: the file's directory, or "" (working directory)
};

// `file` (LoadCatalog) when not empty; else the current version of the
// store at `store_uri` (LoadStoredCatalog). InvalidArgument naming both
// flags when neither is given, or when the store is "memory".
absl::StatusOr<CommandCatalog> LoadCommandCatalog(const std::string& file, const std::string& store_uri,
                                                  const Registry& registry);

}  // namespace herald::cli

#endif  // HERALD_TOOLS_CATALOG_SOURCE_H_
