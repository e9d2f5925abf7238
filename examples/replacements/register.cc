// RegisterSiteComponents: the site's factories, registered exactly as
// Herald registers its built-ins (herald/registry.h).
#include <utility>

#include "site_components.h"

namespace site {

absl::Status RegisterSiteComponents(herald::Registry* registry) {
  if (registry == nullptr) return absl::InvalidArgumentError("RegisterSiteComponents: no registry");
  for (auto make : {SiteExposureLimitFactory, SiteLoadHistoryFactory, SiteRecordHistoryFactory,
                    MemberOrderDiscountFactory, SkipDomainsFactory, WebhookDestinationFactory}) {
    if (absl::Status s = registry->Register(make()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace site
