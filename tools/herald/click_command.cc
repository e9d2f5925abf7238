// herald click: records a click on a shown ad (the redirect case, from the
// command line), through ContentSelector::RecordClick: the same event path as
// a storefront's click redirect, so click-goaled pacing and the reports see it.
//
//   herald click --catalog F --store URI --item ID --user U [--page-group G] [--at T]
#include <iostream>
#include <optional>

#include "absl/time/clock.h"
#include "commands.h"
#include "core/strings.h"
#include "herald/campaign_cache.h"
#include "herald/catalog.h"
#include "herald/selection.h"
#include "herald/store.h"

namespace herald::cli {
namespace {

struct ClickArgs {
  std::string catalog, store, item, user, page_group, at;
};

// Whether the store has seen `user`: a saved history, or a request event of
// `item` shown to them. A click comes after an impression; a user the store
// never served is almost always a typo or the wrong store.
absl::StatusOr<bool> KnownUser(Store& store, const std::string& user, const std::string& item) {
  auto history = store.history().LoadHistory(user);
  if (!history.ok()) return history.status();
  if (history->has_value()) return true;
  bool shown = false;
  EventQuery query;
  query.item_id = item;
  absl::Status scanned = store.events().ScanEvents(query, [&](const v1::Event& e) -> absl::Status {
    if (e.type() == v1::EVENT_TYPE_REQUEST && e.user_id() == user) {
      shown = true;
      return absl::CancelledError("found");  // stops the scan
    }
    return absl::OkStatus();
  });
  if (!scanned.ok() && !shown) return scanned;
  return shown;
}

bool KnownPageGroup(const v1::Catalog& catalog, const std::string& name) {
  for (const auto& pg : catalog.reference_tables().page_groups()) {
    if (pg.name() == name) return true;
  }
  return false;
}

int Run(const ClickArgs& a, CommandEnv& env) {
  absl::Time at = absl::InfinitePast();  // InfinitePast = now
  if (!a.at.empty()) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, a.at, &at, &err)) {
      std::cerr << "herald click: --at \"" << a.at << "\" is not an RFC 3339 time (2026-06-01T17:00:00Z)\n";
      return 2;
    }
  }
  if (a.user.empty()) {
    std::cerr << "herald click: --user must not be empty\n";
    return 2;
  }
  auto catalog = LoadCatalog(a.catalog);
  if (!catalog.ok()) {
    std::cerr << catalog.status().message() << "\n";
    return 1;
  }
  auto compiled = CompiledCatalog::Compile(*catalog);
  if (!compiled.ok()) {
    std::cerr << a.catalog << ": " << compiled.status().message() << "\n";
    return 1;
  }
  if ((*compiled)->FindItem(a.item) == nullptr) {
    std::cerr << "herald click: --item \"" << a.item << "\": no ad or discount with this id in "
              << a.catalog << "\n";
    return 1;
  }
  if (!a.page_group.empty() && !KnownPageGroup(*catalog, a.page_group)) {
    std::cerr << "herald click: --page-group \"" << a.page_group << "\": no page group of this name in "
              << a.catalog << "\n";
    return 1;
  }
  auto store = OpenStore(a.store, *env.registry);
  if (!store.ok()) {
    std::cerr << "herald click: " << store.status().message() << "\n";
    return 1;
  }
  auto known = KnownUser(**store, a.user, a.item);
  if (!known.ok()) {
    std::cerr << "herald click: reading " << (*store)->Describe() << ": " << known.status().message() << "\n";
    return 1;
  }
  if (!*known) {
    std::cerr << "herald click: --user \"" << a.user << "\": unknown to " << (*store)->Describe()
              << " (no history, and item \"" << a.item << "\" was never shown to this user); "
              << "a click follows an impression (herald select --user U --store URI)\n";
    return 1;
  }
  SelectorConfig config;
  config.registry = env.registry;
  config.store = store->get();
  auto selector = NewContentSelector(*compiled, config);
  if (!selector.ok()) {
    std::cerr << "herald click: " << selector.status().message() << "\n";
    return 1;
  }
  if (absl::Status s = (*selector)->RecordClick(a.item, a.user, a.page_group, at); !s.ok()) {
    std::cerr << "herald click: " << s.message() << "\n";
    return 1;
  }
  if (absl::Status s = (*selector)->Flush(); !s.ok()) {
    std::cerr << "herald click: recording failed: " << s.message() << "\n";
    return 1;
  }
  const auto [requests, clicks] = (*selector)->Delivered(a.item);
  std::cout << "click recorded: item \"" << a.item << "\", user \"" << a.user << "\"; the item has "
            << requests << " requests and " << clicks << " clicks in " << (*store)->Describe() << "\n";
  return 0;
}

}  // namespace

void AddClickCommand(CLI::App& app, CommandEnv& env) {
  auto a = std::make_shared<ClickArgs>();
  auto* cmd = app.add_subcommand("click", "record a click on a shown ad (click-goaled pacing, reports)");
  cmd->add_option("--catalog", a->catalog, "catalog file")->required();
  cmd->add_option("--store", a->store, "the store the ad was served from (sqlite path or postgresql://)")
      ->required();
  cmd->add_option("--item", a->item, "id of the ad (or discount ad) clicked")->required();
  cmd->add_option("--user", a->user, "id of the user who clicked")->required();
  cmd->add_option("--page-group", a->page_group, "page group the ad was on");
  cmd->add_option("--at", a->at, "click time, RFC 3339 (default: now)");
  cmd->callback([a, &env] { env.exit_code = Run(*a, env); });
}

}  // namespace herald::cli
