// The built-in components of the selection pipeline (ads and discount ads).
// See herald/selection.h for the stages and docs/pacing.md for the formulas.
#include "core/component_factory.h"
#include "core/strings.h"
#include <algorithm>
#include <cstddef>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "core/catalog_schemas.h"
#include "csf/prepared_profile.h"
#include "csf/selection_state.h"
#include "herald/model/selection_config.pb.h"
#include "herald/selection.h"

namespace herald {

void SelectionContext::MultiplyScore(size_t i, double factor, std::string_view reason) {
  Candidate& c = candidates[i];
  c.score *= factor;
  if (trace != nullptr) {
    trace->Note(catalog->items()[c.item].id, factor == 0 ? "filtered" : "multiplier", reason,
                factor);
  }
}

void SelectionContext::RemoveZeroScores() {
  candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                  [](const Candidate& c) { return !(c.score > 0); }),
                   candidates.end());
}

const CompiledItem& SelectionContext::item(size_t candidate) const {
  return catalog->items()[candidates[candidate].item];
}

namespace {

using Comp = SelectionComponent;

template <typename Config, typename Impl>
std::unique_ptr<FactoryBase> Factory(std::string name, std::string description) {
  return internal::ComponentFactory<Comp, Config, Impl>(std::move(name), std::move(description));
}

using internal::ConfigError;

// ---------------------------------------------------------------- load_context

class LoadContext final : public Comp {
 public:
  double MaxScoreMultiplier(const SelectionContext&) const override { return 1; }
  static absl::StatusOr<std::unique_ptr<LoadContext>> Make(const v1::LoadContextConfig& config) {
    if (config.max_count() < 0) return ConfigError("LoadContext", "max_count must be >= 0");
    auto c = std::make_unique<LoadContext>();
    c->max_count_ = config.max_count() == 0 ? 20 : config.max_count();
    return c;
  }

  // The request resolved against the catalog into the request scratch: page
  // groups, size, local times, page history, targeting variables.
  ComponentContract Contract() const override { return {{}, {"request_state"}, {}}; }

  absl::Status Run(SelectionContext& ctx) const override {
    const SelectionRequest& req = *ctx.request;
    const CompiledCatalog& catalog = *ctx.catalog;
    if (req.count < 1 || req.count > max_count_) {
      return absl::InvalidArgumentError(
          Cat("count must be within 1..", max_count_, ", got ", req.count));
    }
    RequestScratch& s = ScratchOf(ctx);
    s.Reset(catalog);
    s.page_groups.clear();
    for (const std::string& pg : req.page_groups) {
      int32_t id = catalog.PageGroupId(pg);
      if (id < 0) return absl::InvalidArgumentError(Cat("unknown page group \"", pg, "\""));
      s.page_groups.push_back(id);
    }
    s.size = -1;
    if (!req.size.empty()) {
      s.size = catalog.SizeId(req.size);
      if (s.size < 0) return absl::InvalidArgumentError(Cat("unknown content size \"", req.size, "\""));
    }
    // Local time per zone, once per request.
    auto zones = catalog.zones();
    s.local.resize(zones.size());
    s.local_paced.resize(zones.size());
    for (size_t z = 0; z < zones.size(); ++z) {
      s.local[z] = LocalTime::Of(ctx.now, zones[z]);
      s.local_paced[z] = ctx.pacing_lead == absl::ZeroDuration()
                             ? s.local[z]
                             : LocalTime::Of(ctx.now + ctx.pacing_lead, zones[z]);
    }
    // Page history: the items, industries and customers already on the page.
    s.page_history_items.clear();
    s.page_history_industries.clear();
    s.page_history_customers.clear();
    for (const std::string& id : req.page_history) {
      const CompiledItem* item = catalog.FindItem(id);
      if (item == nullptr) continue;  // an item of an older catalog: nothing to exclude
      s.page_history_items.push_back(item->index);
      if (item->industry >= 0) s.page_history_industries.push_back(item->industry);
      if (item->customer >= 0) s.page_history_customers.push_back(item->customer);
    }
    // Targeting variables.
    const TargetingSchema& t = catalog.targeting();
    using Role = PreparedProfile::Role;
    LoadProfileSlots(t.user, req.prepared_user, Role::kUser, catalog.generation(), req.user,
                     &s.activation, &s.user_lists);
    LoadProfileSlots(t.context, req.prepared_context, Role::kContext, catalog.generation(),
                     req.context, &s.activation, &s.context_lists);
    s.activation.Set(t.now, expr::Value::Timestamp(ctx.now));
    return absl::OkStatus();
  }

 private:
  int max_count_ = 20;
};

// ---------------------------------------------------------------- LoadHistory

class LoadHistory final : public Comp {
 public:
  double MaxScoreMultiplier(const SelectionContext&) const override { return 1; }
  static absl::StatusOr<std::unique_ptr<LoadHistory>> Make(const v1::LoadHistoryConfig&) {
    return std::make_unique<LoadHistory>();
  }
  // Exposures count per local day and week: the request's local time.
  ComponentContract Contract() const override { return {{"request_state"}, {"history"}, {}}; }
  absl::Status Run(SelectionContext& ctx) const override {
    ctx.history.clear();
    ctx.exposures.clear();
    if (ctx.request->user_id.empty() && ctx.request->session_id.empty()) return absl::OkStatus();
    ctx.services->ReadHistory(ctx);
    if (ctx.trace != nullptr) {
      ctx.trace->Note("", "history",
                      Cat(ctx.history.size(), " recent items, ", ctx.exposures.size(),
                                   " with exposures"));
    }
    return absl::OkStatus();
  }
};

// ---------------------------------------------------------------- FilterContent

class FilterContent final : public Comp {
 public:
  double MaxScoreMultiplier(const SelectionContext&) const override { return 1; }
  static absl::StatusOr<std::unique_ptr<FilterContent>> Make(const v1::FilterContentConfig& config) {
    auto c = std::make_unique<FilterContent>();
    c->config_ = config;
    return c;
  }

  ComponentContract Contract() const override { return {{"request_state"}, {"candidates"}, {}}; }

