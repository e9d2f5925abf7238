// herald/catalog.h: loading and validating a site's campaign catalog.
//
// A catalog (herald.v1.Catalog) is read from textproto or, for files ending
// in ".json", from proto3 JSON. Validation checks every object and every
// cross-reference (customers, page groups, industries, content sizes, target
// groups, duplicate ids, dates, schedules, offers, expressions) and reports
// all problems at once. Each issue names the file, the line when the parser
// recorded one (textproto), and the object path:
//
//   catalog.textproto:42: campaign "Spring" / ad "Blue paint": weight must be positive
//
// Defaults the loader applies (also documented in the .proto): an empty time
// zone is "UTC", an empty currency "USD", empty content sizes the IAB
// defaults, unset `active` true.
//
// Lifetime: plain values. Thread-safety: the functions are reentrant.
#ifndef HERALD_CATALOG_H_
#define HERALD_CATALOG_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "herald/model/catalog.pb.h"

namespace herald {

struct CatalogIssue {
  std::string source;  // file name, or "catalog" for an in-memory one
  int line = 0;        // 1-based; 0 = unknown (JSON, or a missing field)
  std::string path;    // 'campaign "Spring" / ad "Blue paint"'; empty = the catalog
  std::string message;

  // "source:line: path: message" (parts that are empty are left out).
  std::string ToString() const;
};

struct CatalogLoadOptions {
  bool apply_defaults = true;  // fill time zone, currency, content sizes, `active`
  bool check_expressions = true;  // compile every expression against the declared attributes
};

// Reads, parses and validates the catalog at `path`. On failure the status is
// InvalidArgument (NotFound for a missing file) and its message lists every
// issue, one a line; `issues`, when given, receives them as values.
absl::StatusOr<v1::Catalog> LoadCatalog(const std::string& path,
                                        std::vector<CatalogIssue>* issues = nullptr,
                                        const CatalogLoadOptions& options = {});

// The same for text already in memory. `source` names it in messages; `json`
// selects the JSON mapping instead of textproto.
absl::StatusOr<v1::Catalog> ParseCatalog(std::string_view text, std::string_view source,
                                         bool json = false,
                                         std::vector<CatalogIssue>* issues = nullptr,
                                         const CatalogLoadOptions& options = {});

// Validates a catalog built in code. Returns every issue; empty means valid.
std::vector<CatalogIssue> ValidateCatalog(const v1::Catalog& catalog,
                                          std::string_view source = "catalog",
                                          const CatalogLoadOptions& options = {});

// What is valid but cannot work as its author likely meant (each message
// starts with "warning: "): a SPONSOR entry that can never make anything
// eligible. `herald validate` prints them and still succeeds.
std::vector<CatalogIssue> CatalogWarnings(const v1::Catalog& catalog,
                                          std::string_view source = "catalog");

// Fills the documented defaults in place.
void ApplyCatalogDefaults(v1::Catalog* catalog);

// The IAB content sizes used when a catalog declares none.
std::vector<v1::ContentSize> DefaultContentSizes();

// Parses the text form of an attribute value of the given type: ints,
// doubles, true/false, money as "19.99" or "19.99 EUR" (the catalog
// currency when none), RFC 3339 timestamps, comma-separated string lists.
absl::StatusOr<v1::Value> ParseAttributeValue(v1::ValueType type, std::string_view text,
                                              std::string_view default_currency = "USD");

// Builds a profile from "name=value" assignments, typed by the catalog's
// declared attributes of `root` ("user" or "context"). Unknown names fail
// with a suggestion of the declared ones.
absl::StatusOr<v1::Profile> ParseProfileAssignments(const v1::Catalog& catalog,
                                                    std::string_view root,
                                                    const std::vector<std::string>& assignments);

// Where an expression of a catalog is used, which decides what it may name.
enum class ExpressionUse {
  kTargeting,  // target group entries and discount eligibility: user.*, context.*, now
  kProduct,    // discount conditions and awards: also product.* and basket.*
};
// A compile error of an expression, at its 1-based line and column.
struct ExpressionError {
  int line = 0;
  int column = 0;
  std::string message;  // without the "line:column: " prefix
};
// Compiles `source` as `ValidateCatalog` compiles an expression of `use` in
// `catalog` (its declared attributes and time zone; defaults applied to a
// copy): nullopt when it compiles, else the first error with its position.
// InvalidArgument only when the catalog's own attribute declarations are
// broken (nothing can compile then).
absl::StatusOr<std::optional<ExpressionError>> CheckCatalogExpression(const v1::Catalog& catalog,
                                                                      ExpressionUse use,
                                                                      std::string_view source);

// Campaign-level goal split: `quantity` over `weights` by the largest
// remainder method (the parts add up to `quantity`; ties go to the earlier
// weight). Zero or negative total weight gives zeros.
std::vector<int64_t> SplitByWeight(int64_t quantity, std::span<const double> weights);

// The delivery goal of each item of `campaign`, by item index: a paid ad's
// own quantity under ad-level goaling, its share of quantity_ordered by
// weight under campaign-level goaling (SplitByWeight over the paid ads);
// 0 for house ads, discounts and direct mail.
std::vector<int64_t> PaidAdGoals(const v1::Campaign& campaign);

// Switches `campaign`'s goaling level as Commerce Server's Campaign Manager
// did (docs/business-desk.md, "Goaling"):
//  - ad level to campaign level: each paid ad's weight becomes its current
//    quantity and quantity_ordered their sum (Ad 1 at 1,000 and Ad 2 at 500
//    become 1,500 ordered at 1,000:500); the ads' own quantities are cleared;
//  - campaign level to ad level: each paid ad's quantity becomes its computed
//    share (PaidAdGoals); quantity_ordered is cleared.
// Switching to the level the campaign already has changes nothing. Returns
// what it did, one line per ad, for the caller to show. InvalidArgument for
// GOALING_LEVEL_UNSPECIFIED or a campaign whose quantities cannot be
// converted (no paid ad, a paid ad without quantity).
absl::StatusOr<std::vector<std::string>> SetGoalingLevel(v1::Campaign* campaign,
                                                         v1::GoalingLevel level);

// One-line summary: "catalog \"Name\": 3 customers, 5 campaigns, 12 ads, 4 discounts, 1 direct mail, 2 target groups".
std::string SummarizeCatalog(const v1::Catalog& catalog);

}  // namespace herald

#endif  // HERALD_CATALOG_H_
