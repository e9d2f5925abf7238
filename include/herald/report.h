// herald/report.h: the campaign reports, computed from the store.
//
// Each report reads the events of a date range (and optionally one campaign)
// from an EventStore in one scan (the last two below also read the store's
// committed orders or interaction history), joins them with the catalog for
// names and goals, and returns a ReportTable: named, typed columns and rows
// of cells.
// The table renders as an aligned text table, CSV (RFC 4180), JSON, or one
// self-contained HTML page with charts (no external URL: inline SVG drawn by
// inline JavaScript; when drawing finishes the page sets
// data-charts-drawn="N" on <body>).
//
// The reports (names as given to `herald report NAME`):
//   campaign-item-summary     per ad: goal, requests, clicks, click rate, delivered, remaining
//   reach-frequency-day       per day and campaign: requests, clicks, reach, frequency
//   reach-frequency-item      per campaign item, for the whole range
//   reach-frequency-campaign  per campaign, for the whole range
//   campaign-event-summary    per campaign and event type (request, click, sold, custom names)
//   ad-placement              per page group and campaign: requests, clicks, click rate, reach
//   house-ad-fill             per house ad: weight share, expected share, actual share of house
//                             impressions; then the slots left empty, one row per reason
//   discount-usage            per discount: shown, clicks, orders it applied to, share of the
//                             range's orders, units discounted, amount off (per currency)
//   conversions               per action and channel: responses by outcome, accept rate, accepted
//                             value; per export destination, conversions done and waiting
//
// Definitions (Herald's choices where the reference is silent):
//   * An event counts `count` times (0 counts once).
//   * A user is the event's user_id, else its session_id; events with
//     neither count toward totals but not toward reach.
//   * Reach = distinct users with at least one request (ad shown);
//     frequency = requests / reach. Per-day reach counts a user once per day.
//   * Goals: campaign-level goaling splits the campaign's quantity over its
//     paid ads by weight (largest remainder, so the parts add up: 3:1 of 1,500
//     is 1,125 and 375); ad-level goaling uses each paid ad's quantity; house
//     ads have no goal. "Delivered" counts the campaign's goal event
//     (requests or clicks) over the whole range; remaining = goal - delivered,
//     at least 0.
//   * Days are cut in the catalog's time zone (options.time_zone overrides;
//     UTC without either).
//   * House-ad fill (needs the catalog): SelectWinners fills the slots the
//     paid ads leave by drawing house ads by weight without replacement, so
//     on a page with k > 1 such slots the shares are flatter than the
//     weights (1:2:3:4 give 11.7/22.1/30.4/35.8 % with k = 2, 15/25.3/29/30.7 % with k = 3, not
//     10/20/30/40). The selection records k and the requested size with
//     each house impression ("house:<k>:<size>") and every empty slot with
//     its reason (EVENT_TYPE_EMPTY_SLOT); the expected share sums, over the
//     traffic's (page group, size, k), the chance HouseAdInclusion gives each
//     house ad that fits that page group and size. Targeting multipliers,
//     exposure limits and industry conflicts are not in the expectation: they
//     are what a gap between expected and actual points to.
//   * Discount usage: what BasketPricer::Commit recorded for the orders
//     placed in the range (CouponStore::CommitOrder): a discount counts once
//     per order it applied to; units are the units it discounted (awards;
//     order-level discounts have none); the amount is what it took off, in
//     the order's currency (a discount given in several currencies has a
//     row per currency); the share of orders is over the range's committed
//     orders in that currency. Shown and clicks are the discount item's
//     request and click events. Every discount of the selected campaigns
//     has a row; a discount the catalog no longer has is listed under its id.
//   * Conversions: the interaction history's responses captured in the
//     range, per action ("issue / group / name") and channel. Accepted value
//     sums OUTCOME_ACCEPTED responses' values (a further currency gets a row
//     of its own holding only the value). For actions whose accepted
//     responses are conversions (paid_sync_enabled and
//     offline_conversion_enabled in the catalog), each export destination
//     with a watermark has "done" (the exporter has finished them: delivered,
//     or set aside as invalid, refused or without consent; `herald export`
//     says which) and "waiting" (after its watermark). Custom outcomes a
//     SelectConversions config accepts are not counted as accepted here.
//     The campaign filter does not apply: responses belong to actions.
//   * With a catalog, every ad of the selected campaigns has a row in the
//     item reports even without events; events of items the catalog does not
//     know are listed under their ids.
//
// Thread-safety: the functions are reentrant; the store must be safe for
// concurrent use (every Store is).
#ifndef HERALD_REPORT_H_
#define HERALD_REPORT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/catalog.h"
#include "herald/model/catalog.pb.h"
#include "herald/store.h"