  absl::Status Run(SelectionContext& ctx) const override {
    RequestScratch& s = ScratchOf(ctx);
    const CompiledCatalog& catalog = *ctx.catalog;
    const bool discounts = ctx.request->discounts;
    ctx.candidates.clear();
    // Items already on the page never come again.
    for (int32_t item : s.page_history_items) s.seen[item] = s.generation;
    auto consider = [&](std::span<const uint32_t> list) {
      for (uint32_t index : list) {
        if (s.seen[index] == s.generation) continue;
        s.seen[index] = s.generation;
        const CompiledItem& item = catalog.items()[index];
        std::string_view why = Reject(ctx, s, item);
        if (!why.empty()) {
          if (ctx.trace != nullptr) ctx.trace->Note(item.id, "filtered", why);
          continue;
        }
        ctx.candidates.push_back(Candidate{index, 1.0, 1.0});
      }
    };
    ctx.pruned = false;
    if (ctx.prune_limit > 0 && !ctx.exhaustive && !discounts && s.page_groups.size() <= 1) {
      EmitRanked(ctx, s);
    } else if (s.page_groups.empty()) {
      consider(discounts ? catalog.AllDiscounts() : catalog.AllAds());
    } else {
      for (int32_t pg : s.page_groups) {
        consider(discounts ? catalog.DiscountsOnPageGroup(pg) : catalog.AdsOnPageGroup(pg));
      }
      consider(discounts ? catalog.DiscountsOnEveryPage() : catalog.AdsOnEveryPage());
    }
    if (ctx.trace != nullptr) {
      ctx.trace->Note("", "candidates", Cat(ctx.candidates.size(), " after filtering"));
    }
    return absl::OkStatus();
  }

 private:
  // Emits every house ad and the paid ads in decreasing order of their bound
  // key, until prune_limit paid ads have passed the filters.
  void EmitRanked(SelectionContext& ctx, RequestScratch& s) const {
    const CompiledCatalog& catalog = *ctx.catalog;
    const RankedAds* ranked = &ctx.services->Ranked(ctx, s.page_groups.empty() ? -1 : s.page_groups[0]);
    auto emit = [&](uint32_t index) {
      if (s.seen[index] == s.generation) return false;
      s.seen[index] = s.generation;
      const CompiledItem& item = catalog.items()[index];
      std::string_view why = Reject(ctx, s, item);
      if (!why.empty()) {
        if (ctx.trace != nullptr) ctx.trace->Note(item.id, "filtered", why);
        return false;
      }
      ctx.candidates.push_back(Candidate{index, 1.0, 1.0});
      return true;
    };
    // The items are scattered in memory: ask for the ones the loop below
    // will most likely read first, so that their cache misses overlap.
    auto prefetch = [&](uint32_t index) {
      // The fields filtering and scoring read: the first two cache lines
      // (a third for schedules with days or hour windows).
      const CompiledItem& item = catalog.items()[index];
      static_assert(offsetof(CompiledItem, schedule) + offsetof(CompiledSchedule, cumulative_seconds) <= 128);
      __builtin_prefetch(&item);
      __builtin_prefetch(reinterpret_cast<const char*>(&item) + 64);
    };
    // The ranking carries each ad's size: ads of another size are passed
    // over without reading them (unless tracing, which says why).
    const bool any_size = config_.ignore_size() || s.size < 0 || ctx.trace != nullptr;
    auto fits = [&](const RankedAds::Entry& e) { return any_size || e.size < 0 || e.size == s.size; };
    for (uint32_t index : ranked->others) prefetch(index);
    for (size_t k = 0, asked = 0; k < ranked->paid.size() && asked < static_cast<size_t>(ctx.prune_limit + 4); ++k) {
      if (fits(ranked->paid[k])) {
        prefetch(ranked->paid[k].item);
        ++asked;
      }
    }
    for (uint32_t index : ranked->others) emit(index);
    int paid = 0;
    for (size_t k = 0; k < ranked->paid.size(); ++k) {
      const RankedAds::Entry& e = ranked->paid[k];
      if (paid == ctx.prune_limit) {
        // The best left-out ad that could have passed the size filter bounds
        // what the left-out ads could score.
        size_t j = k;
        while (j < ranked->paid.size() && !fits(ranked->paid[j])) ++j;
        if (j == ranked->paid.size()) break;  // nothing left out could be a candidate
        ctx.pruned = true;
        ctx.pruned_bound = ranked->paid[j].bound;
        if (ctx.trace != nullptr) {
          ctx.trace->Note("", "pruned",
                          Cat(ranked->paid.size() - k, " paid ads with a lower need-of-delivery bound left out"));
        }
        break;
      }
      if (fits(e)) paid += emit(e.item);
    }
  }

  std::string_view Reject(const SelectionContext& ctx, const RequestScratch& s,
                          const CompiledItem& item) const {
    if (!config_.ignore_size() && s.size >= 0 && item.size >= 0 && item.size != s.size) {
      return "size does not match";
    }
    if (!config_.ignore_schedule()) {
      const CompiledSchedule& sc = item.schedule;
      if (ctx.now < sc.start) return "schedule has not started";
      if (ctx.now >= sc.end) return "schedule has ended";
      if (!sc.AllDay() && !sc.OpenAt(s.local[sc.zone].weekday, s.local[sc.zone].minute())) {
        return "outside its days or hours";
      }
    }
    if (item.industry >= 0 &&
        std::find(s.page_history_industries.begin(), s.page_history_industries.end(),
                  item.industry) != s.page_history_industries.end()) {
      return "its industry is already on the page";
    }
    return {};
  }

