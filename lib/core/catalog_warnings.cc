// CatalogWarnings: what is valid but cannot do what its author meant.
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/strings.h"
#include "herald/catalog.h"

namespace herald {

namespace {

// A SPONSOR entry sponsors the ads (and discount ads) of its own target
// group; one that no item of the group can take is dead.
void SponsorWarnings(const v1::Catalog& catalog, std::string_view source,
                     std::vector<CatalogIssue>* out) {
  struct Use {
    int items = 0;      // items placed in the group
    int opted_out = 0;  // ads with `sponsored: false`
  };
  absl::flat_hash_map<std::string, Use> uses;
  for (const v1::Campaign& campaign : catalog.campaigns()) {
    for (const v1::CampaignItem& item : campaign.items()) {
      if (item.has_ad() && !item.ad().target_group().empty()) {
        Use& u = uses[item.ad().target_group()];
        ++u.items;
        if (item.ad().has_sponsored() && !item.ad().sponsored()) ++u.opted_out;
      } else if (item.has_discount() && !item.discount().target_group().empty()) {
        ++uses[item.discount().target_group()].items;
      }
    }
  }
  for (const v1::TargetGroup& group : catalog.target_groups()) {
    for (int e = 0; e < group.entries_size(); ++e) {
      if (group.entries(e).action() != v1::TARGET_ACTION_SPONSOR) continue;
      auto it = uses.find(group.id());
      const Use u = it == uses.end() ? Use{} : it->second;
      if (u.items > 0 && u.opted_out < u.items) continue;
      CatalogIssue issue;
      issue.source = std::string(source);
      issue.path = Cat("target group \"", group.id(), "\" / entry #", e + 1);
      issue.message =
          u.items == 0
              ? "warning: this SPONSOR entry can never make anything eligible: no ad or discount uses "
                "the target group (an ad is sponsored by a SPONSOR entry of its own target group)"
              : "warning: this SPONSOR entry can never make anything eligible: every ad of the target "
                "group sets `sponsored: false`";
      out->push_back(std::move(issue));
    }
  }
}

}  // namespace

std::vector<CatalogIssue> CatalogWarnings(const v1::Catalog& catalog, std::string_view source) {
  std::vector<CatalogIssue> out;
  SponsorWarnings(catalog, source, &out);
  return out;
}

}  // namespace herald
