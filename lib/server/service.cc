// DecisionService: the one implementation of the server API (herald/server.h).
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "herald/campaign_cache.h"
#include "herald/catalog_versions.h"
#include "herald/conversion.h"
#include "herald/discount.h"
#include "herald/selection.h"
#include "herald/server.h"
#include "herald/store.h"
#include "server/absl_view.h"
#include "server/click_token.h"
#include "server/metrics.h"
#include "server/profile_json.h"

namespace herald {

namespace {

using server_internal::AbslView;
using server_internal::ClickSigner;
using server_internal::DecisionOutcome;
using server_internal::ProfileFromJson;

constexpr int kMaxCount = 100;
constexpr size_t kMaxIdBytes = 256;

absl::Status FieldError(std::string_view field, std::string_view message) {
  return WithField(absl::InvalidArgumentError(absl::StrCat(AbslView(field), ": ", AbslView(message))), field);
}

absl::Status CheckId(std::string_view field, std::string_view id) {
  if (id.size() > kMaxIdBytes) {
    return FieldError(field, absl::StrCat("longer than ", kMaxIdBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Where a click on `item` leads: its display's URL; a relative or missing one
// leads to the site root. Only http(s) and site-relative paths are followed,
// so a catalog cannot turn the click endpoint into a javascript: link.
std::string ClickTarget(const CompiledItem& item) {
  std::string url;
  if (item.proto != nullptr) {
    if (item.proto->has_ad()) url = item.proto->ad().display().click_url();
    if (item.proto->has_discount()) url = item.proto->discount().display().click_url();
  }
  bool absolute = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  bool relative = url.size() > 1 && url[0] == '/' && url[1] != '/';
  return absolute || relative ? url : "/";
}

// The selector's InvalidArgument is about the request; anything else it
// returns is the server's own trouble.
absl::Status RequestError(const absl::Status& status, std::string_view what) {
  if (absl::IsInvalidArgument(status) || absl::IsNotFound(status)) return status;
  return absl::Status(status.code(), absl::StrCat(AbslView(what), ": ", status.message()));
}

class DecisionServiceImpl : public DecisionService {
 public:
  DecisionServiceImpl(v1::ServerConfig config, ClickSigner signer)
      : config_(std::move(config)), signer_(std::move(signer)) {}

  absl::Status Init(const Registry& registry) {
    OpenStoreOptions open;
    open.personal_data = config_.personal_data();
    auto store = OpenStore(config_.store().empty() ? "memory" : config_.store(), registry, open);
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
    auto catalog = LoadCatalog();
    if (!catalog.ok()) return catalog.status();
    SelectorConfig selector_config;
    selector_config.registry = &registry;
    selector_config.store = store_.get();
    if (config_.flush_interval_ms() > 0) {
      selector_config.options.flush_interval = absl::Milliseconds(config_.flush_interval_ms());
    }
    auto selector = NewContentSelector(*catalog, selector_config);
    if (!selector.ok()) return selector.status();
    selector_ = std::move(*selector);
    PricerConfig pricer_config;
    pricer_config.registry = &registry;
    pricer_config.store = store_.get();
    auto pricer = NewBasketPricer(*catalog, pricer_config);
    if (!pricer.ok()) return pricer.status();
    pricer_ = std::move(*pricer);
    click_ttl_ = absl::Seconds(config_.click_ttl_seconds() > 0 ? config_.click_ttl_seconds() : 7 * 86400);
    click_base_ = config_.click_base_url().empty() ? "/v1/clicks/" : config_.click_base_url();
    if (config_.catalog().empty()) StartCatalogRefresh();
    return absl::OkStatus();
  }

  ~DecisionServiceImpl() override {
    {
      std::lock_guard<std::mutex> lock(refresh_mu_);
      stopping_ = true;
    }
    refresh_cv_.notify_all();
    if (refresher_.joinable()) refresher_.join();
  }

  // The catalog file, or the store's current version (its number noted in
  // loaded_version_ for the switch).
  absl::StatusOr<std::shared_ptr<const CompiledCatalog>> LoadCatalog() {
    if (!config_.catalog().empty()) return CompiledCatalog::Load(config_.catalog());
    CatalogStore* versions = store_->catalogs();
    if (versions == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("server config: no catalog file, and store ", store_->Describe(),
                                               " keeps no catalog versions"));
    }
    int64_t version = 0;
    absl::StatusOr<v1::Catalog> catalog = LoadStoredCatalog(*versions, 0, &version);
    if (absl::IsNotFound(catalog.status())) {
      return absl::FailedPreconditionError(absl::StrCat("server config: no catalog file, and store ", store_->Describe(),
                                               " holds no catalog version (herald catalog push FILE --store URI)"));
    }
    if (!catalog.ok()) return catalog.status();
    auto compiled = CompiledCatalog::Compile(*catalog);
    if (!compiled.ok()) {
      return absl::Status(compiled.status().code(),
                          absl::StrCat("catalog version ", version, " of the store: ", compiled.status().message()));
    }
    loaded_version_ = version;
    return compiled;
  }

  // Polls the store's current version; a new one is loaded and compiled by
  // this thread, beside the running catalog, and only the swap takes the
  // request lock. A version that fails is not retried until the next one.
  void StartCatalogRefresh() {
    serving_version_.store(loaded_version_);
    const absl::Duration every =
        absl::Milliseconds(config_.catalog_refresh_ms() > 0 ? config_.catalog_refresh_ms() : 10000);
    refresher_ = std::thread([this, every] {
      int64_t refused = 0;
      std::unique_lock<std::mutex> lock(refresh_mu_);
      while (!refresh_cv_.wait_for(lock, absl::ToChronoMilliseconds(every), [this] { return stopping_; })) {
        lock.unlock();
        absl::StatusOr<int64_t> current = store_->catalogs()->CurrentCatalogVersion();
        if (current.ok() && *current != serving_version_.load() && *current != refused) {
          if (!ReloadCatalog().ok()) refused = *current;
        }
        lock.lock();
      }
    });
  }

  int64_t CatalogVersion() const override { return serving_version_.load(); }

  absl::StatusOr<v1::SelectAdsResponse> SelectAds(const v1::SelectAdsRequest& r) const override {
    absl::StatusOr<v1::SelectAdsResponse> response = Decide(r);
    RecordDecision(r, response);
    return response;
  }

  absl::StatusOr<v1::SelectAdsResponse> Decide(const v1::SelectAdsRequest& r) const {
    // Validation and selection on one catalog: no reload between them.
    absl::ReaderMutexLock same_catalog(&switch_mu_);
    std::shared_ptr<const CompiledCatalog> snapshot = selector_->catalog();
    const v1::Catalog& catalog = snapshot->catalog();
    int count = r.count() == 0 ? 1 : r.count();
    if (count < 1 || count > kMaxCount) {
      return FieldError("count", absl::StrCat("must be between 1 and ", kMaxCount, ", got ", r.count()));
    }
    for (int i = 0; i < r.page_groups_size(); ++i) {
      if (absl::Status s = CheckId(absl::StrCat("page_groups[", i, "]"), r.page_groups(i)); !s.ok()) return s;
    }
    for (int i = 0; i < r.page_history_size(); ++i) {
      if (absl::Status s = CheckId(absl::StrCat("page_history[", i, "]"), r.page_history(i)); !s.ok()) return s;
    }
    for (auto [field, value] : {std::pair<std::string_view, std::string_view>{"user_id", r.user_id()},
                                {"session_id", r.session_id()}, {"size", r.size()}}) {
      if (absl::Status s = CheckId(field, value); !s.ok()) return s;
    }
    auto user = ProfileFromJson(r.profile(), catalog.user_attributes(), "profile", catalog.currency());
    if (!user.ok()) return user.status();
    auto context = ProfileFromJson(r.context(), catalog.context_attributes(), "context", catalog.currency());
    if (!context.ok()) return context.status();

    SelectionRequest request;
    request.page_groups.assign(r.page_groups().begin(), r.page_groups().end());
    request.size = r.size();
    request.count = count;
    request.user_id = r.user_id();
    request.session_id = r.session_id();
    request.user = &*user;
    request.context = &*context;
    request.page_history.assign(r.page_history().begin(), r.page_history().end());
    if (r.has_time()) request.time = TimeOf(r.time());
    request.trace = r.trace();
    request.record = !r.dry_run();
    request.discounts = r.discounts();
    auto result = selector_->Select(request);
    if (!result.ok()) return RequestError(result.status(), "selection");

    v1::SelectAdsResponse response;
    const absl::Time now = absl::Now();
    // Not `? "" : r.page_groups(0)`: that makes a temporary std::string the view outlives.
    const std::string_view page_group =
        r.page_groups().empty() ? std::string_view() : std::string_view(r.page_groups(0));
    for (const SelectedItem& w : result->winners) {
      v1::SelectedAd* ad = response.add_winners();
      ad->set_item_id(std::string(w.item_id));
      ad->set_name(std::string(w.name));
      ad->set_campaign_id(std::string(w.campaign_id));
      ad->set_kind(std::string(w.kind));
      ad->set_score(w.score);
      std::string link = click_base_ + SignClick(w.item_id, r.user_id(), page_group, now);
      // The display links to the advertiser as rendered once per snapshot;
      // this user's copy links to the signed click instead.
      if (!w.click_url.empty()) {
        ad->set_html(absl::StrReplaceAll(AbslView(w.html), {{AbslView(w.click_url), link}}));
      } else {
        ad->set_html(std::string(w.html));
      }
      ad->set_click_url(std::move(link));
      ad->set_image_url(std::string(w.image_url));
      ad->set_text(std::string(w.text));
    }
    if (r.trace()) {
      auto parsed = google::protobuf::util::JsonStringToMessage(result->trace.ToJson(), response.mutable_trace());
      if (!parsed.ok()) return absl::InternalError(absl::StrCat("trace: ", parsed.message().ToString()));
    }
    return response;
  }

  absl::StatusOr<std::string> Click(std::string_view token) const override {
    const absl::Time now = absl::Now();
    auto claim = signer_.Verify(token, now);
    if (!claim.ok()) return claim.status();
    absl::ReaderMutexLock same_catalog(&switch_mu_);
    std::shared_ptr<const CompiledCatalog> snapshot = selector_->catalog();
    const CompiledItem* item = snapshot->FindItem(claim->item_id());
    if (item == nullptr) {
      return absl::NotFoundError(absl::StrCat("click link: item \"", claim->item_id(),
                                              "\" is no longer in the catalog"));
    }
    if (absl::Status s = selector_->RecordClick(claim->item_id(), claim->user_id(), claim->page_group(), now);
        !s.ok()) {
      return RequestError(s, "recording the click");
    }
    return ClickTarget(*item);
  }

  absl::StatusOr<v1::PricedBasket> PriceBasket(const v1::PriceBasketRequest& request) const override {
    PriceOptions options;
    options.explain = request.explain();
    absl::ReaderMutexLock same_catalog(&switch_mu_);
    auto priced = pricer_->Price(request.basket(), options);
    if (!priced.ok()) return RequestError(priced.status(), "pricing");
    return priced;
  }

  absl::StatusOr<v1::CommitOrderResponse> CommitOrder(const v1::CommitOrderRequest& request) const override {
    if (request.basket().order_id().empty()) return FieldError("basket.order_id", "required to commit");
    if (absl::Status s = CheckId("basket.order_id", request.basket().order_id()); !s.ok()) return s;
    PriceOptions options;
    options.explain = false;
    v1::CommitOrderResponse response;
    // Priced and committed by the same catalog.
    absl::ReaderMutexLock same_catalog(&switch_mu_);
    auto priced = pricer_->Price(request.basket(), options);
    if (!priced.ok()) return RequestError(priced.status(), "pricing");
    absl::Status committed = pricer_->Commit(request.basket(), *priced);
    if (absl::IsResourceExhausted(committed)) {
      // A coupon used up is a conflict with the order, not a rate limit.
      return WithField(absl::FailedPreconditionError(committed.message()), "basket.coupon_codes");
    }
    if (!committed.ok()) return RequestError(committed, "committing the order");
    *response.mutable_priced() = std::move(*priced);
    return response;
  }

  absl::StatusOr<v1::InteractionRecord> CaptureResponse(const v1::InteractionRecord& record) const override {
    if (record.sequence() != 0) return FieldError("sequence", "assigned by the store; leave it out");
    std::shared_ptr<const CompiledCatalog> snapshot = selector_->catalog();
    std::vector<v1::ConversionAction> actions(snapshot->catalog().actions().begin(),
                                              snapshot->catalog().actions().end());
    CaptureOptions options;
    if (!actions.empty()) options.actions = &actions;
    auto stored = herald::CaptureResponse(*store_, record, options);
    if (!stored.ok()) {
      // Its messages start "CaptureResponse: action.issue: ..."; the API
      // names the field first, like every other error.
      absl::string_view message = stored.status().message();
      absl::ConsumePrefix(&message, "CaptureResponse: ");
      return RequestError(absl::Status(stored.status().code(), message), "capturing the response");
    }
    return stored;
  }

  absl::StatusOr<ReportTable> Report(const ReportRequest& request) const override {
    std::shared_ptr<const CompiledCatalog> snapshot = selector_->catalog();
    ReportOptions options;
    options.catalog = &snapshot->catalog();
    options.campaign = request.campaign;
    absl::TimeZone zone;
    if (!absl::LoadTimeZone(snapshot->catalog().time_zone().empty() ? "UTC" : snapshot->catalog().time_zone(),
                            &zone)) {
      zone = absl::UTCTimeZone();
    }
    for (auto [field, text, out] : {std::tuple{"from", &request.from, &options.from},
                                    std::tuple{"to", &request.to, &options.to}}) {
      if (text->empty()) continue;
      std::string err;
      if (!absl::ParseTime("%Y-%m-%d", *text, zone, out, &err) &&
          !absl::ParseTime(absl::RFC3339_full, *text, out, &err)) {
        return FieldError(field, absl::StrCat("expected a date (2026-06-01) or an RFC 3339 time, got \"",
                                              text->substr(0, 40), "\""));
      }
    }
    auto table = RunReport(request.name, *store_, options);
    if (!table.ok()) return RequestError(table.status(), "report");
    return table;
  }

  std::string SignClick(std::string_view item_id, std::string_view user_id, std::string_view page_group,
                        absl::Time now) const override {
    v1::ClickClaim claim;
    claim.set_item_id(std::string(item_id));
    claim.set_user_id(std::string(user_id));
    claim.set_page_group(std::string(page_group));
    claim.set_expires_unix(absl::ToUnixSeconds(now + click_ttl_));
    return signer_.Sign(claim);
  }

  absl::Status Ready() const override {
    if (selector_->catalog() == nullptr) return absl::UnavailableError("no catalog loaded");
    auto probe = store_->watermarks().GetWatermark("herald-serve/readyz");
    if (!probe.ok()) {
      return absl::UnavailableError(absl::StrCat("store ", store_->Describe(), ": ", probe.status().message()));
    }
    return absl::OkStatus();
  }

  absl::Status ReloadCatalog() override {
    absl::Status status = SwitchCatalog();
    decisions_.RecordReload(status.ok());
    return status;
  }

  // Loads and compiles outside any lock; then switches the pricer and the
  // selector together under switch_mu_, so that no request sees one
  // catalog's selector with another's pricer (both switch or neither: a
  // refusal by the second puts the first back).
  absl::Status SwitchCatalog() {
    std::lock_guard<std::mutex> lock(reload_mu_);
    auto catalog = LoadCatalog();
    if (!catalog.ok()) return catalog.status();
    absl::MutexLock switching(&switch_mu_);
    std::shared_ptr<const CompiledCatalog> previous = selector_->catalog();
    // The pricer first: it can refuse the catalog (a discount expression that
    // no longer compiles), and then neither has switched.
    if (absl::Status s = pricer_->SetCatalog(*catalog); !s.ok()) return s;
    if (absl::Status s = selector_->SetCatalog(*catalog); !s.ok()) {
      if (absl::Status back = pricer_->SetCatalog(previous); !back.ok()) {
        return absl::InternalError(absl::StrCat("catalog reload: the selector refused the catalog (", s.message(),
                                                ") and the pricer could not go back: ", back.message()));
      }
      return s;
    }
    serving_version_.store(loaded_version_);
    return absl::OkStatus();
  }

  std::string MetricsText() const override;

  absl::Status Flush() override {
    if (absl::Status s = selector_->Flush(); !s.ok()) return s;
    return store_->Flush();
  }

 private:
  v1::ServerConfig config_;
  ClickSigner signer_;
  absl::Duration click_ttl_;
  std::string click_base_;
  std::unique_ptr<Store> store_;  // declared first: destroyed after what borrows it
  std::unique_ptr<ContentSelector> selector_;
  std::unique_ptr<BasketPricer> pricer_;
  std::mutex reload_mu_;  // one reload at a time
  int64_t loaded_version_ = 0;  // the store version LoadCatalog read last (under reload_mu_ or in Init)
  std::atomic<int64_t> serving_version_{0};  // the store version being served; 0 = a catalog file
  // The refresh thread (a catalog from the store) and its stop signal.
  std::mutex refresh_mu_;
  std::condition_variable refresh_cv_;
  bool stopping_ = false;
  std::thread refresher_;
  // Readers: requests that use the selector or the pricer; writer: the switch.
  mutable absl::Mutex switch_mu_;
  mutable server_internal::DecisionMetrics decisions_;

  void RecordDecision(const v1::SelectAdsRequest& r, const absl::StatusOr<v1::SelectAdsResponse>& response) const {
    if (!response.ok()) {
      const bool rejected = absl::IsInvalidArgument(response.status()) || absl::IsNotFound(response.status());
      decisions_.RecordDecision(rejected ? DecisionOutcome::kRejected : DecisionOutcome::kFailed, 0, 0, 0, 0);
      return;
    }
    int paid = 0, house = 0, discount = 0;
    for (const v1::SelectedAd& ad : response->winners()) {
      // kind is one of ItemKindName()'s three words.
      (ad.kind() == "paid" ? paid : ad.kind() == "house" ? house : discount) += 1;
    }
    const int asked = r.count() == 0 ? 1 : r.count();
    const int won = response->winners_size();
    const DecisionOutcome outcome = won == 0        ? DecisionOutcome::kEmpty
                                    : won >= asked ? DecisionOutcome::kFilled
                                                   : DecisionOutcome::kPartial;
    decisions_.RecordDecision(outcome, paid, house, discount, std::max(0, asked - won));
  }
};

std::string DecisionServiceImpl::MetricsText() const {
  using server_internal::AppendFamilyHeader;
  using server_internal::EscapeLabelValue;
  using server_internal::FormatSampleValue;
  std::string out;
  decisions_.Render(&out);
  std::shared_ptr<const CompiledCatalog> snapshot = selector_->catalog();
  const absl::Time now = absl::Now();
  // Each paid ad's delivery next to where its pacing expects it now
  // (docs/pacing.md, "Need of Delivery": E = G * W(now) / W(end)). One series
  // per paid ad of the catalog, so the label set is bounded by the catalog.
  std::string delivered, expected, goal;
  for (const CompiledItem& item : snapshot->items()) {
    if (item.kind != ItemKind::kPaidAd) continue;
    const std::string labels = absl::StrCat("item_id=\"", EscapeLabelValue(item.id), "\",campaign_id=\"",
                                            EscapeLabelValue(item.campaign_id), "\",unit=\"",
                                            item.goal_clicks ? "clicks" : "requests", "\"");
    auto [requests, clicks] = selector_->Delivered(item.id);
    const CompiledSchedule& sc = item.schedule;
    const double elapsed = sc.DeliverableSecondsUntil(now, LocalTime::Of(now, snapshot->zones()[sc.zone]));
    const double fraction = sc.total_seconds > 0 ? std::min(1.0, elapsed / sc.total_seconds) : 1.0;
    absl::StrAppend(&delivered, "herald_paid_ad_delivered{", labels, "} ",
                    item.goal_clicks ? clicks : requests, "\n");
    absl::StrAppend(&expected, "herald_paid_ad_expected{", labels, "} ",
                    FormatSampleValue(static_cast<double>(item.goal) * fraction), "\n");
    absl::StrAppend(&goal, "herald_paid_ad_goal{", labels, "} ", item.goal, "\n");
  }
  AppendFamilyHeader("herald_paid_ad_delivered", "gauge",
                     "Each paid ad's delivery toward its goal (requests or clicks, see unit): the store's total at "
                     "the last counter refresh plus this server's since.",
                     &out);
  out += delivered;
  AppendFamilyHeader("herald_paid_ad_expected", "gauge",
                     "Each paid ad's expected delivery by now: goal times the share of its deliverable schedule "
                     "elapsed.",
                     &out);
  out += expected;
  AppendFamilyHeader("herald_paid_ad_goal", "gauge", "Each paid ad's goal (requests or clicks, see unit).", &out);
  out += goal;
  AppendFamilyHeader("herald_catalog_version", "gauge",
                     "The store's catalog version being served (herald catalog push); 0 for a catalog file.", &out);
  absl::StrAppend(&out, "herald_catalog_version ", serving_version_.load(), "\n");
  SelectorStats stats = selector_->Stats();
  AppendFamilyHeader("herald_delivery_flush_lag_seconds", "gauge",
                     "Time since delivery counters were last written to and reloaded from the store.", &out);
  absl::StrAppend(&out, "herald_delivery_flush_lag_seconds ",
                  FormatSampleValue(stats.counters_flushed == absl::InfinitePast()
                                        ? 0
                                        : absl::ToDoubleSeconds(now - stats.counters_flushed)),
                  "\n");
  AppendFamilyHeader("herald_event_queue_events", "gauge", "Events recorded in memory, waiting to be written.", &out);
  absl::StrAppend(&out, "herald_event_queue_events ", stats.events_queued, "\n");
  AppendFamilyHeader("herald_events_written_total", "counter", "Events written to the store.", &out);
  absl::StrAppend(&out, "herald_events_written_total ", stats.events_written, "\n");
  AppendFamilyHeader("herald_events_dropped_total", "counter",
                     "Events dropped because the queue was full (requests wait for room instead, so 0 unless "
                     "that changes).",
                     &out);
  absl::StrAppend(&out, "herald_events_dropped_total ", stats.events_dropped, "\n");
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DecisionService>> DecisionService::Create(const v1::ServerConfig& config,
                                                                         const Registry& registry) {
  auto signer = ClickSigner::FromConfig(config);
  if (!signer.ok()) return signer.status();
  auto service = std::make_unique<DecisionServiceImpl>(config, std::move(*signer));
  if (absl::Status s = service->Init(registry); !s.ok()) return s;
  return service;
}

}  // namespace herald