  v1::FilterContentConfig config_;
};

// ---------------------------------------------------------------- ExposureLimit

class ExposureLimit final : public Comp {
 public:
  double MaxScoreMultiplier(const SelectionContext&) const override { return 1; }
  static absl::StatusOr<std::unique_ptr<ExposureLimit>> Make(const v1::ExposureLimitConfig&) {
    return std::make_unique<ExposureLimit>();
  }
  // Without the exposures LoadHistory reads, no limit would ever be enforced.
  ComponentContract Contract() const override { return {{"candidates", "history"}, {}, {}}; }
  absl::Status Run(SelectionContext& ctx) const override {
    if (ctx.exposures.empty()) return absl::OkStatus();
    for (size_t i = 0; i < ctx.candidates.size(); ++i) {
      const CompiledItem& item = ctx.item(i);
      if (item.exposure_limit <= 0 && !item.frequency_capped) continue;
      for (const Exposure& e : ctx.exposures) {
        if (e.item != item.index) continue;
        if (item.exposure_limit > 0 && e.count >= item.exposure_limit) {
          ctx.MultiplyScore(i, 0, ctx.trace ? Cat("exposure limit ", item.exposure_limit, " reached",
                                                  ctx.request->session_id.empty() ? "" : " in this session")
                                            : std::string());
        } else if (item.max_per_day > 0 && e.today >= item.max_per_day) {
          ctx.MultiplyScore(i, 0, ctx.trace ? Cat("frequency cap ", item.max_per_day, " a day reached")
                                            : std::string());
        } else if (item.max_per_week > 0 && e.this_week >= item.max_per_week) {
          ctx.MultiplyScore(i, 0, ctx.trace ? Cat("frequency cap ", item.max_per_week, " a week reached")
                                            : std::string());
        }
        break;
      }
    }
    ctx.RemoveZeroScores();
    return absl::OkStatus();
  }
};

// ---------------------------------------------------------------- NeedOfDelivery

// NOD = 1 + gain * (expected - delivered) / goal, where expected = goal *
// (deliverable time elapsed / deliverable time in all). 1 on schedule, above
// 1 behind, below 1 ahead; 0 once the goal is met (docs/pacing.md).
class NeedOfDelivery final : public Comp, public PacedScorer {
 public:
  double Nod(double expected, double delivered, double goal) const override {
    return std::clamp(1.0 + gain_ * (expected - delivered) / goal, 0.0, max_score_);
  }
  // Sets paid ads' scores to their NOD; the selector prunes knowing the formula.
  double MaxScoreMultiplier(const SelectionContext&) const override { return 1; }
  static absl::StatusOr<std::unique_ptr<NeedOfDelivery>> Make(const v1::NeedOfDeliveryConfig& config) {
    if (config.gain() < 0 || config.max_score() < 0) {
      return ConfigError("NeedOfDelivery", "gain and max_score must be >= 0");
    }
    auto c = std::make_unique<NeedOfDelivery>();
    c->gain_ = config.gain() == 0 ? 20 : config.gain();
    c->max_score_ = config.max_score() == 0 ? 100 : config.max_score();
    return c;
  }

  ComponentContract Contract() const override { return {{"candidates"}, {}, {}}; }

  absl::Status Run(SelectionContext& ctx) const override {
    RequestScratch& s = ScratchOf(ctx);
    // The candidates' counts and schedule days are scattered in memory: ask
    // for all of them first, so that the cache misses overlap.
    for (const Candidate& c : ctx.candidates) {
      const CompiledItem& item = ctx.catalog->items()[c.item];
      if (item.kind != ItemKind::kPaidAd) continue;
      ctx.services->PrefetchDelivery(ctx, c.item);
      const CompiledSchedule& sc = item.schedule;
      const int64_t day = s.local_paced[sc.zone].day - sc.first_day;
      if (!sc.all_day && day >= 0 && day < sc.days) __builtin_prefetch(&sc.cumulative_seconds[day]);
    }
    for (size_t i = 0; i < ctx.candidates.size(); ++i) {
      Candidate& c = ctx.candidates[i];
      const CompiledItem& item = ctx.catalog->items()[c.item];
      if (item.kind != ItemKind::kPaidAd) {
        c.initial = c.score = 1.0;
        continue;
      }
      DeliveryDetail d = ctx.services->Delivery(ctx, c.item);
      const bool clicks = item.goal_clicks;
      // Deliveries across servers: the store's total at the last refresh plus
      // this process's since, counted once per server (the others deliver
      // about as much meanwhile; alone, this is the exact count). With quota
      // leases the leases bound the goal, so this process's own count is
      // enough: counting it `servers` times would make a server that still
      // holds leased units think the goal met and leave them unused.
      const double confirmed = static_cast<double>(clicks ? d.confirmed.clicks : d.confirmed.requests);
      const double local = static_cast<double>(clicks ? d.local.clicks : d.local.requests);
      const int servers = ctx.quota_leases && !clicks ? 1 : ctx.servers;
      const double delivered = confirmed + local * servers;
      const double guarded = delivered;
      const double goal = static_cast<double>(item.goal);
      double nod = 0;
      double expected = 0;
      if (item.goal > 0 && guarded < goal) {
        const CompiledSchedule& sc = item.schedule;
        double elapsed = sc.DeliverableSecondsUntil(ctx.now + ctx.pacing_lead, s.local_paced[sc.zone]);
        double fraction = sc.total_seconds > 0 ? elapsed / sc.total_seconds : 1.0;
        expected = item.goal * fraction;
        nod = Nod(expected, delivered, goal);
      }
      if (ctx.trace != nullptr) {
        const char* unit = clicks ? "clicks" : "requests";
        std::string across =
            servers > 1 ? absl::StrFormat(" (estimated over %d servers: %.0f in the store, %.0f here since)",
                                          servers, confirmed, local)
            : ctx.quota_leases && !clicks ? absl::StrFormat(" (quota leases: %.0f in the store, %.0f here since)",
                                                            confirmed, local)
                            : "";
        std::string why = guarded >= goal
                              ? absl::StrFormat("goal of %d %s reached%s", item.goal, unit, across)
                              : absl::StrFormat("need of delivery: %.0f of %d %s delivered%s, %.1f expected by now",
                                                delivered, item.goal, unit, across, expected);
        ctx.trace->Note(item.id, nod > 0 ? "score" : "filtered", why, nod);
      }
      c.initial = c.score = nod;
    }
    ctx.RemoveZeroScores();
    return absl::OkStatus();
  }

