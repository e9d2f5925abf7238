// The storefront simulation (herald/simulation.h).
#include "herald/simulation.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "herald/builtins.h"
#include "herald/campaign_cache.h"
#include "herald/catalog.h"
#include "herald/catalog_versions.h"
#include "herald/conversion.h"
#include "herald/discount.h"
#include "herald/mail.h"
#include "herald/model/conversion_config.pb.h"
#include "herald/model/mail_config.pb.h"
#include "herald/model/store.pb.h"
#include "herald/selection.h"
#include "herald/privacy.h"
#include "herald/store.h"
#include "lane_workers.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

using simulation_internal::LaneWorkers;

// The count of `key` in `counts`, added at 0 when new. Debian 12's Abseil
// looks std::string keys up by its own absl::string_view, so the lookup of a
// key already counted builds no string.
int64_t& CountOf(absl::flat_hash_map<std::string, int64_t>& counts, std::string_view key) {
  const absl::string_view lookup(key.data(), key.size());
  auto it = counts.find(lookup);
  if (it == counts.end()) it = counts.emplace(std::string(key), 0).first;
  return it->second;
}

// ---------------------------------------------------------------- randomness

// splitmix64 seeding xoshiro256**: the same numbers on every platform.
class Random {
 public:
  explicit Random(uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  bool Chance(double p) { return Uniform() < p; }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  // Index drawn in proportion to `weights`.
  template <size_t N>
  size_t Pick(const std::array<double, N>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = Uniform() * total;
    for (size_t i = 0; i < N; ++i) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return N - 1;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

std::string Hex32(Random& rng) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng.Next()),
                static_cast<unsigned long long>(rng.Next()));
  return buf;
}

// ---------------------------------------------------------------- the site

enum PageGroup { kHome, kSports, kGarden, kKitchen, kCheckout, kPageGroups };
constexpr std::array<const char*, kPageGroups> kPageGroupNames = {"Home", "Sports", "Garden",
                                                                 "Kitchen", "Checkout"};

struct Product {
  const char* id;
  const char* category;
  const char* manufacturer;
  const char* color;
  int64_t price_minor;
  PageGroup shelf;  // where it is put in the basket
};

// The store's products: enough to meet every discount of the example catalog.
constexpr Product kProducts[] = {
    {"juice-case", "juice", "Wingtip", "", 1299, kKitchen},
    {"juice-sampler", "juice", "Wingtip", "", 2499, kKitchen},
    {"coffee-beans", "coffee", "Coho", "", 1599, kKitchen},
    {"espresso-pods", "coffee", "Coho", "", 899, kKitchen},
    {"phone-basic", "telephone", "Contoso", "black", 4999, kHome},
    {"phone-pro", "telephone", "Contoso", "silver", 18999, kHome},
    {"radio", "radio", "Contoso", "red", 3999, kHome},
    {"laptop", "computer", "Contoso", "gray", 89900, kHome},
    {"blue-paint-gallon", "paint", "Fabrikam", "blue", 3499, kGarden},
    {"green-paint-quart", "paint", "Fabrikam", "green", 1299, kGarden},
    {"primer", "paint", "Northwind", "white", 2199, kGarden},
    {"tent", "outdoor", "Contoso", "green", 14999, kSports},
    {"boots", "outdoor", "Contoso", "brown", 8999, kSports},
    {"winter-jacket", "outdoor", "Contoso", "blue", 12999, kSports},
};
constexpr size_t kProductCount = sizeof(kProducts) / sizeof(kProducts[0]);

constexpr std::array<const char*, 8> kStates = {"WA", "OR", "CA", "NY", "TX", "ID", "WA", "CA"};
constexpr std::array<const char*, 8> kCities = {"Seattle", "Portland", "San Jose", "New York",
                                                "Austin", "Boise", "Spokane", "Oakland"};
constexpr std::array<const char*, 8> kZips = {"98101", "97201", "95112", "10001",
                                              "78701", "83702", "99201", "94607"};
constexpr std::array<const char*, 10> kFirstNames = {"Ann", "Bob", "Chen", "Dana", "Eli",
                                                     "Fatima", "Gus", "Hana", "Ivan", "Jo"};
constexpr std::array<const char*, 10> kLastNames = {"Baker", "Smith", "Li", "Okafor", "Garcia",
                                                    "Haddad", "Novak", "Sato", "Petrov", "Reyes"};
constexpr std::array<const char*, 5> kInterests = {"outdoor", "coffee", "gardening", "tech",
                                                   "cooking"};

struct User {
  std::string id;
  v1::Profile profile;
  std::unique_ptr<const PreparedProfile> prepared;  // `profile` for the catalog's targeting
  int state = 0;      // index into kStates
  int first = 0, last = 0;
  bool ordered = false;  // has bought before (the welcome coupon is for first orders)
};

// One visit in progress.
struct Visit {
  bool live = false;
  uint32_t user = 0;
  int device = 0;  // 0 desktop, 1 mobile
  std::string session_id;
  std::vector<std::pair<size_t, int64_t>> basket;  // product, quantity
  std::vector<std::string> clicked_discounts;
  bool clicked_ad = false;
  std::string gclid;
};

// What a lane leaves for the end of the simulated hour, in the order the lane
// made it: a response to capture, or an order to commit (its coupons
// redeemed) and capture. Settled one lane after the other, so that the
// store sees the same commits in the same order whatever the threads.
struct Pending {
  enum class Kind { kCapture, kOrder };
  Kind kind = Kind::kCapture;
  uint32_t user = 0;
  std::string gclid;
  absl::Time time;
  std::string interaction_id;  // kCapture: the offer's response; kOrder: the purchase's
  // kCapture: the checkout offer and the customer's answer.
  const v1::ConversionAction* action = nullptr;
  v1::Outcome outcome = v1::OUTCOME_UNSPECIFIED;
  // kOrder: the basket as priced, and (when not empty) the interaction id
  // of the call-back request that came with it.
  v1::Basket basket;
  v1::PricedBasket priced;
  std::string service_id;
};

// What a lane counts toward the report's figures.
struct LaneCounts {
  int64_t ad_requests = 0, slots = 0, paid_shown = 0, house_shown = 0, discount_ads_shown = 0;
  int64_t clicks = 0, baskets_priced = 0;
};

// One lane of the traffic: every `lanes`-th user and every `lanes`-th page
// view, served by a selector and a pricer of its own as one server of a site
// would be. Lanes see each other's deliveries at the end of every simulated
// hour (each lane's events and counts written, then the totals reloaded),
// never in between, so a lane's decisions depend on the lanes, not on which
// thread ran them.
struct Lane {
  explicit Lane(uint64_t seed) : rng(seed) {}
  int index = 0;
  Random rng;
  std::unique_ptr<ContentSelector> selector;
  std::unique_ptr<BasketPricer> pricer;
  std::vector<Visit> visits;
  int64_t sessions = 0, checkouts = 0;
  SelectionRequest ad_request, rect_request, discount_request;  // reused per page view
  v1::Basket basket;
  v1::PricedBasket priced;
  LaneCounts counts;
  absl::flat_hash_map<std::string, int64_t> shown;  // item id -> times shown (all kinds)
  std::vector<Pending> pending;
  absl::Status status;  // the first error of the hour
};

// The seed of lane `i`'s random stream (splitmix64 of seed and lane).
uint64_t LaneSeed(uint64_t seed, int lane) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(lane + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return z == 0 ? 1 : z;
}

// Daily traffic in local hours (relative), weekend days busier.
constexpr std::array<double, 24> kHourWeights = {0.2, 0.12, 0.08, 0.06, 0.06, 0.1, 0.25, 0.5,
                                                 0.7, 0.8,  0.85, 0.9,  1.0,  0.95, 0.85, 0.85,
                                                 0.9, 1.0,  1.2,  1.35, 1.4,  1.2,  0.8,  0.4};

std::string Money(int64_t minor) { return FormatMinor(minor, 2); }

ReportCell Percent(double part, double whole) {
  if (whole <= 0) return std::monostate{};
  return 100.0 * part / whole;
}

std::string ActionName(const v1::ConversionAction& a) {
  return absl::StrCat(a.issue(), "/", a.group(), "/", a.name());
}

