// The built-in components of the basket pipeline (OrderDiscount). See
// herald/discount.h for the stages and docs/discounts.md for the rules.
#include "core/component_factory.h"
#include "core/strings.h"

#include <algorithm>
#include <bit>

#include "absl/time/clock.h"
#include "core/catalog_schemas.h"
#include "discount/work.h"
#include "herald/campaign_cache.h"
#include "herald/discount.h"
#include "herald/model/discount_config.pb.h"
#include "herald/store.h"

namespace herald {

int WeekdayIndex(absl::CivilDay day);  // lib/csf/compiled_catalog.cc

namespace {

using discount_internal::BasketWork;
using discount_internal::DiscountGate;
using discount_internal::PreparedDiscount;
using discount_internal::PreparedDiscounts;
using discount_internal::Role;
using discount_internal::UnitState;
using Comp = BasketComponent;

template <typename Config, typename Impl>
std::unique_ptr<FactoryBase> Factory(std::string name, std::string description) {
  return internal::ComponentFactory<Comp, Config, Impl>(std::move(name), std::move(description));
}

using internal::ConfigError;

absl::Status NeedsWork(const BasketContext& ctx, std::string_view component) {
  if (ctx.work == nullptr || ctx.work->prepared == nullptr) {
    return absl::FailedPreconditionError(Cat(component, ": runs only inside BasketPricer::Price"));
  }
  return absl::OkStatus();
}

std::string_view KindName(v1::OfferKind kind) {
  switch (kind) {
    case v1::OFFER_KIND_PERCENT_OFF: return "percent off";
    case v1::OFFER_KIND_AMOUNT_OFF: return "amount off";
    case v1::OFFER_KIND_FIXED_PRICE: return "fixed price";
    case v1::OFFER_KIND_FREE_SHIPPING: return "free shipping";
    case v1::OFFER_KIND_SHIPPING_PERCENT_OFF: return "shipping percent off";
    case v1::OFFER_KIND_ORDER_PERCENT_OFF: return "order percent off";
    case v1::OFFER_KIND_ORDER_AMOUNT_OFF: return "order amount off";
    default: return "unknown offer";
  }
}

// ---------------------------------------------------------------- eligibility

// The discount's requirements: schedule, click, coupon, offer currency and
// the eligibility expression over user, context and now. Only the discounts
// the relevance index picks for the basket's lines are checked (every one
// when tracing, so that the explanation covers the whole catalog).
class CheckEligibility final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<CheckEligibility>> Make(const v1::CheckEligibilityConfig& config) {
    if (config.max_coupon_codes() < 0) return ConfigError("CheckEligibility", "max_coupon_codes must be >= 0");
    auto c = std::make_unique<CheckEligibility>();
    c->config_ = config;
    c->max_codes_ = config.max_coupon_codes() == 0 ? 20 : config.max_coupon_codes();
    return c;
  }

  ComponentContract Contract() const override { return {{}, {"candidates"}, {}}; }

