// Internal: catalog validation with parse locations.
#ifndef HERALD_LIB_CORE_CATALOG_VALIDATE_H_
#define HERALD_LIB_CORE_CATALOG_VALIDATE_H_

#include <string_view>
#include <vector>

#include "google/protobuf/text_format.h"
#include "herald/catalog.h"

namespace herald {

// `locations` may be null (JSON or a catalog built in code).
std::vector<CatalogIssue> ValidateCatalogAt(
    const v1::Catalog& catalog, std::string_view source,
    const google::protobuf::TextFormat::ParseInfoTree* locations,
    const CatalogLoadOptions& options);

}  // namespace herald

#endif  // HERALD_LIB_CORE_CATALOG_VALIDATE_H_
