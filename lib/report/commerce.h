// Internal: the reports of what was bought and converted, read from the
// store's committed orders and interaction history rather than from its
// campaign events alone (report.cc dispatches to them).
#ifndef HERALD_LIB_REPORT_COMMERCE_H_
#define HERALD_LIB_REPORT_COMMERCE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "herald/report.h"
#include "herald/store.h"

namespace herald::internal {

// "discount-usage": `campaign_filter` is the resolved campaign id ("" = all).
absl::StatusOr<ReportTable> RunDiscountUsageReport(Store& store, const ReportOptions& options,
                                                   std::string_view campaign_filter, std::string subtitle);

// "conversions": responses are not per campaign, so no campaign filter.
absl::StatusOr<ReportTable> RunConversionsReport(Store& store, const ReportOptions& options,
                                                 std::string subtitle);

}  // namespace herald::internal

#endif  // HERALD_LIB_REPORT_COMMERCE_H_