 private:
  double gain_ = 20, max_score_ = 100;
};

// ---------------------------------------------------------------- DiscountPriority

// Discount ads: the smaller the priority number, the higher the score:
// score = 1 / (1 + step * rank), rank = position of the priority among the
// candidates' distinct priorities.
class DiscountPriority final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<DiscountPriority>> Make(const v1::DiscountPriorityConfig& config) {
    if (config.step() < 0) return ConfigError("DiscountPriority", "step must be >= 0");
    auto c = std::make_unique<DiscountPriority>();
    c->step_ = config.step() == 0 ? 0.1 : config.step();
    return c;
  }
  ComponentContract Contract() const override { return {{"candidates"}, {}, {}}; }
  absl::Status Run(SelectionContext& ctx) const override {
    std::vector<int32_t> priorities;
    for (const Candidate& c : ctx.candidates) priorities.push_back(ctx.catalog->items()[c.item].priority);
    std::sort(priorities.begin(), priorities.end());
    priorities.erase(std::unique(priorities.begin(), priorities.end()), priorities.end());
    for (size_t i = 0; i < ctx.candidates.size(); ++i) {
      Candidate& c = ctx.candidates[i];
      int32_t p = ctx.catalog->items()[c.item].priority;
      size_t rank = std::lower_bound(priorities.begin(), priorities.end(), p) - priorities.begin();
      c.initial = c.score = 1.0 / (1.0 + step_ * rank);
      if (ctx.trace != nullptr) {
        ctx.trace->Note(ctx.catalog->items()[c.item].id, "score",
                        Cat("priority ", p, " (rank ", rank + 1, ")"), c.score);
      }
    }
    return absl::OkStatus();
  }

 private:
  double step_ = 0.1;
};

// ---------------------------------------------------------------- HistoryPenalty

class HistoryPenalty final : public Comp {
 public:
  double MaxScoreMultiplier(const SelectionContext&) const override { return 1; }
  static absl::StatusOr<std::unique_ptr<HistoryPenalty>> Make(const v1::HistoryPenaltyConfig& config) {
    auto c = std::make_unique<HistoryPenalty>();
    c->window_ = config.window() == 0 ? 10 : config.window();
    c->most_ = config.most_recent() == 0 ? 0.5 : config.most_recent();
    c->least_ = config.least_recent() == 0 ? 0.9 : config.least_recent();
    if (c->window_ < 1 || c->most_ < 0 || c->least_ < 0 || c->most_ > 1 || c->least_ > 1) {
      return ConfigError("HistoryPenalty",
                         "window must be >= 1 and multipliers within 0..1");
    }
    return c;
  }
  // Without the history LoadHistory reads, nothing would ever be penalised.
  ComponentContract Contract() const override { return {{"candidates", "history"}, {}, {}}; }
  // The multiplier for an item last seen at history position `p` (0 = most recent).
  double Multiplier(size_t p) const {
    if (window_ == 1) return most_;
    return most_ + (least_ - most_) * static_cast<double>(p) / (window_ - 1);
  }
  absl::Status Run(SelectionContext& ctx) const override {
    size_t n = std::min<size_t>(ctx.history.size(), window_);
    if (n == 0) return absl::OkStatus();
    RequestScratch& s = ScratchOf(ctx);
    // Stamp each candidate with its position + 1 in the window (first occurrence).
    uint32_t stamp = s.NextGeneration();
    for (size_t p = 0; p < n; ++p) s.seen[ctx.history[p]] = stamp;
    for (size_t i = 0; i < ctx.candidates.size(); ++i) {
      uint32_t item = ctx.candidates[i].item;
      if (s.seen[item] != stamp) continue;
      size_t p = std::find(ctx.history.begin(), ctx.history.begin() + n, item) - ctx.history.begin();
      ctx.MultiplyScore(i, Multiplier(p),
                        ctx.trace ? Cat("history penalty: seen ", p + 1,
                                                 p == 0 ? " request ago" : " requests ago")
                                  : std::string());
    }
    return absl::OkStatus();
  }

 private:
  int window_ = 10;
  double most_ = 0.5, least_ = 0.9;
};

// ---------------------------------------------------------------- EvalTargetGroups

class EvalTargetGroups final : public Comp {
 public:
  // Its per-item bound (CompiledItem::max_target_multiplier) is part of the
  // selector's ranking bound already.
  double MaxScoreMultiplier(const SelectionContext&) const override { return 1; }
  static absl::StatusOr<std::unique_ptr<EvalTargetGroups>> Make(const v1::EvalTargetGroupsConfig&) {
    return std::make_unique<EvalTargetGroups>();
  }
  ComponentContract Contract() const override { return {{"candidates"}, {}, {}}; }

  absl::Status Run(SelectionContext& ctx) const override {
    RequestScratch& s = ScratchOf(ctx);
    auto groups = ctx.catalog->target_groups();
    bool any_sponsor = false;
    for (size_t i = 0; i < ctx.candidates.size(); ++i) {
      const CompiledItem& item = ctx.item(i);
      int32_t g = item.target_group;
      if (g < 0) continue;
      if (s.target_stamp[g] != s.generation || ctx.trace != nullptr) {
        Evaluate(ctx, s, groups[g], g);
      }
      // An ad is sponsored by its own group's matching SPONSOR entry (unless
      // it opts out); a candidate scored 0 here sponsors nothing.
      double m = s.target_multiplier[g];
      if (s.target_sponsor[g] && !item.sponsor_opt_out && m > 0) any_sponsor = true;
      if (m != 1.0) {
        ctx.MultiplyScore(i, m, ctx.trace ? Cat("target group \"", groups[g].id, "\"")
                                          : std::string());
      }
    }
    if (any_sponsor) {
      ctx.sponsored_only = true;
      for (size_t i = 0; i < ctx.candidates.size(); ++i) {
        if (!SponsoredFor(ctx, s, ctx.item(i))) {
          ctx.MultiplyScore(i, 0, "a sponsor target matched: only sponsored items stay");
        }
      }
    }
    ctx.RemoveZeroScores();
    return absl::OkStatus();
  }

 private:
  // Whether `item` stays eligible once some item is sponsored: its own
  // group's SPONSOR entry matched, or it is flagged `sponsored: true`.
  static bool SponsoredFor(const SelectionContext&, const RequestScratch& s, const CompiledItem& item) {
    if (item.sponsored) return true;
    const int32_t g = item.target_group;
    return g >= 0 && !item.sponsor_opt_out && s.target_stamp[g] == s.generation && s.target_sponsor[g];
  }

