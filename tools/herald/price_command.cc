// herald price: price a basket with the catalog's discounts and explain it.
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/time/clock.h"
#include "catalog_source.h"
#include "commands.h"
#include "core/proto_io.h"
#include "core/strings.h"
#include "json_output.h"
#include "core/input_check.h"
#include "google/protobuf/util/json_util.h"
#include "herald/campaign_cache.h"
#include "herald/catalog.h"
#include "herald/discount.h"
#include "herald/store.h"

namespace herald::cli {

namespace {

struct PriceArgs {
  std::string catalog, basket, at, store;
  std::vector<std::string> profile, context, clicked, coupons;
  bool json = false, no_explain = false, commit = false;
};

int Run(const PriceArgs& a, CommandEnv& env) {
  if (a.commit && a.store.empty()) {
    return ReportError("price", absl::InvalidArgumentError("--commit needs --store (where redemptions are kept)"),
                       a.json, 2);
  }
  auto source = LoadCommandCatalog(a.catalog, a.store, *env.registry);
  if (!source.ok()) {
    std::cerr << source.status().message() << "\n";
    return absl::IsInvalidArgument(source.status()) && a.catalog.empty() ? 2 : 1;
  }
  absl::StatusOr<v1::Catalog> catalog = std::move(source->catalog);
  std::ifstream in(a.basket);
  if (!in) {
    std::cerr << "herald price: cannot read basket file \"" << a.basket << "\"\n";
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  if (absl::Status s = CheckTextIsUtf8(text.str(), a.basket); !s.ok()) {
    std::cerr << "herald price: " << s.message() << "\n";
    return 1;
  }
  v1::Basket basket;
  // ParseJsonProto takes every enum spelling and names the file.
  if (absl::Status s = ParseJsonProto(text.str(), a.basket, &basket); !s.ok()) {
    std::cerr << "herald price: not a herald.v1.Basket in JSON: " << s.message() << "\n";
    return 1;
  }
  auto user = ParseProfileAssignments(*catalog, "user", a.profile);
  auto context = ParseProfileAssignments(*catalog, "context", a.context);
  if (!user.ok() || !context.ok()) {
    std::cerr << "herald price: " << (!user.ok() ? user.status() : context.status()).message() << "\n";
    return 2;
  }
  for (const auto& [k, v] : user->values()) (*basket.mutable_user()->mutable_values())[k] = v;
  for (const auto& [k, v] : context->values()) (*basket.mutable_context()->mutable_values())[k] = v;
  for (const auto& c : a.clicked) basket.add_clicked_items(c);
  for (const auto& c : a.coupons) basket.add_coupon_codes(c);
  PriceOptions options;
  options.explain = !a.no_explain;
  if (!a.at.empty()) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, a.at, &options.now, &err)) {
      std::cerr << "herald price: --at \"" << a.at << "\" is not an RFC 3339 time (2026-06-01T17:00:00Z)\n";
      return 2;
    }
  }
  auto compiled = CompiledCatalog::Compile(*catalog);
  if (!compiled.ok()) {
    std::cerr << source->name << ": " << compiled.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<Store> store;
  if (!a.store.empty()) {
    auto opened = OpenStore(a.store, *env.registry);
    if (!opened.ok()) {
      std::cerr << "herald price: " << opened.status().message() << "\n";
      return 1;
    }
    store = std::move(*opened);
  }
  PricerConfig config;
  config.registry = env.registry;
  config.store = store.get();
  auto pricer = NewBasketPricer(*compiled, config);
  if (!pricer.ok()) {
    std::cerr << "herald price: " << pricer.status().message() << "\n";
    return 1;
  }
  auto priced = (*pricer)->Price(basket, options);
  if (!priced.ok()) {
    std::cerr << "herald price: " << priced.status().message() << "\n";
    return 1;
  }
  // A commit is checked before anything is printed: a refused commit (a
  // coupon over its limit, an order already recorded) must not leave a
  // discounted total on the screen as if it had been granted.
  if (a.commit) {
    if (absl::Status s = (*pricer)->Commit(basket, *priced); !s.ok()) {
      return ReportError("price", absl::Status(s.code(), Cat("commit refused, nothing redeemed: ", s.message())),
                         a.json);
    }
  }
  if (a.json) {
    PrintJson(ProtoToJson(*priced));
  } else {
    std::cout << FormatPricedBasket(*priced, options.explain);
    if (a.commit) std::cout << "committed " << priced->coupons_size() << " coupon code(s)\n";
  }
  return 0;
}

}  // namespace

void AddPriceCommand(CLI::App& app, CommandEnv& env) {
  auto a = std::make_shared<PriceArgs>();
  auto* cmd = app.add_subcommand("price", "price a basket with the catalog's discounts and explain every adjustment");
  cmd->add_option("--catalog", a->catalog, "catalog file (default: the current catalog of --store)");
  cmd->add_option("--basket", a->basket, "basket file: a herald.v1.Basket in JSON")->required();
  cmd->add_option("--profile", a->profile, "user attribute name=value (repeatable)");
  cmd->add_option("--context", a->context, "context attribute name=value (repeatable)");
  cmd->add_option("--clicked", a->clicked, "campaign item id the user clicked (repeatable)");
  cmd->add_option("--coupon", a->coupons, "coupon code (repeatable)");
  cmd->add_option("--at", a->at, "pricing time, RFC 3339 (default: the basket's time, else now)");
  cmd->add_option("--store", a->store, "store for --commit (sqlite path or postgresql://)");
  cmd->add_flag("--commit", a->commit, "redeem the applied coupon codes (needs --store and the basket's order_id)");
  cmd->add_flag("--no-explain", a->no_explain, "leave the explanation out");
  cmd->add_flag("--json", a->json, "JSON output (herald.v1.PricedBasket)");
  cmd->callback([a, &env] { env.exit_code = Run(*a, env); });
}

}  // namespace herald::cli
