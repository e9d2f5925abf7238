// Adapts a plugin's C basket component (herald/plugin_abi.h,
// herald_basket_view) to a BasketComponent: the plugin sees the basket's
// lines, amounts and user through the view and gives order and shipping
// discounts through BasketContext's own AddSubtotalDiscount /
// AddShippingDiscount, so that its awards are spread and totalled exactly as
// the built-ins' are.
#include <memory>
#include <string>

#include "core/plugin_adapters.h"
#include "herald/discount.h"

namespace herald {
namespace {

using internal::Str;
using internal::View;

BasketContext& Ctx(void* p) { return *static_cast<BasketContext*>(p); }

herald_str Currency(void* p) { return Str(Ctx(p).currency); }
int32_t CurrencyDigits(void* p) { return Ctx(p).currency_digits; }

int UserValue(void* p, const char* name, herald_value* out) {
  const BasketContext& ctx = Ctx(p);
  if (ctx.basket == nullptr || name == nullptr || out == nullptr) return 0;
  const auto& values = ctx.basket->user().values();
  auto it = values.find(name);
  return it != values.end() && internal::ToPluginValue(it->second, out) ? 1 : 0;
}

size_t LineCount(void* p) { return Ctx(p).lines.size(); }

const BasketLine* Line(void* p, size_t line) {
  const BasketContext& ctx = Ctx(p);
  return line < ctx.lines.size() ? &ctx.lines[line] : nullptr;
}

int LineValue(void* p, size_t index, const char* name, herald_value* out) {
  const BasketLine* line = Line(p, index);
  if (line == nullptr || line->item == nullptr || name == nullptr || out == nullptr) return 0;
  const std::string_view key = name;
  auto text = [&](std::string_view value) {
    *out = herald_value{};
    out->kind = HERALD_VALUE_STRING;
    out->text = Str(value);
    return 1;
  };
  if (key == "id") return text(line->id);
  if (key == "product_id") return text(line->item->product_id());
  if (key == "category") return text(line->item->category());
  auto it = line->item->properties().find(std::string(key));
  return it != line->item->properties().end() && internal::ToPluginValue(it->second, out) ? 1 : 0;
}

int64_t LineQuantity(void* p, size_t line) { return Line(p, line) ? Line(p, line)->quantity : 0; }
int64_t LineUnitPrice(void* p, size_t line) { return Line(p, line) ? Line(p, line)->unit_price_minor : 0; }
int64_t LineAdjustedTotal(void* p, size_t line) { return Line(p, line) ? Line(p, line)->adjusted_total() : 0; }
int64_t DiscountedSubtotal(void* p) { return Ctx(p).DiscountedSubtotal(); }
int64_t Shipping(void* p) { return Ctx(p).shipping_minor; }

using AddDiscount = absl::StatusOr<int64_t> (BasketContext::*)(std::string_view, std::string_view, v1::OfferKind,
                                                              int64_t, std::string_view);

herald_code Add(AddDiscount add, void* p, herald_str id, herald_str name, int32_t kind, int64_t amount,
                herald_str coupon, int64_t* applied, herald_error* error) {
  auto fail = [&](herald_code code, const std::string& message) {
    if (error != nullptr && error->set != nullptr) error->set(error, message.c_str());
    return code;
  };
  if (!v1::OfferKind_IsValid(kind) || kind == v1::OFFER_KIND_UNSPECIFIED) {
    return fail(HERALD_INVALID_ARGUMENT, "kind " + std::to_string(kind) + " is not a herald.v1.OfferKind");
  }
  if (View(id).empty()) return fail(HERALD_INVALID_ARGUMENT, "a discount needs an id");
  absl::StatusOr<int64_t> done =
      (Ctx(p).*add)(View(id), View(name), static_cast<v1::OfferKind>(kind), amount, View(coupon));
  if (!done.ok()) return fail(HERALD_INVALID_ARGUMENT, std::string(done.status().message()));
  if (applied != nullptr) *applied = *done;
  return HERALD_OK;
}

herald_code AddSubtotal(void* p, herald_str id, herald_str name, int32_t kind, int64_t amount, herald_str coupon,
                        int64_t* applied, herald_error* error) {
  return Add(&BasketContext::AddSubtotalDiscount, p, id, name, kind, amount, coupon, applied, error);
}
herald_code AddShipping(void* p, herald_str id, herald_str name, int32_t kind, int64_t amount, herald_str coupon,
                        int64_t* applied, herald_error* error) {
  return Add(&BasketContext::AddShippingDiscount, p, id, name, kind, amount, coupon, applied, error);
}

void Note(void* p, herald_str subject, herald_str verdict, herald_str reason, double value) {
  Ctx(p).Note(View(subject), View(verdict), View(reason), value);
}
int Tracing(void* p) { return Ctx(p).trace != nullptr; }

class PluginBasketComponent final : public BasketComponent {
 public:
  explicit PluginBasketComponent(std::unique_ptr<internal::PluginInstance> plugin) : plugin_(std::move(plugin)) {}

  ComponentContract Contract() const override { return internal::PluginContract(plugin_->desc); }

  absl::Status Run(BasketContext& ctx) const override {
    herald_basket_view view{&ctx,          &Currency,      &CurrencyDigits,     &UserValue,
                            &LineCount,    &LineValue,     &LineQuantity,       &LineUnitPrice,
                            &LineAdjustedTotal, &DiscountedSubtotal, &Shipping, &AddSubtotal,
                            &AddShipping,  &Note,          &Tracing};
    internal::ErrorSink sink;
    const herald_code code = plugin_->desc.run(plugin_->instance, &view, &sink.error);
    return code == HERALD_OK ? absl::OkStatus() : sink.ToStatus(code, plugin_->desc.name);
  }

 private:
  std::unique_ptr<internal::PluginInstance> plugin_;
};

}  // namespace

namespace internal {
absl::StatusOr<std::unique_ptr<FactoryBase>> MakeBasketPluginFactory(const herald_component_desc& desc,
                                                                      const std::string& plugin) {
  return MakePluginFactory(kBasketFamily.name, desc, plugin, [](std::unique_ptr<PluginInstance> instance) {
    return std::unique_ptr<Extension>(new PluginBasketComponent(std::move(instance)));
  });
}

// Plugins of this module's family load wherever the module is linked in.
[[maybe_unused]] const bool kBasketAdapted = AddPluginFamily("basket", &MakeBasketPluginFactory);
}  // namespace internal

}  // namespace herald