bool OfflineEnabled(const v1::ConversionAction& a) {
  return a.has_offline_conversion_enabled() ? a.offline_conversion_enabled() : a.paid_sync_enabled();
}

absl::Status Validate(const SimulationOptions& o) {
  if (o.catalog_path.empty() && (o.store_uri.empty() || o.store_uri == "memory")) {
    return absl::InvalidArgumentError(
        "simulation: catalog_path is required (or store_uri of a store holding a catalog version)");
  }
  if (o.out_dir.empty()) return absl::InvalidArgumentError("simulation: out_dir is required");
  if (o.page_views < 1) return absl::InvalidArgumentError("simulation: page_views must be at least 1");
  if (o.days < 1 || o.days > 366) return absl::InvalidArgumentError("simulation: days must be 1 to 366");
  if (o.users < 1 || o.users > 10'000'000) {
    return absl::InvalidArgumentError("simulation: users must be 1 to 10,000,000");
  }
  if (o.lanes < 1 || o.lanes > 64) return absl::InvalidArgumentError("simulation: lanes must be 1 to 64");
  if (o.lanes > o.users) {
    return absl::InvalidArgumentError(absl::StrCat("simulation: lanes (", o.lanes, ") must not exceed users (",
                                                   o.users, "): every lane serves users of its own"));
  }
  if (o.threads < 0 || o.threads > o.lanes) {
    return absl::InvalidArgumentError(absl::StrCat("simulation: threads must be 0 (one per core) to lanes (",
                                                   o.lanes, "): a lane runs on one thread"));
  }
  auto rate = [](double r, const char* name) -> absl::Status {
    if (!(r >= 0 && r <= 1)) return absl::InvalidArgumentError(absl::StrCat("simulation: ", name, " must be in [0, 1]"));
    return absl::OkStatus();
  };
  if (auto s = rate(o.click_rate, "click_rate"); !s.ok()) return s;
  if (auto s = rate(o.checkout_rate, "checkout_rate"); !s.ok()) return s;
  if (auto s = rate(o.purchase_rate, "purchase_rate"); !s.ok()) return s;
  return absl::OkStatus();
}

// The marker a simulation leaves in its out_dir: the names of the outputs it
// wrote, one a line ("*.members" for the export's audience files). A later
// simulation replaces only what a marker lists; anything else in the way is
// someone else's file and is never deleted.
constexpr char kOutMarker[] = ".herald-simulation";

std::vector<std::string> PlannedOutputs(const SimulationOptions& o) {
  std::vector<std::string> out;
  if (o.store_uri.empty()) out.insert(out.end(), {"herald.db", "herald.db-wal", "herald.db-shm"});
  if (o.export_conversions) out.insert(out.end(), {"conversions.jsonl", "*.members"});
  if (o.send_mail) out.push_back("maildir");
  return out;
}

absl::StatusOr<std::vector<std::string>> ReadOutMarker(const std::filesystem::path& marker) {
  std::error_code ec;
  if (!std::filesystem::exists(marker, ec)) return std::vector<std::string>{};
  std::ifstream in(marker);
  if (!in) return absl::PermissionDeniedError(absl::StrCat("simulation: cannot read ", marker.string()));
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') names.push_back(line);
  }
  return names;
}

// The existing paths in `dir` that output `name` ("*.members": a pattern) would replace.
std::vector<std::filesystem::path> ExistingOutputs(const std::filesystem::path& dir, const std::string& name) {
  namespace fs = std::filesystem;
  std::vector<fs::path> found;
  std::error_code ec;
  if (name == "*.members") {
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().extension() == ".members") found.push_back(it->path());
    }
  } else if (fs::symlink_status(dir / name, ec).type() != fs::file_type::not_found && !ec) {
    found.push_back(dir / name);
  }
  return found;
}

// Makes `o.out_dir` ready: replaces the outputs this run writes when a
// previous simulation's marker lists them, refuses when an unmarked file is
// in the way, leaves everything else alone (a memory store never touches
// herald.db, --no-mail never touches maildir), then marks what it will write.
absl::Status PrepareOutDir(const SimulationOptions& o) {
  namespace fs = std::filesystem;
  const fs::path dir(o.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("simulation: cannot create ", o.out_dir, ": ", ec.message()));
  const fs::path marker = dir / kOutMarker;
  auto marked = ReadOutMarker(marker);
  if (!marked.ok()) return marked.status();
  const std::vector<std::string> planned = PlannedOutputs(o);
  for (const std::string& name : planned) {
    const bool ours = std::find(marked->begin(), marked->end(), name) != marked->end();
    for (const fs::path& path : ExistingOutputs(dir, name)) {
      if (!ours) {
        return absl::FailedPreconditionError(
            absl::StrCat("simulation: ", path.string(), " exists and was not written by a simulation (",
                marker.string(), " does not list it); move it away or choose another out_dir"));
      }
    }
  }
  for (const std::string& name : planned) {
    if (std::find(marked->begin(), marked->end(), name) == marked->end()) continue;
    for (const fs::path& path : ExistingOutputs(dir, name)) {
      fs::remove_all(path, ec);
      if (ec) return absl::InternalError(absl::StrCat("simulation: cannot replace ", path.string(), ": ", ec.message()));
    }
  }
  // The marker keeps earlier outputs this run leaves alone: they are still ours.
  std::vector<std::string> names = *marked;
  for (const std::string& name : planned) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  std::ofstream out(marker, std::ios::trunc);
  out << "# written by herald simulate: the outputs below are replaced by the next simulation in this directory\n";
  for (const std::string& name : names) out << name << "\n";
  out.close();
  if (!out) return absl::PermissionDeniedError(absl::StrCat("simulation: cannot write ", marker.string()));
  return absl::OkStatus();
}

// ---------------------------------------------------------------- the run

class Simulation {
 public:
  Simulation(const SimulationOptions& options, Registry* registry)
      : o_(options), registry_(registry), rng_(options.seed) {}

  absl::StatusOr<SimulationReport> Run();

 private:
  absl::Status Setup();
  absl::Status SetUpCatalog();
  absl::Status OpenSimulationStore();
  absl::Status CreateLanes();
  void PickActions();
  absl::Status CreateExporter();
  void MakeUsers();
  void PlanHours();
  absl::Status Traffic();
  absl::Status Hour(int hour, LaneWorkers& workers);
  absl::Time TimeOf(int64_t n, int hour) const;
  absl::Status PageView(Lane& lane, absl::Time t);
  absl::Status Show(Lane& lane, Visit& visit, SelectionRequest& request, bool discounts, absl::Time t);
  absl::Status Checkout(Lane& lane, Visit& visit, PageGroup group, absl::Time t);
  void FillBasket(Lane& lane, const Visit& visit, PageGroup group, absl::Time t, const std::string& order_id);
  absl::Status Settle();
  absl::Status SettleOrder(Lane& lane, Pending& order);
  absl::Status CommitOrder(BasketPricer& pricer, Pending& order);
  void TallyDiscounts(const v1::PricedBasket& priced);
  absl::Status WriteLanes(bool histories);
  absl::Status ReloadLanes();
  absl::Status Capture(const Pending& p, const v1::ConversionAction& action, v1::Outcome outcome,
                       int64_t value_minor, const std::string& order_id, const std::string& interaction_id);
  absl::Status ExportConversions(absl::Time now);
  absl::Status SendMail();
  absl::Status Reports();
  ReportTable DeliveryTable() const;
  ReportTable DiscountsTable() const;
  ReportTable MailTable() const;
  ReportTable ResponsesTable() const;
  ReportTable ExportsTable() const;

  const SimulationOptions& o_;
  Registry* registry_;
  Random rng_;  // the users; each lane has its own stream for the traffic
  SimulationReport r_;

  v1::Catalog catalog_;
  std::shared_ptr<const CompiledCatalog> compiled_;
  absl::TimeZone zone_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Destination> destination_;
  std::unique_ptr<ConversionExporter> exporter_;
  std::vector<v1::ConversionAction> actions_;
  const v1::ConversionAction* purchase_action_ = nullptr;  // accepted on every order
  const v1::ConversionAction* offer_action_ = nullptr;     // offered at checkout
  const v1::ConversionAction* service_action_ = nullptr;   // a non-exported action, now and then