  // Evaluates every entry of group `g` once per request.
  void Evaluate(SelectionContext& ctx, RequestScratch& s, const CompiledTargetGroup& group,
                int32_t g) const {
    double multiplier = 1.0;
    bool sponsor = false;
    for (const CompiledTargetEntry& e : group.entries) {
      expr::Value error;
      bool match = e.program.Matches(s.activation, &error);
      double m = 1.0;
      switch (e.action) {
        case v1::TARGET_ACTION_REQUIRE: m = match ? 1.0 : 0.0; break;
        case v1::TARGET_ACTION_EXCLUDE: m = match ? 0.0 : 1.0; break;
        case v1::TARGET_ACTION_SPONSOR: sponsor = sponsor || match; break;
        default: m = match ? e.boost : 1.0; break;
      }
      multiplier *= m;
      if (ctx.trace != nullptr) {
        std::string why = Cat(
            "target group \"", group.id, "\" ", v1::TargetAction_Name(e.action), " `", e.source,
            "` ", match ? "matched" : "did not match");
        if (error.is_error()) CatTo(why, ": ", e.program.DescribeError(error));
        ctx.trace->Note("", "target", why, m);
      }
    }
    s.target_stamp[g] = s.generation;
    s.target_multiplier[g] = multiplier;
    s.target_sponsor[g] = sponsor;
  }
};

// ---------------------------------------------------------------- DiscountEligibility

// Discount ads: drops discounts whose eligibility expression (over user,
// context and now) is not true; an error value counts as not eligible.
class DiscountEligibility final : public Comp {
 public:
  double MaxScoreMultiplier(const SelectionContext&) const override { return 1; }
  static absl::StatusOr<std::unique_ptr<DiscountEligibility>> Make(const v1::DiscountEligibilityConfig&) {
    return std::make_unique<DiscountEligibility>();
  }
  ComponentContract Contract() const override { return {{"candidates"}, {}, {}}; }
  absl::Status Run(SelectionContext& ctx) const override {
    RequestScratch& s = ScratchOf(ctx);
    for (size_t i = 0; i < ctx.candidates.size(); ++i) {
      const CompiledItem& item = ctx.item(i);
      if (!item.has_eligibility) continue;
      expr::Value error;
      if (item.eligibility.Matches(s.activation, &error)) continue;
      ctx.MultiplyScore(i, 0, ctx.trace == nullptr ? std::string()
                              : error.is_error()
                                  ? Cat("not eligible: ", item.eligibility.DescribeError(error))
                                  : Cat("not eligible: `", item.eligibility.source(), "` is false"));
    }
    ctx.RemoveZeroScores();
    return absl::OkStatus();
  }
};

// ---------------------------------------------------------------- SelectWinners

class SelectWinners final : public Comp {
 public:
  double MaxScoreMultiplier(const SelectionContext&) const override { return 1; }
  static absl::StatusOr<std::unique_ptr<SelectWinners>> Make(const v1::SelectWinnersConfig& config) {
    if (config.house_threshold() < 0) return ConfigError("SelectWinners", "house_threshold must be >= 0");
    auto c = std::make_unique<SelectWinners>();
    c->threshold_ = config.house_threshold() == 0 ? 0.95 : config.house_threshold();
    // Declared competitors are excluded unless the pipeline says otherwise.
    c->exclude_competitors_ = !config.has_exclude_competitors() || config.exclude_competitors();
    c->config_ = config;
    return c;
  }

  ComponentContract Contract() const override { return {{"candidates"}, {"winners"}, {}}; }

  absl::Status Run(SelectionContext& ctx) const override {
    RequestScratch& s = ScratchOf(ctx);
    const CompiledCatalog& catalog = *ctx.catalog;
    const int want = ctx.request->count;
    ctx.winners.clear();
    ctx.house_slots = ctx.empty_slots = 0;
    ctx.empty_reason = EmptySlotReason::kNone;
    // Paid (or generic) candidates by score, best first; ties by catalog order.
    s.order.clear();
    double best_nod = 0;
    bool any_paid = false;
    for (uint32_t i = 0; i < ctx.candidates.size(); ++i) {
      const Candidate& c = ctx.candidates[i];
      ItemKind kind = catalog.items()[c.item].kind;
      if (kind == ItemKind::kHouseAd) continue;
      if (kind == ItemKind::kPaidAd) {
        any_paid = true;
        best_nod = std::max(best_nod, c.initial);
        if (c.initial < threshold_) {
          if (ctx.trace) ctx.trace->Note(catalog.items()[c.item].id, "passed",
                                         absl::StrFormat("need of delivery %.3f is below the house threshold %.2f", c.initial, threshold_));
          continue;
        }
      }
      s.order.push_back(i);
    }
    // A heap, not a sort: a page wants a few winners out of hundreds of
    // candidates, so only those taken (and any refused for a conflict) are
    // ordered. The order is total (ties by catalog order), so the winners are
    // those of a full sort.
    const auto ranks_below = [&](uint32_t a, uint32_t b) {
      const Candidate& x = ctx.candidates[a];
      const Candidate& y = ctx.candidates[b];
      return x.score != y.score ? x.score < y.score : x.item > y.item;
    };
    std::make_heap(s.order.begin(), s.order.end(), ranks_below);
    for (auto end = s.order.end(); end != s.order.begin() && static_cast<int>(ctx.winners.size()) < want; --end) {
      std::pop_heap(s.order.begin(), end, ranks_below);
      TryAdd(ctx, s, ctx.candidates[*(end - 1)], "highest score");
    }
    if (ctx.pruned && !ProvenWithoutPruned(ctx)) {
      // Not an error: the run ends here (no record, no format) and the
      // selector runs the request again with more candidates.
      ctx.needs_exhaustive = true;
      ctx.end_run = true;
      if (ctx.trace != nullptr) {
        ctx.trace->Note("", "widen", "left-out candidates could hold a better winner; ending the run");
      }
      return absl::OkStatus();
    }
    // House ads fill what is left, drawn by weight x score.
    ctx.house_slots = want - static_cast<int>(ctx.winners.size());
    while (static_cast<int>(ctx.winners.size()) < want) {
      s.weights.clear();
      s.order.clear();
      double total = 0;
      for (uint32_t i = 0; i < ctx.candidates.size(); ++i) {
        const Candidate& c = ctx.candidates[i];
        const CompiledItem& item = catalog.items()[c.item];
        if (item.kind != ItemKind::kHouseAd || Conflicts(ctx, s, item) != nullptr) continue;
        double w = item.weight * c.score;
        if (!(w > 0)) continue;
        s.order.push_back(i);
        total += w;
        s.weights.push_back(total);
      }
      if (s.order.empty()) break;
      double r = std::uniform_real_distribution<double>(0.0, total)(s.rng);
      size_t k = std::upper_bound(s.weights.begin(), s.weights.end(), r) - s.weights.begin();
      if (k >= s.order.size()) k = s.order.size() - 1;
      std::string why;
      if (ctx.trace != nullptr) {
        why = !any_paid          ? std::string("house ad by weight (no paid ad eligible)")
              : best_nod < threshold_
                  ? absl::StrFormat("house ad by weight (best paid need of delivery %.3f < %.2f)",
                                    best_nod, threshold_)
                  : std::string("house ad by weight (no other paid ad could take the slot)");
      }
      TryAdd(ctx, s, ctx.candidates[s.order[k]], why);
    }
    if (static_cast<int>(ctx.winners.size()) < want) {  // rare: say why, for the reports
      ctx.empty_slots = want - static_cast<int>(ctx.winners.size());
      ctx.empty_reason = WhyEmpty(ctx, s);
      if (ctx.trace != nullptr) {
        ctx.trace->Note("", "empty", Cat(ctx.empty_slots, " slots left empty: ", EmptySlotReasonName(ctx.empty_reason)));
      }
    }
    if (ctx.trace != nullptr) {
      ctx.trace->Note("", "winners", Cat(ctx.winners.size(), " of ", want, " requested"));
    }
    return absl::OkStatus();
  }

