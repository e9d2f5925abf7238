// BasketPricer: validates a basket, runs the basket pipeline over the
// prepared discounts of the current snapshot, and commits coupon uses.
#include "core/strings.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/catalog_schemas.h"
#include "core/input_check.h"
#include "discount/work.h"
#include "herald/campaign_cache.h"
#include "herald/discount.h"
#include "herald/store.h"

namespace herald {
namespace discount_internal {

int64_t MulDivRoundHalfUp(int64_t a, int64_t b, int64_t c) {
  __int128 n = static_cast<__int128>(a) * b;
  __int128 q = n / c, r = n % c;
  if (2 * r >= c) ++q;
  return static_cast<int64_t>(q);
}

void SpreadByLargestRemainder(int64_t amount, const std::vector<int64_t>& weights, std::vector<int64_t>* shares,
                              std::vector<std::pair<__int128, size_t>>* remainders) {
  shares->assign(weights.size(), 0);
  remainders->clear();
  __int128 total = 0;
  for (int64_t w : weights) total += w;
  if (total <= 0 || amount <= 0) return;
  int64_t assigned = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    __int128 n = static_cast<__int128>(amount) * weights[i];
    (*shares)[i] = static_cast<int64_t>(n / total);
    assigned += (*shares)[i];
    if (n % total != 0) remainders->emplace_back(n % total, i);
  }
  // Largest first; ties keep line order (a total order: no stable_sort buffer).
  std::sort(remainders->begin(), remainders->end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  for (size_t k = 0; assigned < amount && k < remainders->size(); ++k, ++assigned) {
    ++(*shares)[(*remainders)[k].second];
  }
}

namespace {

// The guard of a compiled expression: its first top-level conjunct
// `product.F == 'v'` or `product.F in [...]` on a string product field.
// Registers F in out->guard_fields on first sight; sets the program's guard.
void FindGuard(PreparedDiscounts* out, StringMap<int>* field_by_path, PreparedProgram* p) {
  expr::EqualityGuards found = expr::FindEqualityGuards(p->source);
  for (expr::EqualityGuard& guard : found.guards) {
    if (!guard.path.starts_with("product.")) continue;
    const std::string& path = guard.path;
    std::vector<std::string>& values = guard.values;
    expr::Slot slot = out->schema.schema.Find(path);
    if (!slot.valid() || out->schema.schema.variable(slot).type != expr::Type::kString) continue;
    auto [fit, added] = field_by_path->try_emplace(path, static_cast<int>(out->guard_fields.size()));
    if (added) {
      GuardField f;
      f.path = path;
      if (path == "product.id") {
        f.builtin = 1;
      } else if (path == "product.category") {
        f.builtin = 2;
      } else {
        f.property = path.substr(8);
        for (size_t a = 0; a < out->schema.product.size(); ++a) {
          if (out->schema.product[a].first == f.property) f.attribute = static_cast<int>(a);
        }
      }
      out->guard_fields.push_back(std::move(f));
    }
    p->guard_field = fit->second;
    p->exact = found.conjuncts == 1;
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    p->guard_values = std::move(values);
    return;
  }
}

// Compiles discounts' condition and award expressions once per distinct
// source, with their guards.
class ProgramTable {
 public:
  ProgramTable(PreparedDiscounts* out, std::string time_zone) : out_(out) {
    options_.default_time_zone = std::move(time_zone);
  }

  // The program index of `source` (-1 for an empty one: any product).
  absl::StatusOr<int> For(const PreparedDiscount& d, std::string_view what, const std::string& source) {
    if (source.empty()) return -1;
    auto it = by_source_.find(source);
    if (it != by_source_.end()) return it->second;
    auto program = expr::CompileFilter(source, out_->schema.schema, options_);
    if (!program.ok()) {
      return absl::InvalidArgumentError(Cat("discount \"", d.id, "\": ", what, ": ",
                                            std::string(program.status().message())));
    }
    PreparedProgram p;
    p.program = std::move(*program);
    p.source = source;
    int index = static_cast<int>(out_->programs.size());
    FindGuard(out_, &field_by_path_, &p);
    if (p.guard_field < 0) {
      out_->unguarded.push_back(static_cast<uint32_t>(index));
    } else {
      GuardField& field = out_->guard_fields[static_cast<size_t>(p.guard_field)];
      for (const std::string& v : p.guard_values) field.by_value[v].programs.push_back(static_cast<uint32_t>(index));
    }
    out_->programs.push_back(std::move(p));
    by_source_.emplace(source, index);
    return index;
  }