  std::vector<User> users_;  // user u belongs to lane u % lanes
  std::array<std::array<v1::Profile, kPageGroups>, 2> contexts_;  // [device][page group]
  std::array<std::array<std::unique_ptr<const PreparedProfile>, kPageGroups>, 2> prepared_contexts_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  int threads_ = 1;
  // The simulated hours: page views [first_view_[h], first_view_[h + 1]) fall
  // in hour h; cumulative_ is the traffic curve they are spread along.
  std::vector<int64_t> first_view_;
  std::vector<double> cumulative_;
  int64_t progress_step_ = 1, progress_next_ = 1;

  // Tallies.
  struct DiscountTally {
    int64_t orders = 0;
    int64_t units = 0;
    int64_t amount = 0;
  };
  absl::flat_hash_map<std::string, DiscountTally> discounts_given_;
  absl::flat_hash_map<std::string, int64_t> shown_;  // item id -> times shown (all kinds), all lanes
  std::map<std::string, std::pair<int64_t, int64_t>> captured_;  // action -> (captured, accepted)
  int64_t subtotal_ = 0, discount_total_ = 0, revenue_ = 0;
  struct ExportDay {
    std::string day;
    ExportReport report;
  };
  std::vector<ExportDay> exports_;
  absl::Time export_now_;
  std::vector<MailReport> mail_;
};

// The catalog file, or the current catalog version of the store the
// simulation runs on (opened once to read it).
absl::StatusOr<v1::Catalog> LoadSimulationCatalog(const SimulationOptions& o, const Registry& registry) {
  if (!o.catalog_path.empty()) return LoadCatalog(o.catalog_path);
  auto store = OpenStore(o.store_uri, registry);
  if (!store.ok()) return store.status();
  if ((*store)->catalogs() == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("simulation: store ", (*store)->Describe(), " keeps no catalog versions"));
  }
  return LoadStoredCatalog(*(*store)->catalogs());
}