 private:
  // Whether the paid ads FilterContent left out could not have changed the
  // winners: every left-out ad scores at most pruned_bound x the components'
  // largest multiplier. With every slot taken by a paid ad
  // scoring above the bound, they rank below all winners; with slots left
  // for house ads, their NOD must be below the house threshold.
  bool ProvenWithoutPruned(SelectionContext& ctx) const {
    double bound = ctx.pruned_bound * ctx.max_multiplier;
    if (static_cast<int>(ctx.winners.size()) >= ctx.request->count) {
      const uint32_t last = ctx.winners.back();
      for (const Candidate& c : ctx.candidates) {
        if (c.item == last) return c.score > bound;
      }
      return false;
    }
    // NOD <= NOD x boost <= pruned_bound for every left-out ad.
    return ctx.pruned_bound < threshold_;
  }

  // Why no house ad could fill the slots still empty. Runs only then.
  EmptySlotReason WhyEmpty(const SelectionContext& ctx, const RequestScratch& s) const {
    const CompiledCatalog& catalog = *ctx.catalog;
    bool any_house = false;
    for (const Candidate& c : ctx.candidates) {
      const CompiledItem& item = catalog.items()[c.item];
      if (item.kind != ItemKind::kHouseAd || !(item.weight * c.score > 0)) continue;
      any_house = true;
      const char* conflict = Conflicts(ctx, s, item);
      if (conflict != nullptr && std::string_view(conflict) != "already a winner") {
        return EmptySlotReason::kIndustryConflict;
      }
    }
    // House ads of this size that FilterContent dropped for the page history.
    auto fits = [&](const CompiledItem& item) {
      return item.kind == ItemKind::kHouseAd && (s.size < 0 || item.size < 0 || item.size == s.size);
    };
    for (int32_t index : s.page_history_items) {
      if (fits(catalog.items()[index])) return EmptySlotReason::kPageHistory;
    }
    if (!s.page_history_industries.empty()) {
      auto industry_on_page = [&](std::span<const uint32_t> list) {
        for (uint32_t index : list) {
          const CompiledItem& item = catalog.items()[index];
          if (fits(item) && item.industry >= 0 &&
              std::find(s.page_history_industries.begin(), s.page_history_industries.end(), item.industry) !=
                  s.page_history_industries.end()) {
            return true;
          }
        }
        return false;
      };
      if (industry_on_page(catalog.AdsOnEveryPage())) return EmptySlotReason::kPageHistory;
      for (int32_t pg : s.page_groups) {
        if (industry_on_page(catalog.AdsOnPageGroup(pg))) return EmptySlotReason::kPageHistory;
      }
      if (s.page_groups.empty() && industry_on_page(catalog.AllAds())) return EmptySlotReason::kPageHistory;
    }
    return any_house ? EmptySlotReason::kAllShown : EmptySlotReason::kNoHouseAd;
  }

  // Why `item` cannot join the winners, or null when it can.
  const char* Conflicts(const SelectionContext& ctx, const RequestScratch& s,
                        const CompiledItem& item) const {
    const CompiledCatalog& catalog = *ctx.catalog;
    for (uint32_t w : ctx.winners) {
      const CompiledItem& other = catalog.items()[w];
      if (other.index == item.index) return "already a winner";
      if (!config_.allow_same_industry() && item.industry >= 0 && other.industry == item.industry) {
        return "a winner has the same industry";
      }
      if (exclude_competitors_ && item.customer >= 0 && other.customer >= 0) {
        const auto& rivals = catalog.competitors()[item.customer];
        if (std::binary_search(rivals.begin(), rivals.end(), other.customer)) {
          return "a winner is from a competing customer";
        }
      }
    }
    if (exclude_competitors_ && item.customer >= 0) {
      const auto& rivals = catalog.competitors()[item.customer];
      for (int32_t customer : s.page_history_customers) {
        if (std::binary_search(rivals.begin(), rivals.end(), customer)) {
          return "a competing customer is already on the page";
        }
      }
    }
    return nullptr;
  }

  void TryAdd(SelectionContext& ctx, RequestScratch& s, const Candidate& c,
              const std::string& why) const {
    const CompiledItem& item = ctx.catalog->items()[c.item];
    if (const char* conflict = Conflicts(ctx, s, item)) {
      if (ctx.trace != nullptr) ctx.trace->Note(item.id, "excluded", conflict);
      return;
    }
    if (item.kind == ItemKind::kPaidAd && !ctx.services->TakeQuota(ctx, c.item)) {
      if (ctx.trace != nullptr) {
        ctx.trace->Note(item.id, "excluded", "no request quota leased to this server right now (quota leases)");
      }
      return;
    }
    ctx.winners.push_back(c.item);
    if (ctx.trace != nullptr) ctx.trace->Note(item.id, "winner", why, c.score);
  }