 private:
  PreparedDiscounts* out_;
  expr::CompileOptions options_;
  StringMap<int> by_source_;
  StringMap<int> field_by_path_;
};

// The offer of a discount: its kind's amounts, checked.
absl::Status PrepareOffer(const v1::Offer& offer, PreparedDiscount* d) {
  d->kind = offer.kind();
  switch (d->kind) {
    case v1::OFFER_KIND_PERCENT_OFF:
    case v1::OFFER_KIND_SHIPPING_PERCENT_OFF:
    case v1::OFFER_KIND_ORDER_PERCENT_OFF:
      d->basis_points = std::llround(offer.percent() * 100);
      d->offer_value = static_cast<double>(d->basis_points) / 100.0;
      if (d->basis_points <= 0 || d->basis_points > 10000) {
        return absl::InvalidArgumentError(Cat("discount \"", d->id, "\": percent must be > 0 and <= 100"));
      }
      break;
    case v1::OFFER_KIND_AMOUNT_OFF:
    case v1::OFFER_KIND_FIXED_PRICE:
    case v1::OFFER_KIND_ORDER_AMOUNT_OFF:
      d->amount_minor = offer.amount_minor();
      d->offer_currency = offer.currency();
      d->offer_value = static_cast<double>(d->amount_minor);
      if (d->amount_minor < 0 || (d->amount_minor == 0 && d->kind != v1::OFFER_KIND_FIXED_PRICE)) {
        return absl::InvalidArgumentError(Cat("discount \"", d->id, "\": amount_minor must be positive"));
      }
      break;
    case v1::OFFER_KIND_FREE_SHIPPING:
      d->basis_points = 10000;
      d->offer_value = 100;
      break;
    default:
      return absl::InvalidArgumentError(Cat("discount \"", d->id, "\": offer.kind is required"));
  }
  d->shipping = d->kind == v1::OFFER_KIND_FREE_SHIPPING || d->kind == v1::OFFER_KIND_SHIPPING_PERCENT_OFF;
  d->order_level = d->shipping || d->kind == v1::OFFER_KIND_ORDER_PERCENT_OFF || d->kind == v1::OFFER_KIND_ORDER_AMOUNT_OFF;
  return absl::OkStatus();
}

// One catalog discount item prepared: offer, condition, award, limits and
// coupons, with its expressions compiled into `programs`.
absl::StatusOr<PreparedDiscount> PrepareDiscount(const CompiledItem& item, ProgramTable* programs) {
  const v1::Discount& src = item.proto->discount();
  PreparedDiscount d;
  d.item = &item;
  d.id = item.id;
  d.name = item.name;
  d.priority = src.priority();
  if (auto s = PrepareOffer(src.offer(), &d); !s.ok()) return s;
  d.value_basis = src.condition().basis() == v1::CONDITION_BASIS_VALUE;
  d.min_quantity = std::max<int64_t>(0, src.condition().min_quantity());
  d.min_value_minor = src.condition().min_value_minor();
  if (d.value_basis && d.min_value_minor <= 0) {
    return absl::InvalidArgumentError(Cat("discount \"", d.id, "\": a VALUE condition needs min_value_minor > 0"));
  }
  d.max_units = src.award().max_units() <= 0 ? 1 : src.award().max_units();
  d.basket_limit = std::max(0, src.basket_limit());
  d.award_order = src.award_order();
  d.click_required = src.click_required();
  d.coupon_codes.assign(src.coupon_codes().begin(), src.coupon_codes().end());
  d.max_uses = src.coupon_limits().max_uses();
  d.max_uses_per_customer = src.coupon_limits().max_uses_per_customer();
  auto cond = programs->For(d, "condition", src.condition().expression());
  if (!cond.ok()) return cond.status();
  d.cond_program = *cond;
  if (!d.order_level) {
    auto award = programs->For(d, "award", src.award().expression());
    if (!award.ok()) return award.status();
    d.award_program = *award;
  }
  return d;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const PreparedDiscounts>> PreparedDiscounts::Prepare(
    std::shared_ptr<const CompiledCatalog> catalog) {
  if (catalog == nullptr) return absl::InvalidArgumentError("basket pricer: no catalog");
  static std::atomic<uint64_t> generations{0};
  auto out = std::make_shared<PreparedDiscounts>();
  out->generation = generations.fetch_add(1, std::memory_order_relaxed) + 1;
  out->catalog = catalog;
  const v1::Catalog& cat = catalog->catalog();
  auto schema = BuildProductSchema(cat);
  if (!schema.ok()) return schema.status();
  out->schema = std::move(*schema);
  for (const auto& [name, slot] : out->schema.product) {
    out->product_attributes.emplace_back(name, out->schema.schema.variable(slot).type);
  }
  ProgramTable programs(out.get(), cat.time_zone().empty() ? "UTC" : cat.time_zone());
  for (uint32_t index : catalog->AllDiscounts()) {
    const CompiledItem& item = catalog->items()[index];
    if (item.kind != ItemKind::kDiscount || item.proto == nullptr) continue;
    auto d = PrepareDiscount(item, &programs);
    if (!d.ok()) return d.status();
    out->discounts.push_back(std::move(*d));
  }
  std::sort(out->discounts.begin(), out->discounts.end(),
            [](const PreparedDiscount& a, const PreparedDiscount& b) {
              if (a.priority != b.priority) return a.priority < b.priority;
              return a.id < b.id;
            });
  for (uint32_t i = 0; i < out->discounts.size(); ++i) {
    const PreparedDiscount& d = out->discounts[i];
    for (const std::string& code : d.coupon_codes) out->discount_by_code.emplace(code, i);
    out->discount_by_id.emplace(d.id, i);
    out->shapes.push_back(DiscountShape{d.cond_program, d.award_program, d.order_level});
    DiscountGate& g = out->gates.emplace_back();
    g.start = d.item->schedule.start;
    g.end = d.item->schedule.end;
    g.hours = d.item->schedule.AllDay() ? nullptr : &d.item->schedule;
    g.eligibility = d.item->has_eligibility ? &d.item->eligibility : nullptr;
    g.click_required = d.click_required;
    g.needs_coupon = !d.coupon_codes.empty();
    g.any_currency = d.offer_currency.empty();
    g.currency_key = CurrencyKey(d.offer_currency);
  }
  out->rechecked.assign((out->gates.size() + 63) / 64, 0);
  for (size_t i = 0; i < out->gates.size(); ++i) {
    const DiscountGate& g = out->gates[i];
    if (g.hours != nullptr || g.click_required || g.needs_coupon || g.eligibility != nullptr ||
        (!g.any_currency && g.currency_key == 0)) {
      out->rechecked[i / 64] |= uint64_t{1} << (i % 64);
    }
  }
  out->BuildRelevanceIndex();
  return std::shared_ptr<const PreparedDiscounts>(std::move(out));
}

// An item discount needs a line its award matches, and any discount with a
// condition needs a line the condition matches (a consuming condition takes
// its units from such lines, a plain one must match somewhere), so either
// guard limits the baskets the discount can apply to. The award's guard is
// preferred: on item discounts it is usually the narrower one.
void PreparedDiscounts::BuildRelevanceIndex() {
  always.assign((discounts.size() + 63) / 64, 0);
  for (uint32_t i = 0; i < discounts.size(); ++i) {
    const PreparedDiscount& d = discounts[i];
    const PreparedProgram* key = nullptr;
    for (int program : {d.order_level ? -1 : d.award_program, d.cond_program}) {
      if (program >= 0 && programs[static_cast<size_t>(program)].guard_field >= 0) {
        key = &programs[static_cast<size_t>(program)];
        break;
      }
    }
    if (key == nullptr) {
      always[i / 64] |= uint64_t{1} << (i % 64);
      continue;
    }
    GuardField& field = guard_fields[static_cast<size_t>(key->guard_field)];
    for (const std::string& v : key->guard_values) field.by_value[v].discounts.push_back(i);
  }
}

// The line's value of a guard's string field; false when it has none.
bool GuardValue(const GuardField& field, const v1::LineItem& item, std::string_view* value) {
  if (field.builtin == 1) {
    *value = item.product_id();
    return true;
  }
  if (field.builtin == 2) {
    *value = item.category();
    return true;
  }
  auto it = item.properties().find(field.property);
  if (it == item.properties().end() || !it->second.has_string_value()) return false;
  *value = it->second.string_value();
  return true;
}

void BasketWork::FindLineEntries(const std::vector<BasketLine>& lines) {
  // Once per call; again if a component between the stages changed the lines.
  if (entries_ready && entries_lines == lines.size()) return;
  entries_ready = true;
  entries_lines = lines.size();
  const std::vector<GuardField>& fields = prepared->guard_fields;
  line_entries.assign(fields.size() * lines.size(), nullptr);
  for (size_t f = 0; f < fields.size(); ++f) {
    for (size_t l = 0; l < lines.size(); ++l) {
      if (lines[l].quantity == 0) continue;  // not in the basket: matches nothing
      std::string_view value;
      if (!GuardValue(fields[f], *lines[l].item, &value)) continue;
      auto hit = fields[f].by_value.find(value);
      if (hit != fields[f].by_value.end()) line_entries[f * lines.size() + l] = &hit->second;
    }
  }
}

}  // namespace discount_internal

using discount_internal::BasketWork;
using discount_internal::PreparedDiscounts;

// ---------------------------------------------------------------- BasketContext

int64_t BasketContext::DiscountedSubtotal() const {
  int64_t total = 0;
  for (const BasketLine& line : lines) total += line.adjusted_total();
  return total;
}

absl::StatusOr<int64_t> BasketContext::AddSubtotalDiscount(std::string_view discount_id,
                                                           std::string_view name, v1::OfferKind kind,
                                                           int64_t amount_minor,
                                                           std::string_view coupon_code) {
  if (amount_minor < 0) {
    return absl::InvalidArgumentError(Cat("discount \"", discount_id, "\": negative amount ", amount_minor));
  }
  // The pricer's pooled scratch when there is one (no allocation once warm).
  std::vector<int64_t> own_weights, own_shares;
  std::vector<std::pair<__int128, size_t>> own_remainders;
  std::vector<int64_t>& weights = work != nullptr ? work->spread_weights : own_weights;
  std::vector<int64_t>& shares = work != nullptr ? work->spread_shares : own_shares;
  weights.resize(lines.size());
  int64_t subtotal = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    weights[i] = lines[i].adjusted_total();
    subtotal += weights[i];
  }
  int64_t amount = std::min(amount_minor, subtotal);
  discount_internal::SpreadByLargestRemainder(amount, weights, &shares,
                                              work != nullptr ? &work->spread_remainders : &own_remainders);
  v1::OrderAdjustment& adj = *order_adjustments.Add();
  adj.set_discount_id(discount_id.data(), discount_id.size());
  adj.set_name(name.data(), name.size());
  adj.set_offer_kind(kind);
  adj.set_amount_minor(amount);
  adj.set_target("subtotal");
  adj.set_coupon_code(coupon_code.data(), coupon_code.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    lines[i].order_discount_minor += shares[i];
    if (shares[i] == 0) continue;
    v1::LineShare* share = adj.add_shares();
    share->set_line_id(lines[i].id.data(), lines[i].id.size());
    share->set_amount_minor(shares[i]);
  }
  return amount;
}

absl::StatusOr<int64_t> BasketContext::AddShippingDiscount(std::string_view discount_id,
                                                           std::string_view name, v1::OfferKind kind,
                                                           int64_t amount_minor,
                                                           std::string_view coupon_code) {
  if (amount_minor < 0) {
    return absl::InvalidArgumentError(Cat("discount \"", discount_id, "\": negative amount ", amount_minor));
  }
  int64_t amount = std::min(amount_minor, shipping_minor);
  shipping_minor -= amount;
  v1::OrderAdjustment& adj = *order_adjustments.Add();
  adj.set_discount_id(discount_id.data(), discount_id.size());
  adj.set_name(name.data(), name.size());
  adj.set_offer_kind(kind);
  adj.set_amount_minor(amount);
  adj.set_target("shipping");
  adj.set_coupon_code(coupon_code.data(), coupon_code.size());
  return amount;
}

void BasketContext::Note(std::string_view subject, std::string_view verdict, std::string_view reason,
                         double value) {
  if (trace != nullptr) trace->Note(subject, verdict, reason, value);
}

// ---------------------------------------------------------------- helpers

int CurrencyMinorDigits(std::string_view code) { return CurrencyDigits(code); }

std::string FormatMinor(int64_t minor_units, int digits) {
  bool negative = minor_units < 0;
  uint64_t v = negative ? 0 - static_cast<uint64_t>(minor_units) : static_cast<uint64_t>(minor_units);
  std::string s = std::to_string(v);
  if (digits > 0) {
    if (s.size() <= static_cast<size_t>(digits)) s.insert(0, static_cast<size_t>(digits) + 1 - s.size(), '0');
    s.insert(s.size() - static_cast<size_t>(digits), ".");
  }
  return negative ? "-" + s : s;
}

namespace {

constexpr char kBasketPipeline[] = R"pb(
name: "basket"
family: "basket"
stages { name: "eligibility" components { name: "CheckEligibility" } }
stages { name: "conditions" components { name: "EvaluateConditions" } }
stages { name: "awards" components { name: "ApplyDiscounts" } }
stages { name: "order_level" components { name: "OrderLevelDiscounts" } }
stages { name: "totals" components { name: "ComputeTotals" } }
)pb";

bool KindMatches(const v1::Value& value, expr::Type type) {
  switch (type) {
    case expr::Type::kString: return value.has_string_value();
    case expr::Type::kInt: return value.has_int_value();
    case expr::Type::kDouble: return value.has_double_value() || value.has_int_value();
    case expr::Type::kBool: return value.has_bool_value();
    case expr::Type::kMoney: return value.has_money_value();
    case expr::Type::kTimestamp: return value.has_time_value();
    case expr::Type::kStringList: return value.has_list_value();
    case expr::Type::kMap: return value.has_map_value();
    default: return false;
  }
}

std::string LineName(const v1::LineItem& item, int i) {
  return item.id().empty() ? Cat("line ", i + 1) : Cat("line ", i + 1, " (\"", item.id(), "\")");
}

// What each discount did in a priced basket, in order of first appearance:
// the units it awarded and what it took off (units and order adjustments),
// with its campaign from the catalog that priced it (the basket was priced
// by this snapshot or an earlier one: a discount gone since keeps "").
std::vector<OrderDiscountUse> DiscountUses(const PreparedDiscounts& prepared, const v1::PricedBasket& priced) {
  std::vector<OrderDiscountUse> uses;
  auto use_of = [&](const std::string& id) -> OrderDiscountUse& {
    for (OrderDiscountUse& u : uses) {
      if (u.discount_id == id) return u;
    }
    OrderDiscountUse& u = uses.emplace_back();
    u.discount_id = id;
    auto it = prepared.discount_by_id.find(id);
    if (it != prepared.discount_by_id.end() && prepared.discounts[it->second].item != nullptr) {
      u.campaign_id = prepared.discounts[it->second].item->campaign_id;
    }
    return u;
  };
  for (const v1::PricedLine& line : priced.lines()) {
    for (const v1::PricedUnit& unit : line.units()) {
      for (const v1::UnitDiscount& d : unit.discounts()) {
        if (d.role() != "award") continue;  // a condition unit is counted by its award
        OrderDiscountUse& u = use_of(d.discount_id());
        ++u.units;
        u.amount_minor += d.amount_minor();
      }
    }
  }
  for (const v1::OrderAdjustment& adj : priced.order_adjustments()) {
    use_of(adj.discount_id()).amount_minor += adj.amount_minor();
  }
  return uses;
}

class BasketPricerImpl final : public BasketPricer {
 public:
  absl::Status Init(std::shared_ptr<const CompiledCatalog> catalog, const PricerConfig& config) {
    config_ = config;
    registry_ = std::make_unique<Registry>(config.registry);
    RegisterDiscountComponents(registry_.get());
    const v1::PipelineDefinition& def = config.pipeline != nullptr ? *config.pipeline : DefaultBasketPipeline();
    CreateContext cc;
    cc.registry = registry_.get();
    cc.base_dir = config.base_dir;
    cc.store = config.store;
    auto pipeline = Pipeline<BasketContext>::Create(def, cc, def.name().empty() ? "basket pipeline" : def.name());
    if (!pipeline.ok()) return pipeline.status();
    pipeline_ = std::move(*pipeline);
    return SetCatalog(std::move(catalog));
  }

