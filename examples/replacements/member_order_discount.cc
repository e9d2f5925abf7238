// MemberOrderDiscount: an order-level discount of the basket pipeline
// ("order_level" stage), written against herald/discount.h.
//
// When the basket's user has the configured bool attribute set to true
// ("premier") and the subtotal after the discounts so far reaches
// min_subtotal_minor, `percent` of that subtotal comes off through
// BasketContext::AddSubtotalDiscount, which spreads it over the lines by
// largest remainder exactly as the built-in order-subtotal offers are
// spread, so the priced basket's lines, units and totals stay consistent.
// Percentages are exact basis points rounded half up once, as the built-in
// OFFER_KIND_ORDER_PERCENT_OFF is.
#include <cmath>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "herald/discount.h"
#include "site_components.h"
#include "site_components.pb.h"

namespace site {
namespace {

constexpr char kName[] = "MemberOrderDiscount";

// amount * basis_points / 10000 rounded half up, without overflow.
int64_t PercentOf(int64_t amount, int64_t basis_points) {
  const __int128 scaled = static_cast<__int128>(amount) * basis_points;
  return static_cast<int64_t>((scaled + 5000) / 10000);
}

class MemberOrderDiscount final : public herald::BasketComponent {
 public:
  MemberOrderDiscount(const v1::MemberOrderDiscountConfig& config, int64_t basis_points)
      : config_(config), basis_points_(basis_points),
        name_(config.name().empty() ? config.discount_id() : config.name()) {}

  // Reads the lines after the item discounts ("unit_awards", written by
  // ApplyDiscounts), so it can only run after them; writes an adjustment.
  herald::ComponentContract Contract() const override {
    return {{"unit_awards"}, {"order_adjustments"}, {}};
  }

  absl::Status Run(herald::BasketContext& ctx) const override {
    if (ctx.basket == nullptr) return absl::FailedPreconditionError(absl::StrCat(kName, ": no basket"));
    absl::StatusOr<bool> member = IsMember(*ctx.basket);
    if (!member.ok()) return member.status();
    const std::string& id = config_.discount_id();
    if (!*member) {
      if (ctx.trace != nullptr) {
        ctx.Note(id, "skipped", absl::StrCat("user.", config_.user_attribute(), " is not true"));
      }
      return absl::OkStatus();
    }
    const int64_t subtotal = ctx.DiscountedSubtotal();
    if (subtotal < config_.min_subtotal_minor() || subtotal == 0) {
      if (ctx.trace != nullptr) {
        ctx.Note(id, "skipped",
                 absl::StrCat("discounted subtotal ", Money(ctx, subtotal), " is below the minimum ",
                              Money(ctx, config_.min_subtotal_minor())));
      }
      return absl::OkStatus();
    }
    absl::StatusOr<int64_t> applied =
        ctx.AddSubtotalDiscount(id, name_, herald::v1::OFFER_KIND_ORDER_PERCENT_OFF,
                                PercentOf(subtotal, basis_points_));
    if (!applied.ok()) return applied.status();
    if (ctx.trace != nullptr) {
      ctx.Note(id, "applied",
               absl::StrCat(config_.percent(), "% off the discounted subtotal ", Money(ctx, subtotal),
                            " for user.", config_.user_attribute(), ": ", Money(ctx, *applied)),
               static_cast<double>(*applied));
    }
    return absl::OkStatus();
  }

 private:
  // Absent = not a member; a value of another type is the storefront's
  // mistake, refused as the pricer refuses a property of the wrong type.
  absl::StatusOr<bool> IsMember(const herald::v1::Basket& basket) const {
    const auto& values = basket.user().values();
    auto it = values.find(config_.user_attribute());
    if (it == values.end()) return false;
    if (it->second.kind_case() != herald::v1::Value::kBoolValue) {
      return absl::InvalidArgumentError(absl::StrCat(kName, " \"", config_.discount_id(), "\": user.",
                                                     config_.user_attribute(), " must be a bool"));
    }
    return it->second.bool_value();
  }

  static std::string Money(const herald::BasketContext& ctx, int64_t minor) {
    return absl::StrCat(herald::FormatMinor(minor, ctx.currency_digits), " ", std::string(ctx.currency));
  }

  const v1::MemberOrderDiscountConfig config_;
  const int64_t basis_points_;
  const std::string name_;
};

absl::StatusOr<std::unique_ptr<herald::BasketComponent>> MakeMemberOrderDiscount(
    const v1::MemberOrderDiscountConfig& config, const herald::CreateContext&) {
  auto invalid = [](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(kName, " config: ", what));
  };
  if (config.discount_id().empty()) return invalid("discount_id is required");
  if (config.user_attribute().empty()) return invalid("user_attribute is required");
  if (config.min_subtotal_minor() < 0) return invalid("min_subtotal_minor must be >= 0");
  // As Offer.percent: 0 < percent <= 100 with at most two decimals.
  const std::string percent_rule =
      absl::StrCat("percent ", config.percent(), " must be in (0, 100] with at most two decimals");
  if (!(config.percent() > 0 && config.percent() <= 100)) return invalid(percent_rule);
  const double hundredths = config.percent() * 100;
  const int64_t basis_points = std::llround(hundredths);
  if (std::abs(hundredths - static_cast<double>(basis_points)) > 1e-6) return invalid(percent_rule);
  return std::make_unique<MemberOrderDiscount>(config, basis_points);
}

}  // namespace

std::unique_ptr<herald::FactoryBase> MemberOrderDiscountFactory() {
  return herald::MakeFactory<herald::BasketComponent, v1::MemberOrderDiscountConfig>(
      std::string(kName), "percent off the discounted order subtotal for users with a bool attribute set",
      MakeMemberOrderDiscount);
}

}  // namespace site