  double threshold_ = 0.95;
  bool exclude_competitors_ = true;
  v1::SelectWinnersConfig config_;
};

// ---------------------------------------------------------------- RecordHistory

class RecordHistory final : public Comp {
 public:
  double MaxScoreMultiplier(const SelectionContext&) const override { return 1; }
  static absl::StatusOr<std::unique_ptr<RecordHistory>> Make(const v1::RecordHistoryConfig& config) {
    if (config.history_size() < 0) return ConfigError("RecordHistory", "history_size must be >= 0");
    auto c = std::make_unique<RecordHistory>();
    c->size_ = config.history_size() == 0 ? 35 : config.history_size();
    return c;
  }
  ComponentContract Contract() const override { return {{"winners"}, {}, {}}; }
  absl::Status Run(SelectionContext& ctx) const override {
    if (!ctx.request->record || ctx.winners.empty()) return absl::OkStatus();
    if (ctx.request->user_id.empty() && ctx.request->session_id.empty()) return absl::OkStatus();
    ctx.services->AddToHistory(ctx, size_);
    return absl::OkStatus();
  }

 private:
  int size_ = 35;
};

// ---------------------------------------------------------------- RecordEvent

class RecordEvent final : public Comp {
 public:
  double MaxScoreMultiplier(const SelectionContext&) const override { return 1; }
  static absl::StatusOr<std::unique_ptr<RecordEvent>> Make(const v1::RecordEventConfig&) {
    return std::make_unique<RecordEvent>();
  }
  ComponentContract Contract() const override { return {{"winners"}, {}, {}}; }
  absl::Status Run(SelectionContext& ctx) const override {
    if (!ctx.request->record) return absl::OkStatus();
    const SelectionRequest& req = *ctx.request;
    EventView event;
    event.type = v1::EVENT_TYPE_REQUEST;
    event.time = ctx.now;
    event.user_id = req.user_id;
    event.session_id = req.session_id;
    if (!req.page_groups.empty()) event.page_group = req.page_groups.front();
    // House ads carry their draw ("house:<k>:<size>") so that the house-ad
    // fill report knows how many slots each draw filled (events.proto).
    std::string& tag = ScratchOf(ctx).event_tag;
    if (ctx.house_slots > 0) {
      tag.clear();
      { const absl::AlphaNum k(ctx.house_slots); tag.append("house:").append(k.data(), k.size()).append(":").append(req.size); }
    }
    for (uint32_t w : ctx.winners) {
      const CompiledItem& item = ctx.catalog->items()[w];
      event.item_id = item.id;
      event.campaign_id = item.campaign_id;
      event.custom_name = item.kind == ItemKind::kHouseAd && ctx.house_slots > 0 ? std::string_view(tag)
                                                                                  : std::string_view();
      ctx.services->RecordItemEvent(ctx, event, w);
    }
    if (ctx.empty_slots > 0) {
      tag.clear();
      tag.append(EmptySlotReasonName(ctx.empty_reason)).append(":");
      { const absl::AlphaNum k(ctx.house_slots); tag.append(k.data(), k.size()).append(":").append(req.size); }
      event.type = v1::EVENT_TYPE_EMPTY_SLOT;
      event.count = ctx.empty_slots;
      event.item_id = {};
      event.campaign_id = {};
      event.custom_name = tag;
      ctx.services->RecordItemEvent(ctx, event, kNoItem);
    }
    return absl::OkStatus();
  }
};

// ---------------------------------------------------------------- FormatTemplate

void AppendHtmlEscaped(std::string_view in, std::string* out) {
  for (char c : in) {
    switch (c) {
      case '&': out->append("&amp;"); break;
      case '<': out->append("&lt;"); break;
      case '>': out->append("&gt;"); break;
      case '"': out->append("&quot;"); break;
      case '\'': out->append("&#39;"); break;
      default: out->push_back(c);
    }
  }
}

class FormatTemplate final : public Comp {
 public:
  double MaxScoreMultiplier(const SelectionContext&) const override { return 1; }
  static absl::StatusOr<std::unique_ptr<FormatTemplate>> Make(const v1::FormatTemplateConfig& config) {
    auto c = std::make_unique<FormatTemplate>();
    c->config_ = config;
    return c;
  }

  ComponentContract Contract() const override { return {{"winners"}, {"results"}, {}}; }

  // Replaces {{name}} placeholders; values are HTML-escaped; unknown names become empty.
  using Fields = std::vector<std::pair<std::string_view, std::string_view>>;
  static std::string Render(std::string_view tmpl, const Fields& fields) {
    std::string out;
    out.reserve(tmpl.size() + 64);
    size_t pos = 0;
    while (pos < tmpl.size()) {
      size_t open = tmpl.find("{{", pos);
      if (open == std::string_view::npos) break;
      size_t close = tmpl.find("}}", open + 2);
      if (close == std::string_view::npos) break;
      out.append(tmpl.substr(pos, open - pos));
      std::string_view name = tmpl.substr(open + 2, close - open - 2);
      while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
      while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
      for (const auto& [key, value] : fields) {
        if (key == name) {
          AppendHtmlEscaped(value, &out);
          break;
        }
      }
      pos = close + 2;
    }
    out.append(tmpl.substr(pos));
    return out;
  }