  absl::Status SetCatalog(std::shared_ptr<const CompiledCatalog> catalog) override {
    auto prepared = PreparedDiscounts::Prepare(std::move(catalog));
    if (!prepared.ok()) return prepared.status();
    prepared_.store(*prepared, std::memory_order_release);
    return absl::OkStatus();
  }

  absl::StatusOr<v1::PricedBasket> Price(const v1::Basket& basket,
                                         const PriceOptions& options) const override {
    v1::PricedBasket out;
    if (auto s = PriceInto(basket, options, &out); !s.ok()) return s;
    return out;
  }

  absl::Status PriceInto(const v1::Basket& basket, const PriceOptions& options,
                         v1::PricedBasket* out) const override {
    std::shared_ptr<const PreparedDiscounts> prepared = prepared_.load(std::memory_order_acquire);
    std::unique_ptr<BasketWork> work = Acquire(prepared.get());
    // Components see an empty result; the built-in totals stage takes the
    // lines back from the work and rewrites them in place (same arena only).
    if (out->GetArena() == nullptr) work->reusable_lines.Swap(out->mutable_lines());
    out->Clear();
    absl::Status status = PriceWith(*prepared, basket, options, work.get(), out);
    Release(std::move(work));
    if (!status.ok()) out->Clear();
    return status;
  }

