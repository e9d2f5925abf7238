// A site's own components, written against Herald's public headers only
// (include/herald/*.h): one built-in of each pipeline family re-implemented
// or added by a third party.
//
//   SiteExposureLimit    selection  the built-in ExposureLimit, rule for rule
//   SiteLoadHistory      selection  the built-in LoadHistory (SelectionServices::ReadHistory)
//   SiteRecordHistory    selection  the built-in RecordHistory (SelectionServices::AddToHistory)
//   MemberOrderDiscount  basket     percent off the order for members (order_level stage)
//   SkipDomains          mail       skips recipients of listed domains (filter stage)
//   webhook              destination  conversions POSTed as JSON, identifiers hashed
//
// Thread-safety: the components keep no per-run state (a pipeline may run
// them from many threads); the webhook destination is used by one exporter
// run at a time, as herald/conversion.h requires of every destination.
#ifndef SITE_COMPONENTS_H_
#define SITE_COMPONENTS_H_

#include <memory>

#include "absl/status/status.h"
#include "herald/registry.h"

namespace site {

// Each built with herald::MakeFactory in its own file.
std::unique_ptr<herald::FactoryBase> SiteExposureLimitFactory();
std::unique_ptr<herald::FactoryBase> SiteLoadHistoryFactory();
std::unique_ptr<herald::FactoryBase> SiteRecordHistoryFactory();
std::unique_ptr<herald::FactoryBase> MemberOrderDiscountFactory();
std::unique_ptr<herald::FactoryBase> SkipDomainsFactory();
std::unique_ptr<herald::FactoryBase> WebhookDestinationFactory();

// Registers the six factories. AlreadyExists (naming the component) when
// `registry` or a parent already has one of the names.
absl::Status RegisterSiteComponents(herald::Registry* registry);

}  // namespace site

#endif  // SITE_COMPONENTS_H_