namespace herald {

struct ReportInfo {
  std::string_view name;   // "campaign-item-summary"
  std::string_view title;  // "Campaign Item Summary"
  std::string_view description;
};

// The reports, in the order above.
std::span<const ReportInfo> ReportNames();

struct ReportOptions {
  absl::Time from = absl::InfinitePast();  // first instant included
  absl::Time to = absl::InfiniteFuture();  // first instant excluded
  std::string campaign;                    // a campaign id or name; empty = all campaigns
  const v1::Catalog* catalog = nullptr;    // names and goals; null = ids only, no goals (borrowed)
  std::string time_zone;                   // IANA zone cutting days; empty = the catalog's, else UTC
};

enum class ColumnKind { kText, kInteger, kDecimal, kPercent, kDate };

struct ReportColumn {
  std::string key;    // JSON key and CSV header: "click_rate"
  std::string title;  // table and HTML header: "Click rate"
  ColumnKind kind = ColumnKind::kText;
};

// A missing value (no goal, no reach) is std::monostate: empty in the table
// and CSV, null in JSON.
using ReportCell = std::variant<std::monostate, int64_t, double, std::string>;

struct ReportTable {
  std::string name;      // "campaign-item-summary"
  std::string title;     // "Campaign Item Summary"
  std::string subtitle;  // the filters: "2026-06-01 to 2026-06-30, campaign \"Spring\""
  std::vector<ReportColumn> columns;
  std::vector<std::vector<ReportCell>> rows;  // each row has one cell per column
};

// Chart data for the HTML page.
struct DeliverySeries {
  std::string campaign;    // name (or id)
  std::string item;        // name (or id)
  std::string goal_event;  // "requests" or "clicks"
  int64_t goal = 0;        // 0 = none (house ad or no catalog)
  std::vector<std::pair<std::string, int64_t>> cumulative;  // (day, goal events delivered so far)
  // The expected pace: (day, goal events that even delivery would have
  // reached by the end of that day), the goal spread evenly over the days of
  // the ad's schedule (its own dates, else its campaign's). Empty without a
  // goal or without both a start and an end date.
  std::vector<std::pair<std::string, int64_t>> expected;
};
struct ReachDay {
  std::string day;
  int64_t requests = 0;
  int64_t reach = 0;
  double frequency = 0;
};
struct ReportCharts {
  std::vector<DeliverySeries> delivery;  // one per ad: delivery against goal over time
  std::vector<ReachDay> reach;           // reach and frequency per day, all selected campaigns
};

// Runs the report `name` (see ReportNames). NotFound for an unknown report
// name or an unknown campaign (when a catalog is given); the store's errors
// otherwise.
absl::StatusOr<ReportTable> RunReport(std::string_view name, Store& store, const ReportOptions& options);
// The same for the reports of events alone: "discount-usage" and
// "conversions" are FailedPrecondition (they need the Store).
absl::StatusOr<ReportTable> RunReport(std::string_view name, EventStore& events,
                                      const ReportOptions& options);

// The series the HTML charts draw, for the same options.
absl::StatusOr<ReportCharts> BuildReportCharts(EventStore& events, const ReportOptions& options);

// Renderers. RenderReport takes "table", "csv", "json" or "html" (html needs
// `charts`; without them the page has the table only).
std::string RenderTable(const ReportTable& table);
std::string RenderCsv(const ReportTable& table);
std::string RenderJson(const ReportTable& table);
std::string RenderHtml(const ReportTable& table, const ReportCharts& charts);
// The charts' series as JSON: {"delivery": [{"campaign", "item", "goal_event",
// "goal", "cumulative": [[day, n], ...], "expected": [[day, n], ...]}],
// "reach": [{"day", "requests", "reach", "frequency"}]}.
std::string RenderChartsJson(const ReportCharts& charts);
absl::StatusOr<std::string> RenderReport(const ReportTable& table, std::string_view format,
                                         const ReportCharts* charts = nullptr);

// The chance that each ad is drawn when `slots` draws are made by weight
// without replacement (the house-ad draw of a page with `slots` house slots);
// the values add up to min(slots, ads with a positive weight). Exact (the sum
// over ordered draws) while weights.size()^slots <= 2e6, which covers the
// slot counts of real pages; else a Monte-Carlo estimate of 200,000 pages
// with a fixed seed (the same figures every run).
std::vector<double> HouseAdInclusion(std::span<const double> weights, int slots);

// SplitByWeight, the campaign-level goal split, is in herald/catalog.h.

}  // namespace herald

#endif  // HERALD_REPORT_H_