  absl::Status Run(BasketContext& ctx) const override {
    if (auto s = NeedsWork(ctx, "CheckEligibility"); !s.ok()) return s;
    BasketWork& w = *ctx.work;
    const PreparedDiscounts& p = *w.prepared;
    const v1::Basket& basket = *ctx.basket;
    if (basket.coupon_codes_size() > max_codes_) {
      return absl::InvalidArgumentError(
          Cat("basket: ", basket.coupon_codes_size(), " coupon codes; at most ", max_codes_, " are allowed"));
    }
    const TargetingSchema& t = ctx.catalog->targeting();
    expr::Activation& act = *w.targeting_activation;
    FillProfileSlots(t.user, &basket.user(), &act, &w.user_lists);
    FillProfileSlots(t.context, &basket.context(), &act, &w.context_lists);
    act.Set(t.now, expr::Value::Timestamp(ctx.now));
    size_t n = p.discounts.size();
    if (w.coupon_of.size() != n) w.coupon_of.assign(n, -1);
    w.candidates.clear();
    LocalClock clock(*ctx.catalog, ctx.now);
    Scan scan{clock, discount_internal::CurrencyKey(ctx.currency), !config_.ignore_schedule(), ctx.trace != nullptr};
    absl::Status error;
    if (scan.tracing) {
      // Every discount, so that the trace says why each one is out.
      for (uint32_t i = 0; i < n; ++i) {
        if (!Check(ctx, scan, i, &error)) return error;
      }
    } else {
      // The memo's discounts, narrowed by the relevance index, in index
      // (priority) order; only the rechecked ones go through Check.
      const std::vector<uint64_t>& admitted = Memo(ctx, scan.currency_key);
      bool relevance = !config_.disable_index() && MarkRelevant(ctx);
      for (size_t word = 0; word < admitted.size(); ++word) {
        uint64_t bits = admitted[word] & (relevance ? w.relevant[word] : ~uint64_t{0});
        for (; bits != 0; bits &= bits - 1) {
          uint32_t i = static_cast<uint32_t>(word * 64 + std::countr_zero(bits));
          if ((p.rechecked[word] >> (i % 64)) & 1) {
            if (!Check(ctx, scan, i, &error)) return error;
          } else {
            w.coupon_of[i] = -1;
            w.candidates.push_back(i);
          }
        }
      }
    }
    if (scan.tracing) {
      for (const std::string& code : basket.coupon_codes()) {
        if (p.discount_by_code.find(code) == p.discount_by_code.end()) {
          ctx.Note(Cat("coupon ", code), "skipped", "matches no discount");
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  // The weekday and minute of `now` in each of the catalog's time zones.
  class LocalClock {
   public:
    LocalClock(const CompiledCatalog& catalog, absl::Time now) {
      auto zones = catalog.zones();
      for (size_t z = 0; z < zones.size(); ++z) {
        absl::CivilSecond cs = absl::ToCivilSecond(now, zones[z]);
        int wd = WeekdayIndex(absl::CivilDay(cs)), m = cs.hour() * 60 + cs.minute();
        if (z < 8) {
          weekday_[z] = wd;
          minute_[z] = m;
        } else {
          more_.emplace_back(wd, m);
        }
      }
    }
    bool Open(const CompiledSchedule& hours) const {
      size_t z = static_cast<size_t>(hours.zone);
      return z < 8 ? hours.OpenAt(weekday_[z], minute_[z]) : hours.OpenAt(more_[z - 8].first, more_[z - 8].second);
    }

   private:
    int weekday_[8] = {}, minute_[8] = {};
    std::vector<std::pair<int, int>> more_;  // zones past the eighth (rare)
  };

  // What one call's checks share.
  struct Scan {
    const LocalClock& clock;
    uint64_t currency_key;  // the basket's currency, packed
    bool check_schedule;
    bool tracing;
  };

  // Whether discount i becomes a candidate (added to w.candidates) or not;
  // false only on a store error, in *error. The common case (in schedule,
  // nothing else to check) stays inline and trace-free; what has more to
  // check goes to AdmitFurther, which notes its reasons when tracing.
  [[gnu::always_inline]] bool Check(BasketContext& ctx, const Scan& scan, uint32_t i, absl::Status* error) const {
    BasketWork& w = *ctx.work;
    const PreparedDiscounts& p = *w.prepared;
    const DiscountGate& g = p.gates[i];
    w.coupon_of[i] = -1;
    if (scan.check_schedule &&
        (ctx.now < g.start || ctx.now >= g.end || (g.hours != nullptr && !scan.clock.Open(*g.hours)))) {
      if (scan.tracing) ctx.Note(p.discounts[i].id, "skipped", ScheduleMiss(g, ctx.now));
      return true;
    }
    bool only_currency = !g.click_required && !g.needs_coupon && g.eligibility == nullptr && !g.any_currency &&
                         g.currency_key != 0 && scan.currency_key != 0;
    if (!(only_currency && g.currency_key == scan.currency_key) &&  // packed: compared inline
        (g.click_required || g.needs_coupon || !g.any_currency || g.eligibility != nullptr)) {
      absl::StatusOr<bool> ok = AdmitFurther(ctx, i, scan.currency_key);
      if (!ok.ok()) {
        *error = ok.status();
        return false;
      }
      if (!*ok) return true;
    }
    w.candidates.push_back(i);
    if (scan.tracing) NoteConsidered(ctx, i);
    return true;
  }

  // Marks in w.relevant the discounts that can apply to the basket's lines:
  // `always`, and those filed under a value some line has. False (nothing
  // marked) when these are half the catalog or more: walking every discount
  // is then cheaper than marking them. Small catalogs (one word of bits)
  // always use the marks.
  static bool MarkRelevant(BasketContext& ctx) {
    BasketWork& w = *ctx.work;
    const PreparedDiscounts& p = *w.prepared;
    w.FindLineEntries(ctx.lines);
    size_t marks = 0;
    for (const discount_internal::GuardEntry* e : w.line_entries) {
      if (e != nullptr) marks += e->discounts.size();
    }
    if (p.discounts.size() > 64 && marks >= p.discounts.size() / 2) return false;
    w.relevant.assign(p.always.begin(), p.always.end());
    uint64_t* bits = w.relevant.data();
    for (const discount_internal::GuardEntry* e : w.line_entries) {
      if (e == nullptr) continue;
      for (uint32_t i : e->discounts) bits[i / 64] |= uint64_t{1} << (i % 64);
    }
    return true;
  }

  // The memo for ctx.now and the basket currency, made anew when the time
  // left its window or the snapshot, currency or component changed.
  const std::vector<uint64_t>& Memo(BasketContext& ctx, uint64_t currency_key) const {
    BasketWork& w = *ctx.work;
    const PreparedDiscounts& p = *w.prepared;
    BasketWork::EligibilityMemo& m = w.eligibility_memo;
    if (m.owner == this && m.generation == p.generation && m.currency_key == currency_key && m.from <= ctx.now &&
        ctx.now < m.until) {
      return m.admitted;
    }
    m.owner = this;
    m.generation = p.generation;
    m.currency_key = currency_key;
    m.from = absl::InfinitePast();
    m.until = absl::InfiniteFuture();
    m.admitted.assign(p.rechecked.begin(), p.rechecked.end());
    bool check_schedule = !config_.ignore_schedule();
    for (size_t i = 0; i < p.gates.size(); ++i) {
      if ((p.rechecked[i / 64] >> (i % 64)) & 1) continue;
      const DiscountGate& g = p.gates[i];
      if (check_schedule) {
        for (absl::Time edge : {g.start, g.end}) {
          if (edge <= ctx.now) {
            m.from = std::max(m.from, edge);
          } else {
            m.until = std::min(m.until, edge);
          }
        }
        if (ctx.now < g.start || ctx.now >= g.end) continue;
      }
      if (g.any_currency || g.currency_key == currency_key) m.admitted[i / 64] |= uint64_t{1} << (i % 64);
    }
    return m.admitted;
  }

  [[gnu::noinline]] static void NoteConsidered(BasketContext& ctx, uint32_t i) {
    const PreparedDiscount& d = ctx.work->prepared->discounts[i];
    ctx.Note(d.id, "considered", Cat("eligible; priority ", d.priority));
  }

  static const char* ScheduleMiss(const DiscountGate& g, absl::Time now) {
    return now < g.start ? "schedule has not started"
           : now >= g.end ? "schedule has ended"
                          : "outside the schedule's days and hours";
  }

  // Whether discount i, in its schedule, passes the click, coupon, currency
  // and eligibility checks (the trace says why not); sets coupon_of[i].
  absl::StatusOr<bool> AdmitFurther(BasketContext& ctx, uint32_t i, uint64_t basket_currency_key) const {
    BasketWork& w = *ctx.work;
    const PreparedDiscounts& p = *w.prepared;
    const DiscountGate& g = p.gates[i];
    const v1::Basket& basket = *ctx.basket;
    bool tracing = ctx.trace != nullptr;
    const PreparedDiscount& d = p.discounts[i];
    if (g.click_required &&
        std::find(basket.clicked_items().begin(), basket.clicked_items().end(), d.id) == basket.clicked_items().end()) {
      if (tracing) ctx.Note(d.id, "skipped", "click required: the user has not clicked it");
      return false;
    }
    if (g.needs_coupon) {
      absl::StatusOr<bool> coupon = AdmitCoupon(ctx, i);
      if (!coupon.ok() || !*coupon) return coupon;
    }
    if (!g.any_currency && (g.currency_key != 0 && basket_currency_key != 0 ? g.currency_key != basket_currency_key
                                                                            : d.offer_currency != ctx.currency)) {
      if (tracing) {
        ctx.Note(d.id, "skipped", Cat("offer currency ", d.offer_currency, " differs from the basket's ", ctx.currency));
      }
      return false;
    }
    if (g.eligibility != nullptr) {
      expr::Value error;
      if (!g.eligibility->Matches(*w.targeting_activation, &error)) {
        if (tracing) {
          ctx.Note(d.id, "skipped",
                   error.is_error() ? Cat("not eligible: ", g.eligibility->DescribeError(error))
                                    : Cat("not eligible: `", g.eligibility->source(), "` is false"));
        }
        return false;
      }
    }
    return true;
  }

  // A coupon discount: the basket carries one of its codes (the first one
  // found is its code) and, when asked, the store does not show the code's
  // limits as used up.
  absl::StatusOr<bool> AdmitCoupon(BasketContext& ctx, uint32_t i) const {
    BasketWork& w = *ctx.work;
    const PreparedDiscount& d = w.prepared->discounts[i];
    const v1::Basket& basket = *ctx.basket;
    bool tracing = ctx.trace != nullptr;
    int found = -1;
    for (int c = 0; c < basket.coupon_codes_size() && found < 0; ++c) {
      if (std::find(d.coupon_codes.begin(), d.coupon_codes.end(), basket.coupon_codes(c)) != d.coupon_codes.end()) {
        found = c;
      }
    }
    if (found < 0) {
      if (tracing) ctx.Note(d.id, "skipped", "needs a coupon code the basket does not carry");
      return false;
    }
    w.coupon_of[i] = found;
    if (!config_.check_coupon_limits() || w.store == nullptr || (d.max_uses <= 0 && d.max_uses_per_customer <= 0)) {
      return true;
    }
    const std::string& code = basket.coupon_codes(found);
    auto uses = w.store->coupons().CouponUses(code);
    if (!uses.ok()) return uses.status();
    if (d.max_uses > 0 && *uses >= d.max_uses) {
      if (tracing) ctx.Note(d.id, "skipped", Cat("coupon ", code, " has been used ", *uses, " times, its limit"));
      return false;
    }
    if (d.max_uses_per_customer > 0 && !basket.customer_id().empty()) {
      auto mine = w.store->coupons().CouponUses(code, basket.customer_id());
      if (!mine.ok()) return mine.status();
      if (*mine >= d.max_uses_per_customer) {
        if (tracing) ctx.Note(d.id, "skipped", Cat("coupon ", code, " already used by this customer"));
        return false;
      }
    }
    return true;
  }

  v1::CheckEligibilityConfig config_;
  int max_codes_ = 20;
};

// ---------------------------------------------------------------- conditions

// Evaluates the candidates' condition and award expressions once per line
// (never per unit). Expressions guarded by `product.F == 'v'` are looked up
// by the line's value of F first.
class EvaluateConditions final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<EvaluateConditions>> Make(const v1::EvaluateConditionsConfig& config) {
    auto c = std::make_unique<EvaluateConditions>();
    c->use_index_ = !config.disable_index();
    return c;
  }

  ComponentContract Contract() const override { return {{"candidates"}, {"line_matches"}, {}}; }

  absl::Status Run(BasketContext& ctx) const override {
    if (auto s = NeedsWork(ctx, "EvaluateConditions"); !s.ok()) return s;
    BasketWork& w = *ctx.work;
    const PreparedDiscounts& p = *w.prepared;
    const ProductSchema& ps = p.schema;
    ResetMatrix(ctx);
    expr::Activation& act = *w.product_activation;
    SetBasketSlots(ctx, &act);
    if (w.product_lists.size() < ps.product.size()) w.product_lists.resize(ps.product.size());
    // Lines by unit price, most expensive first (ties: the earlier line); the
    // lines of each program are collected in this order.
    size_t lines = ctx.lines.size();
    w.desc_order.resize(lines);
    for (uint32_t l = 0; l < lines; ++l) w.desc_order[l] = l;
    std::sort(w.desc_order.begin(), w.desc_order.end(), [&](uint32_t a, uint32_t b) {
      int64_t pa = ctx.lines[a].unit_price_minor, pb = ctx.lines[b].unit_price_minor;
      return pa != pb ? pa > pb : a < b;  // a total order: no stable_sort buffer
    });
    if (use_index_) w.FindLineEntries(ctx.lines);  // CheckEligibility may have already
    expr::Currency currency = expr::Currency::Of(ctx.currency);
    for (uint32_t l : w.desc_order) {
      if (ctx.lines[l].quantity == 0) continue;  // not in the basket: matches nothing
      SetLineSlots(ctx, ctx.lines[l], currency, &act);
      EvaluateLine(w, l, act);
    }
    return absl::OkStatus();
  }

 private:
  // Clears what the last call marked (50 KB for 1,000 programs and 50 lines
  // would otherwise be zeroed on every call; any layout of an all-zero
  // matrix is valid), sizes the matrix for this basket and marks the
  // programs the candidates need.
  static void ResetMatrix(BasketContext& ctx) {
    BasketWork& w = *ctx.work;
    const PreparedDiscounts& p = *w.prepared;
    size_t lines = ctx.lines.size(), programs = p.programs.size();
    w.line_count = lines;
    for (uint32_t prog : w.touched_programs) {  // rows in the last call's layout
      if (prog >= w.lines_of.size() || (prog + 1) * w.line_words > w.truth.size()) continue;
      std::fill_n(w.truth.begin() + static_cast<ptrdiff_t>(prog * w.line_words), w.line_words, 0);
      w.any[prog] = 0;
      w.lines_of[prog].clear();
    }
    w.touched_programs.clear();
    size_t words = (lines + 63) / 64;
    if (w.truth.size() != programs * words) w.truth.assign(programs * words, 0);
    if (w.any.size() != programs) w.any.assign(programs, 0);
    if (w.lines_of.size() < programs) w.lines_of.resize(programs);
    w.line_words = words;
    w.needed.assign(programs, 0);
    for (uint32_t i : w.candidates) {
      const discount_internal::DiscountShape& d = p.shapes[i];
      if (d.cond_program >= 0) w.needed[static_cast<size_t>(d.cond_program)] = 1;
      if (d.award_program >= 0) w.needed[static_cast<size_t>(d.award_program)] = 1;
    }
  }

  // user, context, now and the basket's totals.
  static void SetBasketSlots(const BasketContext& ctx, expr::Activation* act) {
    BasketWork& w = *ctx.work;
    const ProductSchema& ps = w.prepared->schema;
    const v1::Basket& basket = *ctx.basket;
    FillProfileSlots(ps.user, &basket.user(), act, &w.user_lists);
    FillProfileSlots(ps.context, &basket.context(), act, &w.context_lists);
    act->Set(ps.now, expr::Value::Timestamp(ctx.now));
    int64_t subtotal = 0, quantity = 0;
    for (const BasketLine& line : ctx.lines) {
      subtotal += line.original_total();
      quantity += line.quantity;
    }
    act->Set(ps.basket_subtotal,
             expr::Value::FromMoney(expr::Money{subtotal, ctx.currency_digits, expr::Currency::Of(ctx.currency)}));
    act->Set(ps.basket_currency, expr::Value::String(ctx.currency));
    act->Set(ps.basket_item_count, expr::Value::Int(static_cast<int64_t>(ctx.lines.size())));
    act->Set(ps.basket_quantity, expr::Value::Int(quantity));
  }

  // product.* for one line: the built-in fields and the declared properties.
  static void SetLineSlots(const BasketContext& ctx, const BasketLine& line, expr::Currency currency,
                           expr::Activation* act) {
    BasketWork& w = *ctx.work;
    const ProductSchema& ps = w.prepared->schema;
    const v1::LineItem& item = *line.item;
    act->Set(ps.product_id, expr::Value::String(item.product_id()));
    act->Set(ps.product_category, expr::Value::String(item.category()));
    act->Set(ps.product_price, expr::Value::FromMoney(expr::Money{line.unit_price_minor, ctx.currency_digits, currency}));
    act->Set(ps.product_quantity, expr::Value::Int(line.quantity));
    for (size_t a = 0; a < ps.product.size(); ++a) {
      const auto& [name, slot] = ps.product[a];
      auto it = item.properties().find(name);
      if (it == item.properties().end() || it->second.kind_case() == v1::Value::KIND_NOT_SET) {
        act->Unset(slot);
        continue;
      }
      expr::Value v = ToExprValue(it->second, &w.product_lists[a]);
      if (ps.schema.variable(slot).type == expr::Type::kDouble && it->second.has_int_value()) {
        v = expr::Value::Double(static_cast<double>(it->second.int_value()));
      }
      act->Set(slot, v);
    }
  }

  // The needed programs true on line l: every one without the index; with
  // it, the unguarded ones and those its guard values admit (a guard that
  // is the whole expression needs no evaluation).
  void EvaluateLine(BasketWork& w, uint32_t l, expr::Activation& act) const {
    const PreparedDiscounts& p = *w.prepared;
    size_t lines = w.line_count;
    auto mark = [&](uint32_t prog) {
      w.truth[prog * w.line_words + l / 64] |= uint64_t{1} << (l % 64);
      if (!w.any[prog]) {
        w.any[prog] = 1;
        w.touched_programs.push_back(prog);
      }
      w.lines_of[prog].push_back(l);
    };
    auto eval = [&](uint32_t prog) {
      if (w.needed[prog] && p.programs[prog].program.Matches(act)) mark(prog);
    };
    if (!use_index_) {
      for (uint32_t prog = 0; prog < p.programs.size(); ++prog) eval(prog);
      return;
    }
    for (uint32_t prog : p.unguarded) eval(prog);
    for (size_t f = 0; f < p.guard_fields.size(); ++f) {
      const discount_internal::GuardEntry* entry = w.line_entries[f * lines + l];
      if (entry == nullptr) continue;
      for (uint32_t prog : entry->programs) {
        if (!w.needed[prog]) continue;
        if (p.programs[prog].exact) {
          mark(prog);
        } else {
          eval(prog);
        }
      }
    }
  }

  bool use_index_ = true;
};

// ---------------------------------------------------------------- awards

// The basket's units and the discount each one serves, in the pooled
// BasketWork: line l's units are unit_offset[l] .. unit_offset[l + 1]; the
// first next_free[l] of them serve a discount (in the order they were
// taken), the rest are free. `touched` remembers, for the discount being
// applied, each line it took from and where the line's free units began.
class UnitLedger {
 public:
  explicit UnitLedger(BasketContext& ctx) : lines_(ctx.lines), w_(*ctx.work) {
    size_t lines = lines_.size();
    w_.next_free.assign(lines, 0);
    w_.unit_offset.resize(lines + 1);
    uint32_t total = 0;
    for (size_t l = 0; l < lines; ++l) {
      w_.unit_offset[l] = total;
      total += static_cast<uint32_t>(lines_[l].quantity);
    }
    w_.unit_offset[lines] = total;
    w_.units.assign(total, UnitState{});
    free_units_ = total;
    w_.free_lines.assign(w_.line_words, 0);
    for (size_t l = 0; l < lines; ++l) {
      if (lines_[l].quantity > 0) w_.free_lines[l / 64] |= uint64_t{1} << (l % 64);
    }
  }

  int64_t free_units() const { return free_units_; }           // serving no discount yet
  int64_t Free(uint32_t l) const { return lines_[l].quantity - w_.next_free[l]; }

  // A new discount: forgets the lines the last one touched.
  void BeginDiscount() { w_.touched.clear(); }
  // Takes the next k free units of line l for discount i.
  void Take(uint32_t i, uint32_t l, int64_t k, Role role) {
    Touch(l);
    uint32_t base = w_.unit_offset[l] + static_cast<uint32_t>(w_.next_free[l]);
    for (int64_t u = 0; u < k; ++u) w_.units[base + static_cast<uint32_t>(u)] = UnitState{static_cast<int32_t>(i), role, 0};
    w_.next_free[l] += k;
    free_units_ -= k;
    if (Free(l) == 0) w_.free_lines[l / 64] &= ~(uint64_t{1} << (l % 64));
  }
  // Gives back the last k units taken from line l.
  void Untake(uint32_t l, int64_t k) {
    w_.next_free[l] -= k;
    free_units_ += k;
    if (k > 0) w_.free_lines[l / 64] |= uint64_t{1} << (l % 64);
    uint32_t base = w_.unit_offset[l] + static_cast<uint32_t>(w_.next_free[l]);
    for (int64_t u = 0; u < k; ++u) w_.units[base + static_cast<uint32_t>(u)] = UnitState{};
  }

 private:
  void Touch(uint32_t l) {
    for (size_t k = 0; k < w_.touched.size(); k += 2) {
      if (w_.touched[k] == l) return;
    }
    w_.touched.push_back(l);
    w_.touched.push_back(static_cast<uint32_t>(w_.next_free[l]));
  }

  const std::vector<BasketLine>& lines_;
  BasketWork& w_;
  int64_t free_units_ = 0;
};

// OrderDiscount proper: discounts in priority order consume units as
// conditions and awards; each unit serves one discount at most.
class ApplyDiscounts final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<ApplyDiscounts>> Make(const v1::ApplyDiscountsConfig& config) {
    if (!v1::AwardOrder_IsValid(config.default_award_order())) {
      return ConfigError("ApplyDiscounts", Cat("unknown default_award_order ", static_cast<int>(config.default_award_order())));
    }
    auto c = std::make_unique<ApplyDiscounts>();
    c->default_least_first_ = config.default_award_order() == v1::AWARD_ORDER_LEAST_EXPENSIVE_FIRST;
    return c;
  }

  ComponentContract Contract() const override { return {{"line_matches"}, {"unit_awards", "reserved"}, {}}; }

  absl::Status Run(BasketContext& ctx) const override {
    if (auto s = NeedsWork(ctx, "ApplyDiscounts"); !s.ok()) return s;
    BasketWork& w = *ctx.work;
    if (w.line_count != ctx.lines.size()) {
      return absl::FailedPreconditionError("ApplyDiscounts: needs EvaluateConditions in the conditions stage");
    }
    const PreparedDiscounts& p = *w.prepared;
    // Unit slots (EvaluateConditions sorted the lines).
    Pass pass{ctx, w, p, UnitLedger(ctx), ctx.trace != nullptr};
    // Only the candidates' entries are read (per call, not per catalog).
    if (w.applications.size() != p.discounts.size()) w.applications.resize(p.discounts.size());
    for (uint32_t i : w.candidates) w.applications[i] = 0;
    w.reserved.clear();
    w.awards_done = true;
    for (uint32_t i : w.candidates) {
      // Every unit the item discount could take serves a discount already
      // (the common case once the first discounts have run): it can take
      // nothing. Tracing goes the long way, which says why for each one.
      const discount_internal::DiscountShape& d = p.shapes[i];
      if (!d.order_level && !pass.tracing &&
          (pass.ledger.free_units() == 0 || !w.AnyFree(d.award_program))) {
        continue;
      }
      ApplyOne(pass, i);
    }
    return absl::OkStatus();
  }

 private:
  // One Run: what every discount's application reads and changes.
  struct Pass {
    BasketContext& ctx;
    BasketWork& w;
    const PreparedDiscounts& p;
    UnitLedger ledger;
    bool tracing = false;
    bool shipping_free = false;  // a free-shipping discount was reserved
  };

  // Discount i's turn: its condition (consuming units when it counts them),
  // then its award, or its reservation for the order-level stage.
  void ApplyOne(Pass& pass, uint32_t i) const {
    const PreparedDiscount& d = pass.p.discounts[i];
    BasketContext& ctx = pass.ctx;
    bool least_first = d.award_order == v1::AWARD_ORDER_UNSPECIFIED
                           ? default_least_first_
                           : d.award_order == v1::AWARD_ORDER_LEAST_EXPENSIVE_FIRST;
    bool consuming = d.value_basis || d.min_quantity > 0;
    pass.ledger.BeginDiscount();
    if (!consuming && d.cond_program >= 0 && !pass.w.Any(d.cond_program)) {
      if (pass.tracing) ctx.Note(d.id, "skipped", "condition not met: no line matches the condition");
      return;
    }
    ConditionCursor cond;
    if (consuming) CollectConditionLines(pass, d, !least_first);
    if (d.order_level) {
      Reserve(pass, i, consuming, &cond);
      return;
    }
    bool any_award = false;
    if (!pass.w.Any(d.award_program) || !CollectAwardLines(pass, d, least_first, &any_award)) {
      if (pass.tracing) {
        ctx.Note(d.id, "skipped", any_award ? "every unit the award matches already serves a discount of higher priority"
                                            : "no line matches the award");
      }
      return;
    }
    std::string_view stop;
    int64_t apps = consuming ? AwardWithCondition(pass, i, &cond, &stop) : AwardFreely(pass, i, &stop);
    if (apps == 0) {
      if (pass.tracing) ctx.Note(d.id, "skipped", ConditionShort(d));
      return;
    }
    pass.w.applications[i] = apps;
    PriceAwardedUnits(pass, i, apps, stop);
  }

  // `program`'s lines (by price desc, then index; every line for -1) in
  // award or condition order: ascending prices keep ties in line order.
  static const std::vector<uint32_t>& Ordered(Pass& pass, int program, bool ascending) {
    BasketWork& w = pass.w;
    const std::vector<uint32_t>& list = program < 0 ? w.desc_order : w.lines_of[static_cast<size_t>(program)];
    if (!ascending) return list;
    w.ordered.clear();
    size_t e = list.size();
    while (e > 0) {
      size_t b = e - 1;
      int64_t price = pass.ctx.lines[list[b]].unit_price_minor;
      while (b > 0 && pass.ctx.lines[list[b - 1]].unit_price_minor == price) --b;
      for (size_t k = b; k < e; ++k) w.ordered.push_back(list[k]);
      e = b;
    }
    return w.ordered;
  }

  // Whether d's award can take line l's units (matched, priced, and dearer
  // than a fixed price).
  static bool Awardable(const Pass& pass, const PreparedDiscount& d, uint32_t l) {
    if (d.order_level || !pass.w.Truth(d.award_program, l)) return false;
    int64_t price = pass.ctx.lines[l].unit_price_minor;
    if (price <= 0) return false;
    return d.kind != v1::OFFER_KIND_FIXED_PRICE || price > d.amount_minor;
  }

  // Where the condition lists were read up to (their lines before the
  // cursor have no free unit left).
  struct ConditionCursor {
    size_t only = 0, both = 0;
  };

  // The condition's lines with free units, in condition order, split into
  // those the award cannot use (cond_only, consumed first) and those it can.
  static void CollectConditionLines(Pass& pass, const PreparedDiscount& d, bool ascending) {
    BasketWork& w = pass.w;
    w.cond_only.clear();
    w.cond_both.clear();
    for (uint32_t l : Ordered(pass, d.cond_program, ascending)) {
      if (!w.Truth(d.cond_program, l) || pass.ledger.Free(l) == 0) continue;
      if (d.value_basis && pass.ctx.lines[l].unit_price_minor <= 0) continue;
      (Awardable(pass, d, l) ? w.cond_both : w.cond_only).push_back(l);
    }
  }

  // Satisfies discount i's condition once, taking its units; false (and
  // nothing taken) if it cannot. w.taken lists what was taken.
  static bool Satisfy(Pass& pass, uint32_t i, ConditionCursor* cursor) {
    BasketWork& w = pass.w;
    const PreparedDiscount& d = pass.p.discounts[i];
    w.taken.clear();
    int64_t need_units = d.value_basis ? 0 : d.min_quantity;
    int64_t need_value = d.value_basis ? d.min_value_minor : 0;
    auto from = [&](const std::vector<uint32_t>& list, size_t& at) {
      for (size_t k = at; k < list.size(); ++k) {
        if (need_units <= 0 && need_value <= 0) return;
        uint32_t l = list[k];
        int64_t f = pass.ledger.Free(l);
        if (f == 0) {
          if (k == at) ++at;
          continue;
        }
        int64_t n;
        if (d.value_basis) {
          int64_t price = pass.ctx.lines[l].unit_price_minor;
          n = std::min(f, (need_value + price - 1) / price);
          need_value -= n * price;
        } else {
          n = std::min(f, need_units);
          need_units -= n;
        }
        pass.ledger.Take(i, l, n, Role::kCondition);
        w.taken.emplace_back(l, n);
      }
    };
    from(w.cond_only, cursor->only);
    from(w.cond_both, cursor->both);
    if (need_units > 0 || need_value > 0) {
      GiveBack(pass);
      return false;
    }
    return true;
  }

  // Returns the units of the last Satisfy.
  static void GiveBack(Pass& pass) {
    for (auto it = pass.w.taken.rbegin(); it != pass.w.taken.rend(); ++it) pass.ledger.Untake(it->first, it->second);
    pass.w.taken.clear();
  }

  // An order-level discount whose condition holds (consumed once) is
  // reserved for the order-level stage.
  void Reserve(Pass& pass, uint32_t i, bool consuming, ConditionCursor* cond) const {
    const PreparedDiscount& d = pass.p.discounts[i];
    BasketContext& ctx = pass.ctx;
    if (d.shipping && (ctx.shipping_minor == 0 || pass.shipping_free)) {
      if (pass.tracing) ctx.Note(d.id, "skipped", ctx.shipping_minor == 0 ? "no shipping to discount" : "shipping is already free");
      return;
    }
    if (consuming && !Satisfy(pass, i, cond)) {
      if (pass.tracing) ctx.Note(d.id, "skipped", ConditionShort(d));
      return;
    }
    if (d.kind == v1::OFFER_KIND_FREE_SHIPPING) pass.shipping_free = true;
    pass.w.applications[i] = 1;
    pass.w.reserved.push_back(i);
    if (pass.tracing) ctx.Note(d.id, "reserved", Cat(ConditionMet(d), "; ", KindName(d.kind), " is applied at the order level"));
  }

  // The award's lines with free units, in award order, into w.award_lines;
  // false when there are none (*any_award: some line matched all the same).
  static bool CollectAwardLines(Pass& pass, const PreparedDiscount& d, bool least_first, bool* any_award) {
    BasketWork& w = pass.w;
    w.award_lines.clear();
    for (uint32_t l : Ordered(pass, d.award_program, least_first)) {
      if (!Awardable(pass, d, l)) continue;
      *any_award = true;
      if (pass.ledger.Free(l) > 0) w.award_lines.push_back(l);
    }
    return !w.award_lines.empty();
  }

  // Without a condition to consume: the award takes every free unit it
  // matches, up to the basket limit's units. Returns the applications.
  static int64_t AwardFreely(Pass& pass, uint32_t i, std::string_view* stop) {
    const PreparedDiscount& d = pass.p.discounts[i];
    int64_t cap = d.basket_limit > 0 ? d.basket_limit * d.max_units : INT64_MAX;
    int64_t awarded = 0;
    for (uint32_t l : pass.w.award_lines) {
      if (awarded >= cap) break;
      int64_t n = std::min(pass.ledger.Free(l), cap - awarded);
      pass.ledger.Take(i, l, n, Role::kAward);
      awarded += n;
    }
    int64_t apps = (awarded + d.max_units - 1) / d.max_units;
    if (d.basket_limit > 0 && apps >= d.basket_limit) *stop = "basket limit reached";
    return apps;
  }

  // With a condition to consume: one application at a time, the condition's
  // units then up to max_units award units, until the condition, the award's
  // units or the basket limit runs out. Returns the applications.
  static int64_t AwardWithCondition(Pass& pass, uint32_t i, ConditionCursor* cond, std::string_view* stop) {
    const PreparedDiscount& d = pass.p.discounts[i];
    const std::vector<uint32_t>& lines = pass.w.award_lines;
    int64_t apps = 0;
    size_t at = 0;
    while (d.basket_limit == 0 || apps < d.basket_limit) {
      if (!Satisfy(pass, i, cond)) {
        *stop = "condition not met again";
        break;
      }
      int64_t need = d.max_units;
      for (size_t k = at; k < lines.size() && need > 0; ++k) {
        int64_t f = pass.ledger.Free(lines[k]);
        if (f == 0) {
          if (k == at) ++at;
          continue;
        }
        int64_t n = std::min(f, need);
        pass.ledger.Take(i, lines[k], n, Role::kAward);
        need -= n;
      }
      if (need == d.max_units) {
        GiveBack(pass);
        *stop = "no unit left for the award";
        break;
      }
      ++apps;
    }
    if (d.basket_limit > 0 && apps >= d.basket_limit) *stop = "basket limit reached";
    return apps;
  }

  // The amount off each unit discount i was awarded, on the lines it
  // touched; percent offers round per line and spread the remainder over
  // the first units.
  static void PriceAwardedUnits(Pass& pass, uint32_t i, int64_t apps, std::string_view stop) {
    const PreparedDiscount& d = pass.p.discounts[i];
    BasketWork& w = pass.w;
    BasketContext& ctx = pass.ctx;
    int64_t total = 0, awarded_units = 0;
    for (size_t k = 0; k < w.touched.size(); k += 2) {
      uint32_t l = w.touched[k];
      uint32_t begin = w.unit_offset[l] + w.touched[k + 1];
      uint32_t end = w.unit_offset[l] + static_cast<uint32_t>(w.next_free[l]);
      int64_t price = ctx.lines[l].unit_price_minor;
      int64_t n = 0;
      for (uint32_t u = begin; u < end; ++u) n += w.units[u].role == Role::kAward;
      if (n == 0) continue;
      awarded_units += n;
      int64_t base = 0, extra = 0, each = 0;
      if (d.kind == v1::OFFER_KIND_PERCENT_OFF) {
        int64_t group = discount_internal::MulDivRoundHalfUp(price * n, d.basis_points, 10000);
        base = group / n;
        extra = group % n;
      } else if (d.kind == v1::OFFER_KIND_AMOUNT_OFF) {
        each = std::min(d.amount_minor, price);
      } else {
        each = price - d.amount_minor;
      }
      int64_t line_total = 0;
      for (uint32_t u = begin; u < end; ++u) {
        UnitState& s = w.units[u];
        if (s.role != Role::kAward) continue;
        int64_t amount = d.kind == v1::OFFER_KIND_PERCENT_OFF ? base + (extra-- > 0 ? 1 : 0) : each;
        s.amount = amount;
        line_total += amount;
      }
      ctx.lines[l].item_discount_minor += line_total;
      total += line_total;
    }
    if (pass.tracing) {
      ctx.Note(d.id, "applied",
               Cat(apps, apps == 1 ? " application, " : " applications, ", awarded_units,
                   awarded_units == 1 ? " unit awarded " : " units awarded ", KindName(d.kind),
                   stop.empty() ? "" : "; stopped: ", stop),
               static_cast<double>(total));
    }
  }

  static std::string ConditionShort(const PreparedDiscount& d) {
    if (d.value_basis) {
      return Cat("condition not met: needs ", d.min_value_minor,
                 " (minor units) of matching units not serving another discount");
    }
    return Cat("condition not met: needs ", d.min_quantity, d.min_quantity == 1 ? " matching unit" : " matching units",
               " not serving another discount");
  }
  static std::string ConditionMet(const PreparedDiscount& d) {
    if (d.value_basis) return Cat("condition met: ", d.min_value_minor, " (minor units) of units consumed");
    if (d.min_quantity > 0) return Cat("condition met: ", d.min_quantity, " units consumed");
    return "no condition to consume";
  }
  bool default_least_first_ = false;
};

// ---------------------------------------------------------------- order level

// Shipping and order-subtotal offers of the discounts whose condition the
// awards stage reserved, in priority order, on the already discounted
// subtotal.
class OrderLevelDiscounts final : public Comp {
 public:
  static absl::StatusOr<std::unique_ptr<OrderLevelDiscounts>> Make(const v1::OrderLevelDiscountsConfig& config) {
    auto c = std::make_unique<OrderLevelDiscounts>();
    c->skip_shipping_ = config.skip_shipping();
    return c;
  }

  ComponentContract Contract() const override { return {{"reserved"}, {"order_adjustments"}, {}}; }

  absl::Status Run(BasketContext& ctx) const override {
    if (auto s = NeedsWork(ctx, "OrderLevelDiscounts"); !s.ok()) return s;
    BasketWork& w = *ctx.work;
    const PreparedDiscounts& p = *w.prepared;
    const v1::Basket& basket = *ctx.basket;
    for (uint32_t i : w.reserved) {
      const PreparedDiscount& d = p.discounts[i];
      std::string_view code = w.coupon_of[i] >= 0 ? std::string_view(basket.coupon_codes(w.coupon_of[i])) : "";
      int64_t amount = 0;
      absl::StatusOr<int64_t> applied = 0;
      if (d.shipping) {
        if (skip_shipping_) {
          ctx.Note(d.id, "skipped", "shipping offers are disabled in this pipeline");
          continue;
        }
        amount = d.kind == v1::OFFER_KIND_FREE_SHIPPING
                     ? ctx.shipping_minor
                     : discount_internal::MulDivRoundHalfUp(ctx.shipping_minor, d.basis_points, 10000);
        if (amount == 0) {
          ctx.Note(d.id, "skipped", "no shipping left to discount");
          continue;
        }
        applied = ctx.AddShippingDiscount(d.id, d.name, d.kind, amount, code);
      } else {
        int64_t subtotal = ctx.DiscountedSubtotal();
        amount = d.kind == v1::OFFER_KIND_ORDER_PERCENT_OFF
                     ? discount_internal::MulDivRoundHalfUp(subtotal, d.basis_points, 10000)
                     : std::min(d.amount_minor, subtotal);
        if (amount == 0) {
          ctx.Note(d.id, "skipped", "nothing left of the subtotal to discount");
          continue;
        }
        applied = ctx.AddSubtotalDiscount(d.id, d.name, d.kind, amount, code);
      }
      if (!applied.ok()) return applied.status();
      if (ctx.trace != nullptr) {
        ctx.Note(d.id, "applied",
                 Cat(KindName(d.kind), " on the ", d.shipping ? "shipping" : "discounted subtotal", ": ",
                     FormatMinor(*applied, ctx.currency_digits), " ", ctx.currency),
                 static_cast<double>(*applied));
      }
    }
    return absl::OkStatus();
  }

 private:
  bool skip_shipping_ = false;
};

// ---------------------------------------------------------------- totals

class ComputeTotals final : public Comp {
 public:
  static inline const std::string kAwardRole = "award", kConditionRole = "condition";

  static absl::StatusOr<std::unique_ptr<ComputeTotals>> Make(const v1::ComputeTotalsConfig& config) {
    auto c = std::make_unique<ComputeTotals>();
    c->check_ = !config.skip_invariant_checks();
    return c;
  }

  ComponentContract Contract() const override { return {{}, {"totals"}, {}}; }

  absl::Status Run(BasketContext& ctx) const override {
    if (auto s = NeedsWork(ctx, "ComputeTotals"); !s.ok()) return s;
    if (ctx.result == nullptr) return absl::FailedPreconditionError("ComputeTotals: no result to write");
    v1::PricedBasket& out = *ctx.result;
    out.set_currency(ctx.currency.data(), ctx.currency.size());
    int64_t subtotal = 0, item_discount = 0, order_discount = 0;
    google::protobuf::RepeatedPtrField<v1::PricedLine>& lines = *out.mutable_lines();
    // The lines an earlier call wrote, kept by the pricer (PriceInto into one
    // result): overwritten in place, so that steady calls copy only what changed.
    if (lines.empty() && lines.GetArena() == nullptr) lines.Swap(&ctx.work->reusable_lines);
    size_t first_new = static_cast<size_t>(lines.size());
    while (static_cast<size_t>(lines.size()) > ctx.lines.size()) lines.RemoveLast();
    lines.Reserve(static_cast<int>(ctx.lines.size()));
    for (size_t l = 0; l < ctx.lines.size(); ++l) {
      v1::PricedLine* pl = l < first_new ? lines.Mutable(static_cast<int>(l)) : lines.Add();
      if (auto s = WriteLine(ctx, l, pl); !s.ok()) return s;
      subtotal += ctx.lines[l].original_total();
      item_discount += ctx.lines[l].item_discount_minor;
    }
    if (auto s = WriteOrderAdjustments(ctx, &out, &order_discount); !s.ok()) return s;
    out.set_subtotal_minor(subtotal);
    out.set_item_discount_minor(item_discount);
    out.set_order_discount_minor(order_discount);
    out.set_original_shipping_minor(ctx.basket->shipping_minor());
    out.set_shipping_minor(ctx.shipping_minor);
    out.set_total_minor(subtotal - item_discount - order_discount + ctx.shipping_minor);
    if (check_ && (ctx.shipping_minor < 0 || out.total_minor() < 0)) {
      return absl::InternalError("ComputeTotals: negative shipping or total");
    }
    ListCoupons(ctx, &out);
    if (ctx.trace != nullptr) {
      ctx.Note("basket", "total",
               Cat(FormatMinor(subtotal, ctx.currency_digits), " - ", FormatMinor(item_discount, ctx.currency_digits),
                   " items - ", FormatMinor(order_discount, ctx.currency_digits), " order + ",
                   FormatMinor(ctx.shipping_minor, ctx.currency_digits), " shipping = ",
                   FormatMinor(out.total_minor(), ctx.currency_digits), " ", ctx.currency),
               static_cast<double>(out.total_minor()));
    }
    return absl::OkStatus();
  }

 private:
  // Line l with each of its units and the discount the unit serves, every
  // field written (pl may hold an earlier basket's line); checks that the
  // units add up to the line's discount.
  absl::Status WriteLine(const BasketContext& ctx, size_t l, v1::PricedLine* pl) const {
    const BasketWork& w = *ctx.work;
    const BasketLine& line = ctx.lines[l];
    bool have_units = w.awards_done && w.unit_offset.size() == ctx.lines.size() + 1;
    if (pl->line_id() != line.id) pl->set_line_id(line.id.data(), line.id.size());
    pl->set_original_total_minor(line.original_total());
    pl->set_discount_total_minor(line.item_discount_minor);
    pl->set_order_discount_minor(line.order_discount_minor);
    pl->set_adjusted_total_minor(line.adjusted_total());
    google::protobuf::RepeatedPtrField<v1::PricedUnit>& units = *pl->mutable_units();
    while (units.size() > line.quantity) units.RemoveLast();
    units.Reserve(static_cast<int>(line.quantity));
    int64_t unit_sum = 0;
    for (int64_t u = 0; u < line.quantity; ++u) {
      v1::PricedUnit* pu = u < units.size() ? units.Mutable(static_cast<int>(u)) : units.Add();
      const UnitState* s = have_units ? &w.units[w.unit_offset[l] + static_cast<uint32_t>(u)] : nullptr;
      if (s == nullptr || s->role == Role::kNone) {
        pu->set_price_minor(line.unit_price_minor);
        pu->mutable_discounts()->Clear();
        continue;
      }
      pu->set_price_minor(line.unit_price_minor - s->amount);
      unit_sum += s->amount;
      while (pu->discounts_size() > 1) pu->mutable_discounts()->RemoveLast();
      WriteUnitDiscount(ctx, *s, pu->discounts_size() == 1 ? pu->mutable_discounts(0) : pu->add_discounts());
      if (check_ && pu->price_minor() < 0) {
        return absl::InternalError(Cat("ComputeTotals: line ", line.id, " unit ", u + 1, " has a negative price"));
      }
    }
    if (check_ && have_units && unit_sum != line.item_discount_minor) {
      return absl::InternalError(Cat("ComputeTotals: line ", line.id, ": units add up to ", unit_sum,
                                     ", the line's discount is ", line.item_discount_minor));
    }
    if (check_ && line.adjusted_total() < 0) {
      return absl::InternalError(Cat("ComputeTotals: line ", line.id, " has a negative total"));
    }
    return absl::OkStatus();
  }

  // The discount unit state `s` serves, every field written.
  static void WriteUnitDiscount(const BasketContext& ctx, const UnitState& s, v1::UnitDiscount* ud) {
    const BasketWork& w = *ctx.work;
    const PreparedDiscount& d = w.prepared->discounts[static_cast<size_t>(s.discount)];
    if (ud->discount_id() != d.id) ud->set_discount_id(d.id);
    if (ud->name() != d.name) ud->set_name(d.name);
    ud->set_priority(d.priority);
    ud->set_offer_kind(d.kind);
    ud->set_offer_value(d.offer_value);
    ud->set_amount_minor(s.amount);
    const std::string& role = s.role == Role::kAward ? kAwardRole : kConditionRole;
    if (ud->role() != role) ud->set_role(role);
    size_t di = static_cast<size_t>(s.discount);
    int32_t c = w.coupon_of.size() > di ? w.coupon_of[di] : -1;
    if (c >= 0) {
      if (ud->coupon_code() != ctx.basket->coupon_codes(c)) ud->set_coupon_code(ctx.basket->coupon_codes(c));
    } else if (!ud->coupon_code().empty()) {
      ud->clear_coupon_code();
    }
  }

  // The order adjustments, checking that each subtotal discount's shares
  // and the lines' shares add up; *order_discount: their subtotal total.
  absl::Status WriteOrderAdjustments(const BasketContext& ctx, v1::PricedBasket* out, int64_t* order_discount) const {
    int64_t shares_total = 0;
    for (const BasketLine& line : ctx.lines) shares_total += line.order_discount_minor;
    for (const v1::OrderAdjustment& a : ctx.order_adjustments) {
      if (a.target() == "subtotal") {
        *order_discount += a.amount_minor();
        int64_t s = 0;
        for (const auto& share : a.shares()) s += share.amount_minor();
        if (check_ && s != a.amount_minor()) {
          return absl::InternalError(Cat("ComputeTotals: ", a.discount_id(), ": shares add up to ", s,
                                         ", not ", a.amount_minor()));
        }
      }
      *out->add_order_adjustments() = a;
    }
    if (check_ && shares_total != *order_discount) {
      return absl::InternalError(Cat("ComputeTotals: line shares add up to ", shares_total,
                                     ", order discounts to ", *order_discount));
    }
    return absl::OkStatus();
  }

  // Coupons to redeem: the codes of discounts that gave something.
  static void ListCoupons(const BasketContext& ctx, v1::PricedBasket* out) {
    const BasketWork& w = *ctx.work;
    const PreparedDiscounts& p = *w.prepared;
    auto add_coupon = [&](std::string_view code, std::string_view discount_id) {
      for (const auto& c : out->coupons()) {
        if (c.code() == code) return;
      }
      v1::CouponRedemption* r = out->add_coupons();
      r->set_code(code.data(), code.size());
      r->set_discount_id(discount_id.data(), discount_id.size());
      auto it = p.discount_by_code.find(code);
      if (it != p.discount_by_code.end()) {
        r->set_max_uses(p.discounts[it->second].max_uses);
        r->set_max_uses_per_customer(p.discounts[it->second].max_uses_per_customer);
      }
    };
    if (w.awards_done && w.unit_offset.size() == ctx.lines.size() + 1) {
      for (uint32_t i : w.candidates) {
        const PreparedDiscount& d = p.discounts[i];
        if (d.order_level || w.applications[i] == 0 || w.coupon_of[i] < 0) continue;
        add_coupon(ctx.basket->coupon_codes(w.coupon_of[i]), d.id);
      }
    }
    for (const v1::OrderAdjustment& a : ctx.order_adjustments) {
      if (!a.coupon_code().empty() && a.amount_minor() > 0) add_coupon(a.coupon_code(), a.discount_id());
    }
  }

  bool check_ = true;
};

}  // namespace

void RegisterDiscountComponents(Registry* registry) {
  registry->RegisterIfAbsent(Factory<v1::CheckEligibilityConfig, CheckEligibility>(
      "CheckEligibility", "discount requirements: schedule, eligibility expression, click, coupon code"));
  registry->RegisterIfAbsent(Factory<v1::EvaluateConditionsConfig, EvaluateConditions>(
      "EvaluateConditions", "evaluates condition and award expressions once per line (equality index)"));
  registry->RegisterIfAbsent(Factory<v1::ApplyDiscountsConfig, ApplyDiscounts>(
      "ApplyDiscounts", "OrderDiscount: units consumed by conditions and awards in priority order"));
  registry->RegisterIfAbsent(Factory<v1::OrderLevelDiscountsConfig, OrderLevelDiscounts>(
      "OrderLevelDiscounts", "shipping and order-subtotal offers on the discounted subtotal"));
  registry->RegisterIfAbsent(Factory<v1::ComputeTotalsConfig, ComputeTotals>(
      "ComputeTotals", "writes the priced basket and checks that units, lines and totals add up"));
}

}  // namespace herald