  absl::Status Commit(const v1::Basket& basket, const v1::PricedBasket& priced) const override {
    if (config_.store == nullptr) {
      if (priced.coupons().empty()) return absl::OkStatus();  // nothing to enforce, nowhere to record
      return absl::FailedPreconditionError("basket pricer: committing coupons needs a store");
    }
    if (basket.order_id().empty()) {
      return absl::InvalidArgumentError(priced.coupons().empty()
                                            ? "basket: committing an order needs an order_id"
                                            : "basket: committing coupons needs an order_id");
    }
    CommittedOrder order;
    order.order_id = basket.order_id();
    order.customer_id = basket.customer_id();
    order.currency = priced.currency();
    order.time = basket.has_time() ? absl::FromUnixSeconds(basket.time().seconds()) +
                                         absl::Nanoseconds(basket.time().nanos())
                                   : absl::Now();
    order.subtotal_minor = priced.subtotal_minor();
    order.total_minor = priced.total_minor();
    for (const v1::CouponRedemption& r : priced.coupons()) {
      if (r.max_uses_per_customer() > 0 && basket.customer_id().empty()) {
        return absl::InvalidArgumentError(
            Cat("coupon \"", r.code(), "\" is limited per customer: the basket needs a customer_id"));
      }
      order.coupons.push_back(CouponUse{r.code(), r.max_uses(), r.max_uses_per_customer()});
    }
    order.discounts = DiscountUses(*prepared_.load(std::memory_order_acquire), priced);
    return config_.store->coupons().CommitOrder(order);
  }