  // An item's output depends only on the item and this component's config,
  // so each request scratch renders it once per catalog snapshot and copies
  // it afterwards.
  absl::Status Run(SelectionContext& ctx) const override {
    RequestScratch& s = ScratchOf(ctx);
    ctx.results.clear();
    ctx.results.reserve(ctx.winners.size());
    RequestScratch::RenderedItems* cache = nullptr;
    for (auto& r : s.rendered) {
      if (r.owner == this) cache = &r;
    }
    if (cache == nullptr) {
      cache = &s.rendered.emplace_back();
      cache->owner = this;
    }
    if (cache->generation != ctx.catalog->generation()) {
      cache->generation = ctx.catalog->generation();
      cache->items.clear();
      cache->items.resize(ctx.catalog->items().size());
    }
    // The winners' rendered items are cold. Ask for all of them first: each
    // result's reference count is a locked instruction, which would
    // otherwise take their cache misses one after another. (make_shared puts
    // the counts just before the item, hence from p - 16.)
    for (uint32_t w : ctx.winners) {
      if (const RenderedItem* r = cache->items[w].get()) {
        const char* p = reinterpret_cast<const char*>(r);
        for (const char* q = p - 16; q < p + sizeof(RenderedItem); q += 64) __builtin_prefetch(q);
        __builtin_prefetch(p + sizeof(RenderedItem) - 1);
      }
    }
    for (uint32_t w : ctx.winners) {
      std::shared_ptr<const RenderedItem>& rendered = cache->items[w];
      if (rendered == nullptr) rendered = std::make_shared<const RenderedItem>(RenderItem(ctx, w));
      double score = 0;
      for (const Candidate& c : ctx.candidates) {
        if (c.item == w) score = c.score;
      }
      ctx.results.emplace_back(rendered, score);
    }
    return absl::OkStatus();
  }

 private:
  RenderedItem RenderItem(SelectionContext& ctx, uint32_t w) const {
    RequestScratch& s = ScratchOf(ctx);
    {
      const CompiledItem& item = ctx.catalog->items()[w];
      const v1::Display& d = item.proto->has_ad() ? item.proto->ad().display()
                                                  : item.proto->discount().display();
      RenderedItem out;
      out.item_id = item.id;
      out.name = item.name;
      out.campaign_id = item.campaign_id;
      out.kind = std::string(ItemKindName(item.kind));
      out.image_url = d.image_url();
      out.text = d.text();
      out.click_url = config_.click_redirect().empty()
                          ? d.click_url()
                          : Render(config_.click_redirect(), Fields{{"id", item.id}});
      Fields& fields = s.fields;
      fields.assign({{"id", item.id},
                     {"name", item.name},
                     {"image_url", d.image_url()},
                     {"target_url", d.click_url()},
                     {"text", d.text()},
                     {"alt_text", d.alt_text()},
                     {"campaign", item.campaign_id},
                     {"click_url", out.click_url}});
      for (const auto& [key, value] : d.fields()) fields.emplace_back(key, value);
      std::string tmpl = d.template_();
      v1::DisplayType type = d.type();
      if (type == v1::DISPLAY_TYPE_UNSPECIFIED) {  // inferred from what the display has
        type = !d.html().empty()        ? v1::DISPLAY_TYPE_HTML
               : d.image_url().empty() && !d.text().empty() ? v1::DISPLAY_TYPE_TEXT
                                                            : v1::DISPLAY_TYPE_IMAGE;
      }
      if (tmpl.empty()) {
        switch (type) {
          case v1::DISPLAY_TYPE_HTML: out.html = d.html(); break;
          case v1::DISPLAY_TYPE_TEXT: tmpl = "<a href=\"{{click_url}}\">{{text}}</a>"; break;
          case v1::DISPLAY_TYPE_NON_CLICKABLE_IMAGE: tmpl = "<img src=\"{{image_url}}\" alt=\"{{alt_text}}\">"; break;
          case v1::DISPLAY_TYPE_VIGNETTE:
            tmpl = "<a href=\"{{click_url}}\"><img src=\"{{image_url}}\" alt=\"{{alt_text}}\"></a> <span>{{text}}</span>";
            break;
          default: tmpl = "<a href=\"{{click_url}}\"><img src=\"{{image_url}}\" alt=\"{{alt_text}}\"></a>";
        }
      }
      if (!tmpl.empty()) out.html = Render(tmpl, fields);
      return out;
    }
  }

  v1::FormatTemplateConfig config_;
};

}  // namespace

void RegisterSelectionComponents(Registry* registry) {
  registry->RegisterIfAbsent(Factory<v1::LoadContextConfig, LoadContext>(
      "LoadContext", "reads the request: page groups, size, count, time, profile (InitCSFPipeline)"));
  registry->RegisterIfAbsent(Factory<v1::LoadHistoryConfig, LoadHistory>(
      "LoadHistory", "loads the user's recent items and exposures"));
  registry->RegisterIfAbsent(Factory<v1::FilterContentConfig, FilterContent>(
      "FilterContent", "drops items by the page-group and size indexes, schedule and page history"));
  registry->RegisterIfAbsent(Factory<v1::ExposureLimitConfig, ExposureLimit>(
      "ExposureLimit", "drops items the user has seen as often as their exposure limit (per session) or daily or weekly cap"));
  registry->RegisterIfAbsent(Factory<v1::NeedOfDeliveryConfig, NeedOfDelivery>(
      "NeedOfDelivery", "paid ads start at their Need of Delivery; others at 1 (AdvertisingNeedOfDelivery)"));
  registry->RegisterIfAbsent(Factory<v1::DiscountPriorityConfig, DiscountPriority>(
      "DiscountPriority", "discount ads score by priority, smaller first (ScoreDiscounts)"));
  registry->RegisterIfAbsent(Factory<v1::HistoryPenaltyConfig, HistoryPenalty>(
      "HistoryPenalty", "penalises recently seen items, 0.5 rising to 0.9 over the last 10"));
  registry->RegisterIfAbsent(Factory<v1::EvalTargetGroupsConfig, EvalTargetGroups>(
      "EvalTargetGroups", "multiplies scores by the items' target groups (require, exclude, target, sponsor)"));
  registry->RegisterIfAbsent(Factory<v1::DiscountEligibilityConfig, DiscountEligibility>(
      "DiscountEligibility", "drops discount ads whose eligibility is not met by the user and context"));
  registry->RegisterIfAbsent(Factory<v1::SelectWinnersConfig, SelectWinners>(
      "SelectWinners", "paid by score, house by weight; one per industry and competitor"));
  registry->RegisterIfAbsent(Factory<v1::RecordHistoryConfig, RecordHistory>(
      "RecordHistory", "adds the winners to the user's history"));
  registry->RegisterIfAbsent(Factory<v1::RecordEventConfig, RecordEvent>(
      "RecordEvent", "counts delivery and records request events"));
  registry->RegisterIfAbsent(Factory<v1::FormatTemplateConfig, FormatTemplate>(
      "FormatTemplate", "merges the winners' fields into their display templates"));
}

}  // namespace herald
