// Internal: the house-ad fill report (report.cc dispatches to it).
#ifndef HERALD_LIB_REPORT_HOUSE_FILL_H_
#define HERALD_LIB_REPORT_HOUSE_FILL_H_

#include "absl/status/statusor.h"
#include "herald/report.h"

namespace herald::internal {

absl::StatusOr<ReportTable> RunHouseAdFillReport(EventStore& events, const ReportOptions& options,
                                                 std::string subtitle);

}  // namespace herald::internal

#endif  // HERALD_LIB_REPORT_HOUSE_FILL_H_
