// herald/simulation.h: a whole storefront, simulated end to end.
//
// RunSimulation() loads a catalog and drives every part of Herald the way a
// real site would, on the embedded SQLite store:
//
//   1. synthetic traffic: `page_views` page views spread over `days`
//      simulated days (a daily curve in the catalog's time zone), made by
//      `users` users with profiles (age, state, registration, premier
//      membership, interests) in sessions of a few pages on a device; every
//      page asks the ContentSelector for its ad slots (two banners, a medium
//      rectangle on Home and Kitchen, a discount ad on Kitchen and Checkout)
//      and records what it showed; ads are clicked at `click_rate`
//      (RecordClick); checkout pages price the visit's basket with the
//      BasketPricer (clicked discount ads and a coupon included), some
//      baskets are bought (Commit redeems coupons) and the accepted and
//      rejected offers are captured (CaptureResponse);
//   2. the conversion export to the "file" destination, once per simulated
//      day (the OfflineConversionRTTrigger), into `out_dir`/conversions.jsonl;
//   3. the catalog's direct-mail items, sent to a Maildir in `out_dir`/maildir;
//   4. the reports: delivery against goal per ad, house-ad fill,
//      reach and frequency (herald/report.h), discounts given, mail sent and
//      conversions exported; the delivery and reach charts for HTML.
//
// Everything random comes from `seed`: two runs with the same options give
// the same SimulationReport (its `timing` aside), byte for byte once
// rendered, whatever `threads`. Interaction ids, order ids and the
// unsubscribe secret derive from the seed too.
//
// Lanes and threads: the users and the page views are partitioned into
// `lanes` lanes, each served like one server of a site (its own
// ContentSelector and BasketPricer, its own random stream), the lanes spread
// over `threads` threads (lane i always on thread i % threads). Lanes see
// each other's deliveries through the store at the end of every simulated
// hour, never in between: there each lane's events and counts are written,
// the hour's orders are committed and its responses captured, lane after
// lane in the order each lane made them (so a coupon's last use goes to the
// same order whatever the threads), then every lane reloads the totals; at
// the end of each day the conversions are exported.
//
// Lifetime: RunSimulation owns everything it creates; the store, Maildir
// and conversions file stay in `out_dir` for inspection (`herald report`
// reads the store). `out_dir`/.herald-simulation lists what a simulation
// wrote; a later one replaces only outputs that marker lists and fails
// (FailedPrecondition, naming the path) when another file is in the way. It
// never touches herald.db with a `store_uri`, maildir without `send_mail`,
// conversions.jsonl and *.members without `export_conversions`.
// Thread-safety: RunSimulation is reentrant for distinct out_dirs; the
// progress callback runs on the calling thread.
#ifndef HERALD_SIMULATION_H_
#define HERALD_SIMULATION_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/model/pipeline.pb.h"
#include "herald/registry.h"
#include "herald/report.h"

namespace herald {

struct SimulationOptions {
  std::string catalog_path;           // the catalog (textproto or JSON); empty = store_uri's current version
  std::string out_dir;                // created if missing: herald.db, maildir/, conversions.jsonl; required
  std::string store_uri;              // empty = SQLite at out_dir/herald.db (synchronous NORMAL);
                                      // else an OpenStore() URI ("memory", "postgresql://...")
  int64_t page_views = 200'000;       // page views in all
  int days = 7;                       // simulated days
  std::string start = "2026-11-23";   // first simulated day, "YYYY-MM-DD" in the catalog's time zone
  int64_t users = 20'000;             // distinct users (visitors)
  double click_rate = 0.02;           // probability that an ad shown is clicked
  double checkout_rate = 0.03;        // share of page views that are a checkout (a basket priced)
  double purchase_rate = 0.6;         // share of priced baskets that are bought
  uint64_t seed = 1;                  // every random choice derives from it
  // The traffic is served in `lanes` lanes, as by that many servers sharing
  // the store: lane i serves the users u with u % lanes == i and every
  // lanes-th page view, with a selector and a pricer of its own (see
  // "Lanes and threads" above). The reports depend on the lanes, never on
  // the threads.
  int lanes = 4;                      // 1 to 64, at most `users`
  int threads = 0;                    // threads serving the lanes, 1 to `lanes`; 0 = one per core, at most `lanes`
  bool send_mail = true;              // run the catalog's direct-mail items
  bool export_conversions = true;     // run the daily conversion export
  bool charts = false;                // fill SimulationReport::charts (one more scan of the events)
  // The ads' selection pipeline (borrowed for the run); null = the built-in
  // DefaultAdvertisingPipeline().
  const v1::PipelineDefinition* advertising_pipeline = nullptr;
  Registry* registry = nullptr;       // components; built-ins and conversion components are
                                      // added (idempotent); null = a private registry
  // Called about every 1% of the page views, and once at the end, on the calling thread.
  std::function<void(int64_t done, int64_t total)> progress;
};

// Wall-clock figures (the only part of a report that differs between runs).
struct SimulationTiming {
  absl::Duration traffic;     // selection, recording, clicks, pricing, capture (store writes included)
  absl::Duration exports;     // the conversion export runs
  absl::Duration mail;        // the mail jobs
  absl::Duration reports;     // flushing and computing the reports
  absl::Duration total;
};

struct SimulationReport {
  std::string catalog;            // the catalog's name
  std::string store;              // "sqlite:/.../herald.db"
  std::string period;             // "2026-11-23 to 2026-11-29 (America/Los_Angeles)"
  absl::Time start, end;          // simulated [start, end)
  int64_t page_views = 0;
  int64_t ad_requests = 0;        // Select() calls for ads
  int64_t slots = 0;              // ad slots asked for
  int64_t paid_shown = 0, house_shown = 0, discount_ads_shown = 0;
  int64_t clicks = 0;
  int64_t baskets_priced = 0, orders = 0, coupons_redeemed = 0, coupons_refused = 0;
  int64_t responses_captured = 0, accepted = 0;
  int64_t mail_sent = 0, mail_skipped = 0, mail_failed = 0;
  int64_t conversions_delivered = 0, conversions_invalid = 0, conversions_failed = 0;
  int64_t conversions_no_consent = 0;  // not exported: the person's consent does not allow it
  std::string maildir, conversions_file;
  // The report tables, in order: delivery against goal, house-ad fill,
  // reach and frequency per campaign, discounts given, mail sent,
  // conversions exported.
  std::vector<ReportTable> tables;
  ReportCharts charts;            // when SimulationOptions::charts
  SimulationTiming timing;

  const ReportTable* Find(std::string_view name) const;  // null when absent
};

// Runs the simulation. InvalidArgument for bad options (naming the option),
// the catalog's, store's, mail job's or exporter's error otherwise.
absl::StatusOr<SimulationReport> RunSimulation(const SimulationOptions& options);

// Renderers. Text: a summary and every table; JSON: one object
// {"summary": {...}, "reports": [...], "timing": {...}}; HTML: one
// self-contained page with the charts (when filled) and every table.
// `with_timing` = false leaves the wall-clock figures out (for comparing runs).
std::string RenderSimulationText(const SimulationReport& report, bool with_timing = true);
std::string RenderSimulationJson(const SimulationReport& report, bool with_timing = true);
std::string RenderSimulationHtml(const SimulationReport& report, bool with_timing = true);

}  // namespace herald

#endif  // HERALD_SIMULATION_H_