 private:
  std::unique_ptr<BasketWork> Acquire(const PreparedDiscounts* prepared) const {
    std::unique_ptr<BasketWork> work;
    {
      absl::MutexLock lock(&pool_mu_);
      if (!pool_.empty()) {
        work = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    if (work == nullptr) work = std::make_unique<BasketWork>();
    work->prepared = prepared;
    if (work->prepared_generation != prepared->generation) {
      work->prepared_generation = prepared->generation;
      work->product_activation = std::make_unique<expr::Activation>(prepared->schema.schema);
      work->targeting_activation = std::make_unique<expr::Activation>(prepared->catalog->targeting().schema);
    }
    work->options = &config_.options;
    work->store = config_.store;
    return work;
  }

  void Release(std::unique_ptr<BasketWork> work) const {
    absl::MutexLock lock(&pool_mu_);
    if (pool_.size() < 64) pool_.push_back(std::move(work));
  }

  absl::Status Validate(const PreparedDiscounts& prepared, const v1::Basket& basket,
                        std::string_view currency, int currency_digits, BasketWork* work) const {
    // Every id, code and property is printed in the result and its JSON:
    // first of all, each must be UTF-8 (the errors below quote some).
    if (absl::Status s = CheckBasketStrings(basket); !s.ok()) return s;
    if (currency_digits < 0) {
      return absl::InvalidArgumentError(
          Cat("basket: currency \"", currency, "\" is not an ISO 4217 code"));
    }
    if (basket.items_size() > config_.options.max_lines) {
      return absl::InvalidArgumentError(Cat("basket: ", basket.items_size(), " lines; at most ",
                                            config_.options.max_lines, " are allowed"));
    }
    if (basket.shipping_minor() < 0) {
      return absl::InvalidArgumentError(Cat("basket: shipping_minor must be >= 0, got ", basket.shipping_minor()));
    }
    if (basket.shipping_minor() > kMaxMinorUnits) {  // the total adds it: keep it inside int64
      return absl::InvalidArgumentError(
          Cat("basket: shipping_minor must be at most ", kMaxMinorUnits, ", got ", basket.shipping_minor()));
    }
    int64_t units = 0;
    __int128 subtotal = 0;
    std::vector<std::pair<std::string_view, int>>& ids = work->line_ids;
    ids.clear();
    for (int i = 0; i < basket.items_size(); ++i) {
      const v1::LineItem& item = basket.items(i);
      auto where = [&] { return LineName(item, i); };
      if (!item.currency().empty() && item.currency() != currency) {
        return absl::InvalidArgumentError(Cat("basket: ", where(), ": currency ", item.currency(),
                                              " differs from the basket's ", currency,
                                              "; a basket has one currency"));
      }
      if (item.unit_price_minor() < 0) {
        return absl::InvalidArgumentError(
            Cat("basket: ", where(), ": unit_price_minor must be >= 0, got ", item.unit_price_minor()));
      }
      if (item.unit_price_minor() > kMaxMinorUnits) {
        return absl::InvalidArgumentError(Cat("basket: ", where(), ": unit_price_minor must be at most ",
                                              kMaxMinorUnits, ", got ", item.unit_price_minor()));
      }
      if (item.quantity() < 0) {
        return absl::InvalidArgumentError(Cat("basket: ", where(), ": quantity must be >= 0, got ", item.quantity()));
      }
      units += std::min<int64_t>(item.quantity(), config_.options.max_units + 1);
      if (units > config_.options.max_units) {
        return absl::InvalidArgumentError(Cat("basket: more than ", config_.options.max_units,
                                              " units; at most that many are allowed"));
      }
      subtotal += static_cast<__int128>(item.unit_price_minor()) * item.quantity();
      if (subtotal > (static_cast<__int128>(1) << 62)) {
        return absl::InvalidArgumentError(Cat("basket: ", where(), ": the subtotal overflows"));
      }
      if (!item.id().empty()) ids.emplace_back(item.id(), i);
      for (const auto& [name, type] : prepared.product_attributes) {
        auto it = item.properties().find(name);
        if (it == item.properties().end() || it->second.kind_case() == v1::Value::KIND_NOT_SET) continue;
        if (!KindMatches(it->second, type)) {
          return absl::InvalidArgumentError(Cat("basket: ", where(), ": property \"", name, "\" must be ",
                                                expr::TypeName(type)));
        }
      }
    }
    // Duplicate ids: hashes first (cheap to sort); only when two hashes are
    // equal are the ids sorted, so that the error names the same line as ever.
    std::vector<uint64_t>& hashes = work->line_id_hashes;
    hashes.clear();
    for (const auto& [id, i] : ids) hashes.push_back(std::hash<std::string_view>{}(id));
    std::sort(hashes.begin(), hashes.end());
    if (std::adjacent_find(hashes.begin(), hashes.end()) == hashes.end()) ids.clear();
    std::sort(ids.begin(), ids.end());
    for (size_t k = 1; k < ids.size(); ++k) {
      if (ids[k].first == ids[k - 1].first) {
        return absl::InvalidArgumentError(
            Cat("basket: ", LineName(basket.items(ids[k].second), ids[k].second), ": duplicate line id"));
      }
    }
    if (basket.coupon_codes_size() > 100) {
      return absl::InvalidArgumentError("basket: more than 100 coupon codes");
    }
    return absl::OkStatus();
  }

  absl::Status PriceWith(const PreparedDiscounts& prepared, const v1::Basket& basket,
                         const PriceOptions& options, BasketWork* work, v1::PricedBasket* out) const {
    std::string_view currency = basket.currency();
    if (currency.empty()) {
      currency = prepared.catalog->catalog().currency();
      if (currency.empty()) currency = "USD";
    }
    // ICU's lookup allocates and takes microseconds: remember the last code.
    if (currency != work->currency_code) {
      work->currency_code.assign(currency);
      work->currency_digits = CurrencyDigits(currency);
    }
    if (auto s = Validate(prepared, basket, currency, work->currency_digits, work); !s.ok()) return s;
    v1::PricedBasket& result = *out;
    Trace trace;
    BasketContext ctx;
    ctx.trace = options.explain ? &trace : nullptr;
    ctx.basket = &basket;
    ctx.catalog = prepared.catalog.get();
    if (options.now != absl::InfinitePast()) {
      ctx.now = options.now;
    } else if (basket.has_time()) {
      ctx.now = absl::FromUnixSeconds(basket.time().seconds()) + absl::Nanoseconds(basket.time().nanos());
    } else {
      ctx.now = absl::Now();
    }
    ctx.currency = currency;
    ctx.currency_digits = work->currency_digits;
    ctx.shipping_minor = basket.shipping_minor();
    // The lines live in the pooled work between calls (no allocation per call).
    ctx.lines.swap(work->lines);
    ctx.lines.clear();
    ctx.lines.reserve(static_cast<size_t>(basket.items_size()));
    while (work->index_names.size() < static_cast<size_t>(basket.items_size())) {
      work->index_names.push_back(std::to_string(work->index_names.size()));
    }
    for (int i = 0; i < basket.items_size(); ++i) {
      const v1::LineItem& item = basket.items(i);
      BasketLine line;
      line.item = &item;
      line.id = item.id().empty() ? std::string_view(work->index_names[static_cast<size_t>(i)])
                                  : std::string_view(item.id());
      line.unit_price_minor = item.unit_price_minor();
      line.quantity = item.quantity();
      ctx.lines.push_back(line);
    }
    ctx.order_adjustments.Swap(&work->order_adjustments);  // pooled: cleared ones are reused
    ctx.order_adjustments.Clear();
    ctx.result = &result;
    ctx.work = work;
    work->line_count = 0;
    work->entries_ready = false;
    work->awards_done = false;
    work->candidates.clear();
    work->reserved.clear();
    absl::Status status = pipeline_->Run(ctx);
    ctx.lines.swap(work->lines);
    ctx.order_adjustments.Swap(&work->order_adjustments);
    if (!status.ok()) return status;
    if (ctx.trace != nullptr && result.trace_size() == 0) {
      for (const TraceEntry& e : trace.entries()) {
        if (e.verdict == "timing") continue;
        v1::TraceLine* t = result.add_trace();
        t->set_component(e.component);
        t->set_subject(e.subject);
        t->set_verdict(e.verdict);
        t->set_reason(e.reason);
        t->set_value(e.value);
      }
    }
    return absl::OkStatus();
  }

  PricerConfig config_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<Pipeline<BasketContext>> pipeline_;
  std::atomic<std::shared_ptr<const PreparedDiscounts>> prepared_;
  mutable absl::Mutex pool_mu_;
  mutable std::vector<std::unique_ptr<BasketWork>> pool_ ABSL_GUARDED_BY(pool_mu_);
};

}  // namespace

const v1::PipelineDefinition& DefaultBasketPipeline() {
  static const v1::PipelineDefinition* def = [] {
    auto parsed = ParsePipelineDefinition(kBasketPipeline, "built-in basket pipeline");
    if (!parsed.ok()) std::abort();  // a built-in constant; covered by tests
    return new v1::PipelineDefinition(std::move(*parsed));
  }();
  return *def;
}

absl::StatusOr<std::unique_ptr<BasketPricer>> NewBasketPricer(
    std::shared_ptr<const CompiledCatalog> catalog, const PricerConfig& config) {
  auto pricer = std::make_unique<BasketPricerImpl>();
  if (auto s = pricer->Init(std::move(catalog), config); !s.ok()) return s;
  return std::unique_ptr<BasketPricer>(std::move(pricer));
}

std::string FormatPricedBasket(const v1::PricedBasket& priced, bool with_trace) {
  int digits = std::max(0, CurrencyDigits(priced.currency()));
  auto money = [&](int64_t v) { return Cat(FormatMinor(v, digits), " ", priced.currency()); };
  std::string out;
  for (const v1::PricedLine& line : priced.lines()) {
    CatTo(out, "line ", line.line_id(), ": ", money(line.original_total_minor()), " - ",
          money(line.discount_total_minor()));
    if (line.order_discount_minor() != 0) CatTo(out, " - ", money(line.order_discount_minor()), " (order)");
    CatTo(out, " = ", money(line.adjusted_total_minor()), "\n");
    for (int u = 0; u < line.units_size(); ++u) {
      const v1::PricedUnit& unit = line.units(u);
      CatTo(out, "  unit ", u + 1, ": ", money(unit.price_minor()));
      for (const v1::UnitDiscount& d : unit.discounts()) {
        if (d.role() == "award") {
          CatTo(out, "  ", d.discount_id(), " (priority ", d.priority(), ") -", money(d.amount_minor()));
        } else {
          CatTo(out, "  condition of ", d.discount_id());
        }
        if (!d.coupon_code().empty()) CatTo(out, " [", d.coupon_code(), "]");
      }
      out += "\n";
    }
  }
  for (const v1::OrderAdjustment& a : priced.order_adjustments()) {
    CatTo(out, "order: ", a.discount_id(), " on ", a.target(), " -", money(a.amount_minor()));
    if (!a.coupon_code().empty()) CatTo(out, " [", a.coupon_code(), "]");
    out += "\n";
  }
  CatTo(out, "subtotal ", money(priced.subtotal_minor()), "\n");
  CatTo(out, "item discounts -", money(priced.item_discount_minor()), "\n");
  CatTo(out, "order discounts -", money(priced.order_discount_minor()), "\n");
  CatTo(out, "shipping ", money(priced.shipping_minor()), " (was ", money(priced.original_shipping_minor()), ")\n");
  CatTo(out, "total ", money(priced.total_minor()), "\n");
  if (with_trace && priced.trace_size() > 0) {
    out += "explanation:\n";
    for (const v1::TraceLine& t : priced.trace()) {
      CatTo(out, "  ", t.component(), ": ", t.subject(), " ", t.verdict());
      if (!t.reason().empty()) CatTo(out, " (", t.reason(), ")");
      out += "\n";
    }
  }
  return out;
}

}  // namespace herald