absl::Status Simulation::Setup() {
  if (absl::Status s = SetUpCatalog(); !s.ok()) return s;
  if (absl::Status s = PrepareOutDir(o_); !s.ok()) return s;
  if (absl::Status s = OpenSimulationStore(); !s.ok()) return s;
  if (absl::Status s = CreateLanes(); !s.ok()) return s;
  PickActions();
  if (o_.export_conversions) {
    if (absl::Status s = CreateExporter(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The catalog, compiled, and the simulated period in its time zone.
absl::Status Simulation::SetUpCatalog() {
  auto catalog = LoadSimulationCatalog(o_, *registry_);
  if (!catalog.ok()) return catalog.status();
  catalog_ = std::move(*catalog);
  auto compiled = CompiledCatalog::Compile(catalog_);
  if (!compiled.ok()) return compiled.status();
  compiled_ = std::move(*compiled);
  zone_ = compiled_->zones()[0];  // the catalog's own zone
  // The first day starts at midnight in the catalog's zone.
  absl::CivilDay first_day;
  if (o_.start.size() != 10 || !absl::ParseCivilTime(o_.start, &first_day)) {
    return absl::InvalidArgumentError(
        absl::StrCat("simulation: start: \"", o_.start, "\" is not a date (YYYY-MM-DD)"));
  }
  r_.start = absl::FromCivil(first_day, zone_);
  r_.end = r_.start + absl::Hours(24) * o_.days;
  r_.catalog = catalog_.name();
  r_.period = absl::StrCat(absl::FormatTime("%Y-%m-%d", r_.start, zone_), " to ",
                  absl::FormatTime("%Y-%m-%d", r_.end - absl::Seconds(1), zone_), " (",
                  catalog_.time_zone().empty() ? "UTC" : catalog_.time_zone(), ")");
  r_.page_views = o_.page_views;
  return absl::OkStatus();
}

// The store the simulation writes to: the one named, or a throwaway SQLite file in the out dir.
absl::Status Simulation::OpenSimulationStore() {
  // A throwaway store: commits reach the OS, fsync at checkpoints (a crash of
  // the machine may lose the tail of a simulation, nothing else).
  v1::SqliteStoreConfig store_config;
  store_config.set_path(o_.out_dir + "/herald.db");
  store_config.set_synchronous(v1::SQLITE_SYNCHRONOUS_NORMAL);
  // Personal data at rest as in every store OpenStore opens (herald/privacy.h):
  // the simulated customers' identifiers are sealed or hashed too.
  auto personal = PersonalDataOptionsFromEnvironment();
  if (!personal.ok()) return personal.status();
  auto store = o_.store_uri.empty()
                   ? registry_->Create<Store>("sqlite", store_config, CreateContext{registry_})
                   : OpenStore(o_.store_uri, *registry_);
  if (!store.ok()) return store.status();
  store_ = o_.store_uri.empty() ? ProtectPersonalData(std::move(*store), *std::move(personal)) : std::move(*store);
  r_.store = store_->Describe();
  return absl::OkStatus();
}

// The lanes, each with a selector and a pricer of its own. Their counters
// are written and reloaded only when the simulation says so (at the end of
// every simulated hour): no background flush, no quota leaser, both of which
// would make a lane's view of the others depend on the wall clock.
absl::Status Simulation::CreateLanes() {
  const int lanes = o_.lanes;
  const int cores = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  threads_ = o_.threads > 0 ? o_.threads : std::min(cores, lanes);
  for (int i = 0; i < lanes; ++i) {
    auto lane = std::make_unique<Lane>(LaneSeed(o_.seed, i));
    lane->index = i;
    SelectorConfig config;
    config.registry = registry_;
    config.advertising = o_.advertising_pipeline;
    config.store = store_.get();
    config.options.seed = LaneSeed(o_.seed ^ 0x5e1ec7ULL, i);
    config.options.flush_interval = absl::InfiniteDuration();
    config.options.servers = lanes;
    // The other lanes' deliveries are at most an hour old: pace an hour ahead.
    config.options.pacing_lead = lanes > 1 ? absl::Hours(1) : absl::ZeroDuration();
    config.options.quota_leases = SelectorOptions::QuotaLeases::kOff;
    config.options.sticky_users = true;  // a user is only ever served by its lane
    auto selector = NewContentSelector(compiled_, config);
    if (!selector.ok()) return selector.status();
    lane->selector = std::move(*selector);
    PricerConfig pricer_config;
    pricer_config.registry = registry_;
    pricer_config.store = store_.get();
    auto pricer = NewBasketPricer(compiled_, pricer_config);
    if (!pricer.ok()) return pricer.status();
    lane->pricer = std::move(*pricer);
    lane->visits.resize(std::max<size_t>(1, 48 / static_cast<size_t>(lanes)));
    lane->ad_request.page_groups.resize(1);
    lane->ad_request.size = "Banner";
    lane->rect_request.page_groups.resize(1);
    lane->rect_request.size = "Medium Rectangle";
    lane->rect_request.count = 1;
    lane->discount_request.page_groups.resize(1);
    lane->discount_request.size = "Banner";
    lane->discount_request.count = 1;
    lane->discount_request.discounts = true;
    lanes_.push_back(std::move(lane));
  }
  return absl::OkStatus();
}

// Which of the catalog's actions the simulated customers respond to.
void Simulation::PickActions() {
  actions_.assign(catalog_.actions().begin(), catalog_.actions().end());
  for (const auto& a : actions_) {
    if (OfflineEnabled(a)) {
      if (purchase_action_ == nullptr) {
        purchase_action_ = &a;
      } else if (offer_action_ == nullptr) {
        offer_action_ = &a;
      }
    } else if (service_action_ == nullptr) {
      service_action_ = &a;
    }
  }
  // The catalog's first enabled action is the checkout offer (a card), the
  // second what every order accepts; with one, both are the same.
  std::swap(purchase_action_, offer_action_);
  if (purchase_action_ == nullptr) purchase_action_ = offer_action_;
}

// Conversions go to conversions.jsonl in the out dir, exported on the simulated clock.
absl::Status Simulation::CreateExporter() {
  v1::FileDestinationConfig file;
  file.set_path(o_.out_dir + "/conversions.jsonl");
  file.set_no_fsync(true);
  auto destination = registry_->Create<Destination>("file", file, CreateContext{registry_});
  if (!destination.ok()) return destination.status();
  destination_ = std::move(*destination);
  r_.conversions_file = file.path();
  ExporterOptions eo;
  eo.registry = registry_;
  eo.store = store_.get();
  eo.destination = destination_.get();
  eo.destination_name = "file";
  eo.actions = actions_;
  eo.owner = "herald-simulate";
  eo.sleep = [](absl::Duration) {};
  eo.clock = [this] { return export_now_; };  // the simulated clock
  auto exporter = ConversionExporter::Create(std::move(eo));
  if (!exporter.ok()) return exporter.status();
  exporter_ = std::move(*exporter);
  return absl::OkStatus();
}

// The users, and the page contexts every page view reuses.
void Simulation::MakeUsers() {
  for (int d = 0; d < 2; ++d) {
    for (int g = 0; g < kPageGroups; ++g) {
      auto& values = *contexts_[d][g].mutable_values();
      values["device"].set_string_value(d == 0 ? "desktop" : "mobile");
      values["page"].set_string_value(kPageGroupNames[g]);
    }
  }
  users_.resize(static_cast<size_t>(o_.users));
  for (size_t i = 0; i < users_.size(); ++i) {
    User& u = users_[i];
    u.id = absl::StrCat("u", i + 1);
    u.state = static_cast<int>(rng_.Below(kStates.size()));
    u.first = static_cast<int>(rng_.Below(kFirstNames.size()));
    u.last = static_cast<int>(rng_.Below(kLastNames.size()));
    auto& v = *u.profile.mutable_values();
    v["age"].set_int_value(16 + static_cast<int64_t>(rng_.Below(60)));
    v["state"].set_string_value(kStates[u.state]);
    const bool registered = rng_.Chance(0.55);
    v["registered"].set_bool_value(registered);
    v["premier"].set_bool_value(registered && rng_.Chance(0.2));
    auto* interests = v["interests"].mutable_list_value();
    for (const char* interest : kInterests) {
      if (rng_.Chance(0.3)) interests->add_values(interest);
    }
    // Read once for the catalog's targeting, as a storefront keeps it with
    // the user's session, instead of on every request.
    u.prepared = PreparedProfile::Build(*compiled_, PreparedProfile::Role::kUser, u.profile);
  }
  for (int d = 0; d < 2; ++d) {
    for (int g = 0; g < kPageGroups; ++g) {
      prepared_contexts_[d][g] =
          PreparedProfile::Build(*compiled_, PreparedProfile::Role::kContext, contexts_[d][g]);
    }
  }
}

// Where each simulated hour's page views start: the traffic follows the daily
// curve (weekends busier), page view n at the point (n + 0.5) / page_views
// along it.
void Simulation::PlanHours() {
  const int hours = o_.days * 24;
  cumulative_.assign(hours + 1, 0);
  for (int h = 0; h < hours; ++h) {
    const absl::Time t = r_.start + absl::Hours(h);
    const absl::CivilSecond local = absl::ToCivilSecond(t, zone_);
    const absl::Weekday day = absl::GetWeekday(absl::CivilDay(local));
    const double weekend = (day == absl::Weekday::saturday || day == absl::Weekday::sunday) ? 1.2 : 1.0;
    cumulative_[h + 1] = cumulative_[h] + kHourWeights[local.hour()] * weekend;
  }
  const double total = cumulative_[hours];
  first_view_.assign(hours + 1, o_.page_views);
  first_view_[0] = 0;
  int hour = 0;
  for (int64_t n = 0; n < o_.page_views; ++n) {
    const double f = (static_cast<double>(n) + 0.5) / static_cast<double>(o_.page_views) * total;
    while (hour + 1 < hours && cumulative_[hour + 1] <= f) first_view_[++hour] = n;
  }
  for (int h = hour + 1; h < hours; ++h) first_view_[h] = o_.page_views;
}

// The time of page view n, which falls in `hour`.
absl::Time Simulation::TimeOf(int64_t n, int hour) const {
  const double total = cumulative_.back();
  const double f = (static_cast<double>(n) + 0.5) / static_cast<double>(o_.page_views) * total;
  const double w = cumulative_[hour + 1] - cumulative_[hour];
  const double into = w > 0 ? (f - cumulative_[hour]) / w : 0;
  return r_.start + absl::Hours(hour) + absl::Seconds(3600 * into);
}

// Hour after hour: the lanes serve the hour's page views side by side, then
// their orders and responses are settled, their counters flushed and
// reloaded, and at the end of each day the conversions exported.
absl::Status Simulation::Traffic() {
  PlanHours();
  progress_step_ = std::max<int64_t>(1, o_.page_views / 100);
  progress_next_ = progress_step_;
  LaneWorkers workers(threads_, static_cast<int>(lanes_.size()));
  const int hours = o_.days * 24;
  for (int h = 0; h < hours; ++h) {
    if (absl::Status s = Hour(h, workers); !s.ok()) return s;
    if ((h + 1) % 24 == 0) {
      if (absl::Status s = ExportConversions(r_.start + absl::Hours(h + 1)); !s.ok()) return s;
    }
    const int64_t done = first_view_[h + 1];
    if (o_.progress && (done >= progress_next_ || h + 1 == hours)) {
      o_.progress(done, o_.page_views);
      progress_next_ = (done / progress_step_ + 1) * progress_step_;
    }
  }
  return absl::OkStatus();
}

// One simulated hour.
absl::Status Simulation::Hour(int hour, LaneWorkers& workers) {
  const int64_t first = first_view_[hour], end = first_view_[hour + 1];
  const int64_t lanes = static_cast<int64_t>(lanes_.size());
  workers.RunLanes([&](int index) {
    Lane& lane = *lanes_[index];
    // Page view n belongs to lane n % lanes.
    int64_t n = first + ((index - first % lanes) % lanes + lanes) % lanes;
    for (; n < end && lane.status.ok(); n += lanes) lane.status = PageView(lane, TimeOf(n, hour));
  });
  for (const auto& lane : lanes_) {
    if (!lane->status.ok()) return lane->status;
  }
  // The hour's events and counts reach the store first, so that settling
  // never waits behind a lane's event batch; then every lane reloads the
  // totals that all lanes wrote.
  if (absl::Status s = WriteLanes(/*histories=*/false); !s.ok()) return s;
  if (absl::Status s = Settle(); !s.ok()) return s;
  return ReloadLanes();
}

// Every lane writes what it delivered (events and counts, durable on
// return). With `histories`, the lanes' histories are saved too: only at the
// end, since a lane's users are its own (sticky_users) and nothing reads
// their stored histories before; saving them every hour cost more than
// serving the hour.
absl::Status Simulation::WriteLanes(bool histories) {
  for (const auto& lane : lanes_) {
    absl::Status s = histories ? lane->selector->Flush() : lane->selector->RefreshDeliveries();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// After WriteLanes: every lane reloads the totals (a refresh with nothing
// left to write), so each sees what all lanes delivered.
absl::Status Simulation::ReloadLanes() {
  for (const auto& lane : lanes_) {
    if (absl::Status s = lane->selector->RefreshDeliveries(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Asks the lane's selector for one slot kind of the page and counts and
// clicks what it shows.
absl::Status Simulation::Show(Lane& lane, Visit& visit, SelectionRequest& request, bool discounts, absl::Time t) {
  const User& user = users_[visit.user];
  auto result = lane.selector->Select(request);
  if (!result.ok()) return result.status();
  LaneCounts& c = lane.counts;
  if (!discounts) {
    ++c.ad_requests;
    c.slots += request.count;
  }
  for (const SelectedItem& item : result->winners) {
    if (discounts) {
      ++c.discount_ads_shown;
    } else if (item.kind == "paid") {
      ++c.paid_shown;
    } else {
      ++c.house_shown;
    }
    ++CountOf(lane.shown, item.item_id);
    if (!discounts) lane.rect_request.page_history.emplace_back(item.item_id);
    if (!lane.rng.Chance(discounts ? o_.click_rate * 3 : o_.click_rate)) continue;
    ++c.clicks;
    if (absl::Status s = lane.selector->RecordClick(item.item_id, user.id, request.page_groups[0], t); !s.ok()) {
      return s;
    }
    if (discounts) {
      visit.clicked_discounts.emplace_back(item.item_id);
    } else if (item.kind == "paid" && visit.gclid.empty()) {
      visit.gclid = absl::StrCat("Cj0-sim-", Hex32(lane.rng).substr(0, 20));
      visit.clicked_ad = true;
    }
  }
  return absl::OkStatus();
}

absl::Status Simulation::PageView(Lane& lane, absl::Time t) {
  // A page of one of the lane's visits in progress; visits last about six pages.
  Random& rng = lane.rng;
  Visit& visit = lane.visits[rng.Below(lane.visits.size())];
  PageGroup group;
  if (!visit.live || rng.Chance(1.0 / 6)) {
    visit.live = true;
    // One of the lane's users (u % lanes == lane); returning visitors are
    // more likely: the square skews toward low ids.
    const uint64_t lanes = lanes_.size();
    const uint64_t mine = (users_.size() - static_cast<uint64_t>(lane.index) + lanes - 1) / lanes;
    const double x = rng.Uniform();
    const uint64_t k = static_cast<uint64_t>(
        std::min<double>(x * x * static_cast<double>(mine), static_cast<double>(mine - 1)));
    visit.user = static_cast<uint32_t>(k * lanes + static_cast<uint64_t>(lane.index));
    visit.device = rng.Chance(0.45) ? 1 : 0;
    visit.session_id = absl::StrCat("s", lane.index + 1, "-", ++lane.sessions);
    visit.basket.clear();
    visit.clicked_discounts.clear();
    visit.clicked_ad = false;
    visit.gclid.clear();
    group = kHome;
  } else {
    const double other = (1.0 - o_.checkout_rate * 1.2) / 4;
    group = static_cast<PageGroup>(
        rng.Pick(std::array<double, kPageGroups>{other, other, other, other, o_.checkout_rate * 1.2}));
  }
  const User& user = users_[visit.user];
  for (SelectionRequest* request : {&lane.ad_request, &lane.rect_request, &lane.discount_request}) {
    request->page_groups[0] = kPageGroupNames[group];
    request->user_id = user.id;
    request->session_id = visit.session_id;
    request->user = &user.profile;
    request->context = &contexts_[visit.device][group];
    request->prepared_user = user.prepared.get();
    request->prepared_context = prepared_contexts_[visit.device][group].get();
    request->time = t;
  }
  lane.rect_request.page_history.clear();
  lane.ad_request.count = group == kCheckout ? 1 : 2;
  if (absl::Status s = Show(lane, visit, lane.ad_request, false, t); !s.ok()) return s;
  if (group == kHome || group == kKitchen) {
    if (absl::Status s = Show(lane, visit, lane.rect_request, false, t); !s.ok()) return s;
  }
  if (group == kKitchen || group == kCheckout || group == kGarden) {
    // The garden (paint) page shows three discount ads: Fabrikam's
    // click-for-10% among them.
    lane.discount_request.count = group == kGarden ? 3 : 1;
    if (absl::Status s = Show(lane, visit, lane.discount_request, true, t); !s.ok()) return s;
  }
  // Browsing fills the basket: a product of this shelf now and then.
  if (group != kCheckout && rng.Chance(0.12)) {
    size_t candidates[kProductCount];
    size_t count = 0;
    for (size_t p = 0; p < kProductCount; ++p) {
      if (kProducts[p].shelf == group) candidates[count++] = p;
    }
    if (count > 0) {
      visit.basket.emplace_back(candidates[rng.Below(count)], 1 + static_cast<int64_t>(rng.Below(3)));
    }
  }
  if (group == kCheckout) return Checkout(lane, visit, group, t);
  return absl::OkStatus();
}

// A checkout prices the visit's basket at once; what follows from it (the
// offer's response, the order's commit and capture) waits for the end of the
// hour in lane.pending. Every random draw happens here, in the lane's order.
absl::Status Simulation::Checkout(Lane& lane, Visit& visit, PageGroup group, absl::Time t) {
  Random& rng = lane.rng;
  User& user = users_[visit.user];
  if (visit.basket.empty()) {
    const int64_t lines = 1 + static_cast<int64_t>(rng.Below(3));
    for (int64_t i = 0; i < lines; ++i) {
      visit.basket.emplace_back(rng.Below(kProductCount), 1 + static_cast<int64_t>(rng.Below(2)));
    }
  }
  const std::string order_id = absl::StrCat("order-", o_.seed, "-", lane.index + 1, "-", ++lane.checkouts);
  FillBasket(lane, visit, group, t, order_id);
  PriceOptions price_options;
  price_options.now = t;
  price_options.explain = false;
  if (absl::Status s = lane.pricer->PriceInto(lane.basket, price_options, &lane.priced); !s.ok()) return s;
  ++lane.counts.baskets_priced;

  Pending base;
  base.user = visit.user;
  base.gclid = visit.gclid;
  base.time = t;
  // The card offer, shown at checkout to one visitor in three.
  if (offer_action_ != nullptr && rng.Chance(0.33)) {
    Pending& offer = lane.pending.emplace_back(base);
    offer.action = offer_action_;
    offer.outcome = rng.Chance(0.08) ? v1::OUTCOME_ACCEPTED : v1::OUTCOME_REJECTED;
    offer.interaction_id = Hex32(rng);
  }
  if (!rng.Chance(o_.purchase_rate)) return absl::OkStatus();

  user.ordered = true;
  Pending& order = lane.pending.emplace_back(std::move(base));
  order.kind = Pending::Kind::kOrder;
  order.basket = lane.basket;
  order.priced = lane.priced;
  if (purchase_action_ != nullptr) order.interaction_id = Hex32(rng);
  if (service_action_ != nullptr && rng.Chance(0.05)) order.service_id = Hex32(rng);  // asked to be called back
  visit.basket.clear();
  visit.clicked_discounts.clear();
  return absl::OkStatus();
}

// lane.basket from the visit's basket: its lines, the user, the page's
// context, the discounts clicked, now and then the welcome coupon.
void Simulation::FillBasket(Lane& lane, const Visit& visit, PageGroup group, absl::Time t,
                            const std::string& order_id) {
  const User& user = users_[visit.user];
  v1::Basket& basket = lane.basket;
  basket.Clear();
  basket.set_currency("USD");
  for (size_t i = 0; i < visit.basket.size(); ++i) {
    const auto& [p, quantity] = visit.basket[i];
    const Product& product = kProducts[p];
    auto* line = basket.add_items();
    line->set_id(absl::StrCat("l", i + 1));
    line->set_product_id(product.id);
    line->set_category(product.category);
    line->set_unit_price_minor(product.price_minor);
    line->set_quantity(quantity);
    auto& props = *line->mutable_properties();
    props["manufacturer"].set_string_value(product.manufacturer);
    if (product.color[0] != '\0') props["color"].set_string_value(product.color);
  }
  *basket.mutable_user() = user.profile;
  *basket.mutable_context() = contexts_[visit.device][group];
  for (const std::string& id : visit.clicked_discounts) basket.add_clicked_items(id);
  if (!user.ordered && lane.rng.Chance(0.3)) basket.add_coupon_codes("WELCOME5");
  basket.mutable_time()->set_seconds(absl::ToUnixSeconds(t));
  basket.set_shipping_minor(799);
  basket.set_customer_id(user.id);
  basket.set_order_id(order_id);
}

// The hour's orders and responses, lane after lane, each lane's in its order.
absl::Status Simulation::Settle() {
  for (const auto& lane : lanes_) {
    for (Pending& p : lane->pending) {
      absl::Status s = p.kind == Pending::Kind::kOrder ? SettleOrder(*lane, p)
                                                        : Capture(p, *p.action, p.outcome, 0, "", p.interaction_id);
      if (!s.ok()) return s;
    }
    lane->pending.clear();
  }
  return absl::OkStatus();
}

// An order: committed (its coupons redeemed), tallied, and captured as a
// purchase (and now and then a call-back request).
absl::Status Simulation::SettleOrder(Lane& lane, Pending& order) {
  if (absl::Status s = CommitOrder(*lane.pricer, order); !s.ok()) return s;
  const v1::PricedBasket& priced = order.priced;
  ++r_.orders;
  subtotal_ += priced.subtotal_minor();
  discount_total_ += priced.item_discount_minor() + priced.order_discount_minor() +
                     (priced.original_shipping_minor() - priced.shipping_minor());
  revenue_ += priced.total_minor();
  TallyDiscounts(priced);
  if (purchase_action_ != nullptr) {
    if (absl::Status s = Capture(order, *purchase_action_, v1::OUTCOME_ACCEPTED, priced.total_minor(),
                                 order.basket.order_id(), order.interaction_id);
        !s.ok()) {
      return s;
    }
  }
  if (service_action_ != nullptr && !order.service_id.empty()) {
    return Capture(order, *service_action_, v1::OUTCOME_ACCEPTED, 0, "", order.service_id);
  }
  return absl::OkStatus();
}

// Every order is committed: its coupons redeemed, its discounts recorded
// for the discount-usage report.
absl::Status Simulation::CommitOrder(BasketPricer& pricer, Pending& order) {
  absl::Status committed = pricer.Commit(order.basket, order.priced);
  if (absl::IsResourceExhausted(committed)) {
    ++r_.coupons_refused;  // the code is used up: price again without it, and commit that
    order.basket.clear_coupon_codes();
    PriceOptions price_options;
    price_options.now = order.time;
    price_options.explain = false;
    if (absl::Status s = pricer.PriceInto(order.basket, price_options, &order.priced); !s.ok()) return s;
    committed = pricer.Commit(order.basket, order.priced);
  } else if (committed.ok()) {
    r_.coupons_redeemed += order.priced.coupons_size();
  }
  return committed;
}

// Discounts given, per discount: amounts of award units and order adjustments.
void Simulation::TallyDiscounts(const v1::PricedBasket& priced) {
  std::array<std::string_view, 16> seen{};
  size_t seen_count = 0;
  auto tally = [&](const std::string& id, int64_t amount, int64_t units) {
    DiscountTally& d = discounts_given_[id];
    d.amount += amount;
    d.units += units;
    if (std::find(seen.begin(), seen.begin() + seen_count, std::string_view(id)) ==
        seen.begin() + seen_count) {
      ++d.orders;
      if (seen_count < seen.size()) seen[seen_count++] = id;
    }
  };
  for (const auto& line : priced.lines()) {
    for (const auto& unit : line.units()) {
      for (const auto& d : unit.discounts()) {
        if (d.role() == "award") tally(d.discount_id(), d.amount_minor(), 1);
      }
    }
  }
  for (const auto& adj : priced.order_adjustments()) tally(adj.discount_id(), adj.amount_minor(), 0);
}

// A realistic mix of consent (a banner most people accept), fixed per user
// and drawn from the user's id, not the traffic's random stream (which would
// change every other figure): 70 % grant both of Google's questions, 10 %
// grant ad_user_data only, 10 % refuse, 10 % were never asked (nothing
// recorded); one Californian in three asks Meta for Limited Data Use.
void SetConsent(const User& user, v1::InteractionRecord& record) {
  const uint64_t h = std::hash<std::string>{}(absl::StrCat("consent/", user.id));
  const int bucket = static_cast<int>(h % 10);
  if (bucket == 9) return;
  v1::Consent* c = record.mutable_consent();
  c->set_ad_user_data(bucket == 8 ? v1::CONSENT_STATUS_DENIED : v1::CONSENT_STATUS_GRANTED);
  c->set_ad_personalization(bucket < 7 ? v1::CONSENT_STATUS_GRANTED : v1::CONSENT_STATUS_DENIED);
  if (std::string_view(kStates[user.state]) == "CA" && (h / 10) % 3 == 0) {
    c->add_data_processing_options("LDU");
    c->set_data_processing_options_country(1);
    c->set_data_processing_options_state(1000);  // Meta's code for California
  }
}

absl::Status Simulation::Capture(const Pending& p, const v1::ConversionAction& action, v1::Outcome outcome,
                                 int64_t value_minor, const std::string& order_id,
                                 const std::string& interaction_id) {
  const User& user = users_[p.user];
  const absl::Time t = p.time;
  v1::InteractionRecord record;
  record.set_interaction_id(interaction_id);
  auto* subject = record.mutable_subject();
  subject->set_customer_id(user.id);
  subject->set_email(absl::StrCat(kFirstNames[user.first], ".", kLastNames[user.last], ".", user.id, "@example.com"));
  subject->set_phone(absl::StrCat("+1 206 555 ", 1000 + (std::hash<std::string>{}(user.id) % 9000)));
  subject->set_first_name(kFirstNames[user.first]);
  subject->set_last_name(kLastNames[user.last]);
  subject->set_city(kCities[user.state]);
  subject->set_state(kStates[user.state]);
  subject->set_zip(kZips[user.state]);
  subject->set_country("US");
  subject->set_external_id(user.id);
  if (!p.gclid.empty()) subject->set_gclid(p.gclid);
  SetConsent(user, record);
  record.mutable_action()->set_issue(action.issue());
  record.mutable_action()->set_group(action.group());
  record.mutable_action()->set_name(action.name());
  record.set_channel("Web");
  record.set_outcome(outcome);
  record.mutable_time()->set_seconds(absl::ToUnixSeconds(t));
  if (value_minor > 0) {
    record.mutable_value()->set_minor_units(value_minor);
    record.mutable_value()->set_currency("USD");
  }
  record.set_order_id(order_id);
  CaptureOptions options;
  options.actions = &actions_;
  options.clock = [t] { return t; };
  auto stored = CaptureResponse(*store_, std::move(record), options);
  if (!stored.ok()) return stored.status();
  ++r_.responses_captured;
  auto& c = captured_[ActionName(action)];
  ++c.first;
  if (outcome == v1::OUTCOME_ACCEPTED) {
    ++r_.accepted;
    ++c.second;
  }
  return absl::OkStatus();
}

absl::Status Simulation::ExportConversions(absl::Time now) {
  if (exporter_ == nullptr) return absl::OkStatus();
  const absl::Time begin = absl::Now();
  // The exporter's clock is the simulated one: the run at the end of each day.
  export_now_ = now;
  auto report = exporter_->RunOnce();
  r_.timing.exports += absl::Now() - begin;
  if (!report.ok()) return report.status();
  r_.conversions_delivered += report->delivered + report->duplicates;
  r_.conversions_invalid += report->invalid;
  r_.conversions_no_consent += report->no_consent;
  r_.conversions_failed += report->failed + report->transient;
  exports_.push_back({absl::FormatTime("%Y-%m-%d", now - absl::Seconds(1), zone_), *std::move(report)});
  return absl::OkStatus();
}

absl::Status Simulation::SendMail() {
  const std::string maildir = o_.out_dir + "/maildir";
  v1::MaildirTransportConfig config;
  config.set_path(maildir);
  config.set_no_fsync(true);
  auto transport = registry_->Create<Transport>("maildir", config, CreateContext{registry_});
  if (!transport.ok()) return transport.status();
  std::string base_dir = std::filesystem::path(o_.catalog_path).parent_path().string();
  if (base_dir.empty()) base_dir = ".";
  for (const auto& campaign : catalog_.campaigns()) {
    for (const auto& item : campaign.items()) {
      if (!item.has_direct_mail() || (item.has_active() && !item.active())) continue;
      MailJobSpec spec;
      spec.item_id = item.id();
      spec.job_id = absl::StrCat(item.id(), "-simulation");
      spec.mail = item.direct_mail();
      spec.base_dir = base_dir;
      spec.site_opt_out_list = catalog_.site_opt_out_list();
      spec.site_opt_out_store_list = catalog_.site_opt_out_store_list();
      MailerOptions options;
      options.registry = registry_;
      options.store = store_.get();
      options.transport = transport->get();
      options.worker_id = "herald-simulate";
      options.unsubscribe_secret = absl::StrCat("herald-simulation-secret-", o_.seed);
      auto job = MailJob::Create(std::move(spec), std::move(options));
      if (!job.ok()) return job.status();
      auto report = (*job)->Run();
      if (!report.ok()) return report.status();
      r_.mail_sent += report->sent;
      r_.mail_skipped += report->skipped;
      r_.mail_failed += report->failed;
      mail_.push_back(*std::move(report));
      r_.maildir = maildir;
    }
  }
  return absl::OkStatus();
}

// Delivery against goal, per ad: what its schedule expected by the end.
ReportTable Simulation::DeliveryTable() const {
  using K = ColumnKind;
  const auto& items = compiled_->items();
  const absl::Time last = r_.end - absl::Seconds(1);
  ReportTable delivery;
  delivery.name = "delivery";
  delivery.title = "Delivery against goal";
  delivery.subtitle = absl::StrCat(r_.period, "; expected = the goal prorated over the ad's deliverable time "
                                     "up to the end of the simulation");
  delivery.columns = {{"campaign", "Campaign", K::kText},     {"item", "Ad", K::kText},
                      {"kind", "Kind", K::kText},             {"goal_event", "Goal event", K::kText},
                      {"goal", "Goal", K::kInteger},          {"expected", "Expected by end", K::kInteger},
                      {"delivered", "Delivered", K::kInteger}, {"of_expected", "% of expected", K::kPercent},
                      {"requests", "Requests", K::kInteger},  {"clicks", "Clicks", K::kInteger},
                      {"click_rate", "Click rate %", K::kPercent}};
  auto campaign_name = [&](const CompiledItem& item) -> std::string {
    if (item.campaign >= 0 && item.campaign < catalog_.campaigns_size()) {
      return catalog_.campaigns(item.campaign).name();
    }
    return item.campaign_id;
  };
  for (const CompiledItem& item : items) {
    if (item.kind == ItemKind::kDiscount) continue;
    // Every lane's deliveries: the lanes' counters were flushed, then reloaded.
    const auto [requests, clicks] = lanes_.front()->selector->Delivered(item.id);
    if (item.kind == ItemKind::kPaidAd) {
      const LocalTime local = LocalTime::Of(last, compiled_->zones()[item.schedule.zone]);
      const double total = item.schedule.total_seconds;
      const double fraction = total > 0 ? item.schedule.DeliverableSecondsUntil(last, local) / total : 0;
      const int64_t expected = static_cast<int64_t>(std::llround(static_cast<double>(item.goal) * fraction));
      const int64_t delivered = item.goal_clicks ? clicks : requests;
      delivery.rows.push_back({campaign_name(item), item.name, std::string("paid"),
                               std::string(item.goal_clicks ? "clicks" : "requests"), item.goal, expected,
                               delivered, Percent(static_cast<double>(delivered), static_cast<double>(expected)),
                               requests, clicks, Percent(static_cast<double>(clicks), static_cast<double>(requests))});
    } else {
      delivery.rows.push_back({campaign_name(item), item.name, std::string("house"), std::monostate{},
                               std::monostate{}, std::monostate{}, requests, std::monostate{}, requests, clicks,
                               Percent(static_cast<double>(clicks), static_cast<double>(requests))});
    }
  }
  return delivery;

}

// The discounts given on the orders, as counted when they were priced.
ReportTable Simulation::DiscountsTable() const {
  using K = ColumnKind;
  const auto& items = compiled_->items();
  ReportTable discounts;
  discounts.name = "discounts";
  discounts.title = "Discounts given";
  discounts.subtitle = absl::StrCat(r_.baskets_priced, " baskets priced, ", r_.orders, " orders: subtotal ",
                           Money(subtotal_), " USD, discounts ", Money(discount_total_), " USD, revenue ",
                           Money(revenue_), " USD; WELCOME5 redeemed ", r_.coupons_redeemed, ", refused ",
                           r_.coupons_refused);
  discounts.columns = {{"discount", "Discount", K::kText},    {"priority", "Priority", K::kInteger},
                       {"ad_shown", "Ad shown", K::kInteger},
                       {"orders", "Orders", K::kInteger},      {"order_share", "% of orders", K::kPercent},
                       {"units", "Units", K::kInteger},        {"amount", "Amount (USD)", K::kText}};
  for (const CompiledItem& item : items) {
    if (item.kind != ItemKind::kDiscount) continue;
    DiscountTally t;
    if (auto it = discounts_given_.find(item.id); it != discounts_given_.end()) t = it->second;
    auto shown = shown_.find(item.id);
    discounts.rows.push_back({item.name, static_cast<int64_t>(item.priority),
                              shown == shown_.end() ? int64_t{0} : shown->second, t.orders,
                              Percent(static_cast<double>(t.orders), static_cast<double>(r_.orders)), t.units,
                              Money(t.amount)});
  }
  return discounts;

}

// The direct-mail jobs and what they sent.
ReportTable Simulation::MailTable() const {
  using K = ColumnKind;
  ReportTable mail;
  mail.name = "mail";
  mail.title = "Mail sent";
  mail.subtitle = r_.maildir.empty() ? std::string("no direct-mail job ran") : absl::StrCat("to the Maildir ", r_.maildir);
  mail.columns = {{"job", "Job", K::kText},           {"state", "State", K::kText},
                  {"recipients", "Recipients", K::kInteger}, {"sent", "Sent", K::kInteger},
                  {"skipped", "Skipped", K::kInteger}, {"opted_out", "Opted out", K::kInteger},
                  {"failed", "Failed", K::kInteger}};
  for (const MailReport& m : mail_) {
    mail.rows.push_back({m.job_id, m.state, m.recipients, m.sent, m.skipped, m.opted_out, m.failed});
  }
  return mail;

}

// Responses captured, per action.
ReportTable Simulation::ResponsesTable() const {
  using K = ColumnKind;
  ReportTable captured;
  captured.name = "responses";
  captured.title = "Responses captured";
  captured.subtitle = absl::StrCat(r_.responses_captured, " responses in interaction history, ", r_.accepted, " accepted");
  captured.columns = {{"action", "Action", K::kText},
                      {"offline", "Offline conversion", K::kText},
                      {"captured", "Captured", K::kInteger},
                      {"accepted", "Accepted", K::kInteger}};
  for (const auto& a : actions_) {
    auto it = captured_.find(ActionName(a));
    const int64_t n = it == captured_.end() ? 0 : it->second.first;
    const int64_t acc = it == captured_.end() ? 0 : it->second.second;
    captured.rows.push_back({ActionName(a), std::string(OfflineEnabled(a) ? "enabled" : "off"), n, acc});
  }
  return captured;

}

// The daily conversion exports.
ReportTable Simulation::ExportsTable() const {
  using K = ColumnKind;
  ReportTable exported;
  exported.name = "conversions";
  exported.title = "Conversions exported";
  exported.subtitle = exporter_ == nullptr ? std::string("the export did not run")
                                           : absl::StrCat("daily runs to the file destination ", r_.conversions_file);
  exported.columns = {{"day", "Run at end of", K::kText},      {"read", "Interactions read", K::kInteger},
                      {"conversions", "Conversions", K::kInteger}, {"delivered", "Delivered", K::kInteger},
                      {"invalid", "Invalid", K::kInteger},      {"no_consent", "No consent", K::kInteger},
                      {"failed", "Failed", K::kInteger},        {"watermark", "Watermark", K::kInteger}};
  for (const ExportDay& e : exports_) {
    exported.rows.push_back({e.day, e.report.interactions_read, e.report.conversions,
                             e.report.delivered + e.report.duplicates, e.report.invalid, e.report.no_consent,
                             e.report.failed + e.report.transient, e.report.watermark_after});
  }
  return exported;
}

absl::Status Simulation::Reports() {
  if (absl::Status s = WriteLanes(/*histories=*/true); !s.ok()) return s;
  if (absl::Status s = ReloadLanes(); !s.ok()) return s;
  for (const auto& lane : lanes_) {
    const LaneCounts& c = lane->counts;
    r_.ad_requests += c.ad_requests;
    r_.slots += c.slots;
    r_.paid_shown += c.paid_shown;
    r_.house_shown += c.house_shown;
    r_.discount_ads_shown += c.discount_ads_shown;
    r_.clicks += c.clicks;
    r_.baskets_priced += c.baskets_priced;
    for (const auto& [id, n] : lane->shown) CountOf(shown_, id) += n;
  }
  r_.tables.push_back(DeliveryTable());
  ReportOptions ro;
  ro.from = r_.start;
  ro.to = r_.end;
  ro.catalog = &catalog_;
  // House-ad fill: expected against actual shares, empty slots by reason.
  auto house = RunReport("house-ad-fill", store_->events(), ro);
  if (!house.ok()) return house.status();
  r_.tables.push_back(*std::move(house));

  // Reach and frequency, from the stored events.
  auto reach = RunReport("reach-frequency-campaign", store_->events(), ro);
  if (!reach.ok()) return reach.status();
  r_.tables.push_back(*std::move(reach));
  if (o_.charts) {
    auto charts = BuildReportCharts(store_->events(), ro);
    if (!charts.ok()) return charts.status();
    r_.charts = *std::move(charts);
  }

  r_.tables.push_back(DiscountsTable());
  r_.tables.push_back(MailTable());
  r_.tables.push_back(ResponsesTable());
  r_.tables.push_back(ExportsTable());
  return absl::OkStatus();
}

absl::StatusOr<SimulationReport> Simulation::Run() {
  const absl::Time begin = absl::Now();
  if (absl::Status s = Setup(); !s.ok()) return s;
  MakeUsers();
  const absl::Time traffic_begin = absl::Now();
  if (absl::Status s = Traffic(); !s.ok()) return s;
  r_.timing.traffic = absl::Now() - traffic_begin - r_.timing.exports;
  if (o_.send_mail) {
    const absl::Time t = absl::Now();
    if (absl::Status s = SendMail(); !s.ok()) return s;
    r_.timing.mail = absl::Now() - t;
  }
  const absl::Time reports_begin = absl::Now();
  if (absl::Status s = Reports(); !s.ok()) return s;
  r_.timing.reports = absl::Now() - reports_begin;
  r_.timing.total = absl::Now() - begin;
  return std::move(r_);
}

// ---------------------------------------------------------------- rendering

std::string Seconds(absl::Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", absl::ToDoubleSeconds(d));
  return buf;
}

std::string Escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else if (c == '"') {
      out += "&quot;";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string SummaryText(const SimulationReport& r) {
  std::string out = absl::StrCat("Herald storefront simulation: ", r.catalog, "\n");
  absl::StrAppend(&out, "  period      ", r.period, "\n");
  absl::StrAppend(&out, "  store       ", r.store, "\n");
  absl::StrAppend(&out, "  traffic     ", r.page_views, " page views, ", r.ad_requests, " ad requests for ", r.slots,
        " slots: ", r.paid_shown, " paid, ", r.house_shown, " house; ", r.discount_ads_shown,
        " discount ads; ", r.clicks, " clicks\n");
  absl::StrAppend(&out, "  baskets     ", r.baskets_priced, " priced, ", r.orders, " orders, ", r.coupons_redeemed,
        " coupons redeemed, ", r.coupons_refused, " refused\n");
  absl::StrAppend(&out, "  responses   ", r.responses_captured, " captured, ", r.accepted, " accepted\n");
  absl::StrAppend(&out, "  conversions ", r.conversions_delivered, " exported, ", r.conversions_invalid, " invalid, ",
        r.conversions_no_consent, " without consent, ", r.conversions_failed, " failed", r.conversions_file.empty() ? "" : " -> ", r.conversions_file, "\n");
  absl::StrAppend(&out, "  mail        ", r.mail_sent, " sent, ", r.mail_skipped, " skipped, ", r.mail_failed, " failed",
        r.maildir.empty() ? "" : " -> ", r.maildir, "\n");
  return out;
}

std::string TimingText(const SimulationReport& r) {
  const double per_view =
      r.page_views > 0 ? absl::ToDoubleMicroseconds(r.timing.traffic) / static_cast<double>(r.page_views) : 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", per_view);
  return absl::StrCat("Time: traffic ", Seconds(r.timing.traffic), " (", buf, " us per page view), export ",
             Seconds(r.timing.exports), ", mail ", Seconds(r.timing.mail), ", reports ", Seconds(r.timing.reports),
             "; total ", Seconds(r.timing.total), "\n");
}

nlohmann::json SummaryJson(const SimulationReport& r) {
  return {{"catalog", r.catalog},
          {"period", r.period},
          {"start", absl::FormatTime(absl::RFC3339_sec, r.start, absl::UTCTimeZone())},
          {"end", absl::FormatTime(absl::RFC3339_sec, r.end, absl::UTCTimeZone())},
          {"store", r.store},
          {"page_views", r.page_views},
          {"ad_requests", r.ad_requests},
          {"slots", r.slots},
          {"paid_shown", r.paid_shown},
          {"house_shown", r.house_shown},
          {"discount_ads_shown", r.discount_ads_shown},
          {"clicks", r.clicks},
          {"baskets_priced", r.baskets_priced},
          {"orders", r.orders},
          {"coupons_redeemed", r.coupons_redeemed},
          {"coupons_refused", r.coupons_refused},
          {"responses_captured", r.responses_captured},
          {"accepted", r.accepted},
          {"conversions_delivered", r.conversions_delivered},
          {"conversions_invalid", r.conversions_invalid},
          {"conversions_no_consent", r.conversions_no_consent},
          {"conversions_failed", r.conversions_failed},
          {"conversions_file", r.conversions_file},
          {"mail_sent", r.mail_sent},
          {"mail_skipped", r.mail_skipped},
          {"mail_failed", r.mail_failed},
          {"maildir", r.maildir}};
}

}  // namespace

const ReportTable* SimulationReport::Find(std::string_view name) const {
  for (const ReportTable& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<SimulationReport> RunSimulation(const SimulationOptions& options) {
  if (absl::Status s = Validate(options); !s.ok()) return s;
  Registry own;
  Registry* registry = options.registry != nullptr ? options.registry : &own;
  if (absl::Status s = RegisterBuiltins(registry); !s.ok()) return s;
  RegisterConversionComponents(registry);
  Simulation simulation(options, registry);
  return simulation.Run();
}

std::string RenderSimulationText(const SimulationReport& report, bool with_timing) {
  std::string out = SummaryText(report);
  for (const ReportTable& table : report.tables) absl::StrAppend(&out, "\n", RenderTable(table));
  if (with_timing) absl::StrAppend(&out, "\n", TimingText(report));
  return out;
}

std::string RenderSimulationJson(const SimulationReport& report, bool with_timing) {
  nlohmann::json j;
  j["summary"] = SummaryJson(report);
  j["reports"] = nlohmann::json::array();
  for (const ReportTable& table : report.tables) {
    j["reports"].push_back(nlohmann::json::parse(RenderJson(table), nullptr, false));
  }
  if (with_timing) {
    j["timing"] = {{"traffic_seconds", absl::ToDoubleSeconds(report.timing.traffic)},
                   {"export_seconds", absl::ToDoubleSeconds(report.timing.exports)},
                   {"mail_seconds", absl::ToDoubleSeconds(report.timing.mail)},
                   {"report_seconds", absl::ToDoubleSeconds(report.timing.reports)},
                   {"total_seconds", absl::ToDoubleSeconds(report.timing.total)}};
  }
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string RenderSimulationHtml(const SimulationReport& report, bool with_timing) {
  if (report.tables.empty()) return RenderHtml(ReportTable{}, report.charts);
  // The first table's page carries the charts; the others' tables follow it.
  ReportTable first = report.tables.front();
  first.title = absl::StrCat("Herald storefront simulation: ", report.catalog);
  std::string summary = SummaryText(report);
  if (with_timing) summary += TimingText(report);
  first.subtitle = report.period;
  std::string page = RenderHtml(first, report.charts);
  std::string extra = absl::StrCat("<h2>Summary</h2><pre id=\"summary\">", Escape(summary), "</pre>\n");
  // Rename the first table's heading to its own title.
  if (size_t at = page.find("<h2>Herald storefront simulation"); at != std::string::npos) {
    if (size_t table_at = page.find("<table>", at); table_at != std::string::npos) {
      page.replace(at, table_at - at, absl::StrCat("<h2>", report.tables.front().title, "</h2>"));
    }
  }
  for (size_t i = 1; i < report.tables.size(); ++i) {
    const std::string single = RenderHtml(report.tables[i], ReportCharts{});
    const size_t table_at = single.find("<table>");
    const size_t heading = table_at == std::string::npos ? std::string::npos : single.rfind("<h2>", table_at);
    const size_t table_end = single.find("</table>", table_at == std::string::npos ? 0 : table_at);
    if (heading == std::string::npos || table_end == std::string::npos) continue;
    absl::StrAppend(&extra, single.substr(heading, table_end + 8 - heading), "<div class=\"sub\">", Escape(report.tables[i].subtitle),
          "</div>\n");
  }
  const size_t script = page.find("<script type=\"application/json\"");
  if (script == std::string::npos) return page + extra;
  page.insert(script, extra);
  return page;
}

}  // namespace herald
