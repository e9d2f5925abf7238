// libFuzzer target for baskets: the input is a herald.v1.Basket in JSON,
// priced with the example storefront's discounts (percent, amount, fixed
// price, shipping, order discounts, coupons). A basket that prices must add
// up (subtotal - discounts + shipping = total) and print as JSON. No input
// may crash, hang, leak, throw or overflow (UBSan): the pricer bounds money
// and units before any arithmetic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/input_check.h"
#include "core/proto_io.h"
#include "google/protobuf/util/json_util.h"
#include "herald/campaign_cache.h"
#include "herald/discount.h"

namespace {

herald::BasketPricer* Pricer() {
  static herald::BasketPricer* pricer = [] {
    auto compiled = herald::CompiledCatalog::Load(HERALD_FUZZ_CATALOG);
    if (!compiled.ok()) std::abort();
    auto made = herald::NewBasketPricer(*compiled, herald::PricerConfig{});
    if (!made.ok()) std::abort();
    return made->release();
  }();
  return pricer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!herald::CheckTextIsUtf8(text, "fuzz.json").ok()) return 0;
  herald::v1::Basket basket;
  if (!herald::ParseJsonProto(text, "fuzz.json", &basket).ok()) return 0;
  herald::PriceOptions options;
  options.now = absl::FromUnixSeconds(1795521600);  // 2026-11-24 12:00 UTC: the example's offers run
  auto priced = Pricer()->Price(basket, options);
  if (!priced.ok()) {
    if (priced.status().message().empty()) __builtin_trap();
    return 0;
  }
  const auto& p = *priced;
  if (p.subtotal_minor() - p.item_discount_minor() - p.order_discount_minor() + p.shipping_minor() !=
      p.total_minor()) {
    __builtin_trap();
  }
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(p, &json).ok()) __builtin_trap();
  return 0;
}
