// herald/catalog_versions.h: the site's catalog kept in a store, as numbered
// versions (Commerce Server's campaigns lived in the database the same way).
//
// Every save goes through SaveCatalog: the catalog is validated exactly as
// `herald validate` validates a file (same messages, same object paths) and
// accepted only when valid; each accepted save is a new version with who,
// when and a summary of what changed against the version before. Any version
// can be loaded, compared and rolled back to (a rollback saves the old
// catalog again as a new version). The store keeps the catalog as its author
// wrote it; LoadStoredCatalog applies the defaults, as LoadCatalog does for
// a file. Relative file names in a stored catalog (attachments, CSV lists)
// resolve against the working directory of the process that uses them.
//
// Lifetime: plain values; the CatalogStore is borrowed for the call.
// Thread-safety: the functions are reentrant; concurrent saves from any
// number of processes are serialized by the store (see `based_on`).
#ifndef HERALD_CATALOG_VERSIONS_H_
#define HERALD_CATALOG_VERSIONS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "herald/catalog.h"
#include "herald/model/catalog.pb.h"
#include "herald/model/store.pb.h"
#include "herald/store.h"

namespace herald {

struct CatalogSaveOptions {
  std::string author;             // who saves (required: every version says who)
  std::string note;               // why, in the author's words; the summary's first line when set
  // The version the change was made on. When another version was saved
  // since, the save is refused (Aborted) rather than silently undoing it.
  // -1: the current version, whatever it is (scripts, `herald catalog push`).
  int64_t based_on = -1;
  std::string source = "catalog";  // names the catalog in issues
  CatalogLoadOptions load;         // validation options (apply_defaults is forced on)
};

struct CatalogSaveResult {
  int64_t version = 0;                // the new version; the current one when unchanged
  bool unchanged = false;             // the catalog equals the current version: nothing saved
  std::vector<std::string> changes;   // DescribeCatalogChanges against the version before
  std::vector<CatalogIssue> warnings; // CatalogWarnings, and the goaling skew warning
};

// Validates `catalog` (as written: defaults are applied to a copy for the
// checks) and saves it as the next version. InvalidArgument with every
// issue, one a line, as LoadCatalog reports them (`issues` receives them);
// Aborted when `based_on` is not the current version.
absl::StatusOr<CatalogSaveResult> SaveCatalog(CatalogStore& store, const v1::Catalog& catalog,
                                              const CatalogSaveOptions& options,
                                              std::vector<CatalogIssue>* issues = nullptr);

// The same for catalog text (textproto, or proto3 JSON when `json`), so that
// issues carry the text's line numbers exactly as `herald validate` prints
// them; `options.source` names the text (a file name).
absl::StatusOr<CatalogSaveResult> SaveCatalogText(CatalogStore& store, std::string_view text, bool json,
                                                  const CatalogSaveOptions& options,
                                                  std::vector<CatalogIssue>* issues = nullptr);

// Saves version `version`'s catalog again as a new version (rollback_of set,
// summary "rollback to version N" and what that changes). It is validated
// like any save: a version the current Herald refuses cannot come back.
absl::StatusOr<CatalogSaveResult> RollbackCatalog(CatalogStore& store, int64_t version,
                                                  const CatalogSaveOptions& options);

// Version `version` (0: the current one) with its defaults applied and
// validated, ready for a selector or a pricer. NotFound when the store holds
// no such version; InvalidArgument when it no longer validates (a newer
// Herald's rules), naming the version. `loaded`, when given, receives the
// version's number.
absl::StatusOr<v1::Catalog> LoadStoredCatalog(CatalogStore& store, int64_t version = 0,
                                              int64_t* loaded = nullptr);

// What changed from `before` to `after`, one line per object: added and
// removed objects by their id (customers, campaigns, items, target groups,
// actions, reference-table rows, declared attributes), and for an object
// that changed the names of its changed fields:
//   campaign "spring": changed quantity_ordered, goaling
//   campaign "spring" / item "ad-1": changed ad.weight
//   added customer "acme"
// Empty when the two are equal.
std::vector<std::string> DescribeCatalogChanges(const v1::Catalog& before, const v1::Catalog& after);

// The Campaign Manager's warning for a campaign converted from ad-level to
// campaign-level goaling (its paid weights sum to its quantity ordered) that
// gained a paid ad while every earlier paid ad kept its weight: delivery
// will skew towards the old ads. One "warning: " issue per such campaign.
std::vector<CatalogIssue> GoalingSkewWarnings(const v1::Catalog& before, const v1::Catalog& after,
                                              std::string_view source = "catalog");

}  // namespace herald

#endif  // HERALD_CATALOG_VERSIONS_H_
