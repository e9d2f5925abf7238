// herald click: records a click on a shown ad (the redirect case, from the
// command line), through ContentSelector::RecordClick: the same event path as
// a storefront's click redirect, so click-goaled pacing and the reports see it.
//
//   herald click --catalog F --store URI --item ID --user U [--page-group G] [--at T]
#include <iostream>
#include <optional>

#include "absl/time/clock.h"
#include "catalog_source.h"
#include "commands.h"
#include "core/strings.h"
#include "herald/campaign_cache.h"
#include "herald/catalog.h"
#include "herald/selection.h"
#include "herald/spelling.h"
#include "herald/store.h"
#include "json_output.h"

namespace herald::cli {
namespace {

struct ClickArgs {
  std::string catalog, store, item, user, page_group, at;
  bool json = false;
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

// The catalog, compiled, after checking that it holds `a.item` and
// `a.page_group` (with the nearest name when it does not).
absl::StatusOr<std::shared_ptr<const CompiledCatalog>> LoadClickCatalog(const ClickArgs& a, const Registry& registry) {
  auto source = LoadCommandCatalog(a.catalog, a.store, registry);
  if (!source.ok()) return source.status();
  const std::string& where = source->name;
  const v1::Catalog* catalog = &source->catalog;
  auto compiled = CompiledCatalog::Compile(*catalog);
  if (!compiled.ok()) return absl::Status(compiled.status().code(), Cat(where, ": ", compiled.status().message()));
  if ((*compiled)->FindItem(a.item) == nullptr) {
    std::vector<std::string> ids;
    for (const auto& c : catalog->campaigns()) {
      for (const auto& item : c.items()) ids.push_back(item.id());
    }
    return absl::NotFoundError(Cat("--item \"", a.item, "\": no ad or discount with this id in ", where,
                                   DidYouMean(a.item, ids)));
  }
  if (!a.page_group.empty()) {
    std::vector<std::string> groups;
    for (const auto& pg : catalog->reference_tables().page_groups()) groups.push_back(pg.name());
    if (absl::Status s = CheckKnownName("page group", a.page_group, groups); !s.ok()) {
      return absl::NotFoundError(Cat("--page-group: ", s.message(), " in ", where));
    }
  }
  return *std::move(compiled);
}

// Records the click through a selector on the store and flushes it; returns
// the item's delivery (requests, clicks) afterwards.
absl::StatusOr<std::pair<int64_t, int64_t>> RecordOneClick(const ClickArgs& a, absl::Time at,
                                                            std::shared_ptr<const CompiledCatalog> compiled,
                                                            Store& store, CommandEnv& env) {
  auto known = KnownUser(store, a.user, a.item);
  if (!known.ok()) return absl::Status(known.status().code(), Cat("reading ", store.Describe(), ": ", known.status().message()));
  if (!*known) {
    return absl::NotFoundError(Cat("--user \"", a.user, "\": unknown to ", store.Describe(), " (no history, and item \"",
                                   a.item, "\" was never shown to this user); a click follows an impression ",
                                   "(herald select --user U --store URI)"));
  }
  SelectorConfig config;
  config.registry = env.registry;
  config.store = &store;
  auto selector = NewContentSelector(compiled, config);
  if (!selector.ok()) return selector.status();
  if (absl::Status s = (*selector)->RecordClick(a.item, a.user, a.page_group, at); !s.ok()) return s;
  if (absl::Status s = (*selector)->Flush(); !s.ok()) {
    return absl::Status(s.code(), Cat("recording failed: ", s.message()));
  }
  const auto [requests, clicks] = (*selector)->Delivered(a.item);
  return std::pair<int64_t, int64_t>(requests, clicks);
}

int Run(const ClickArgs& a, CommandEnv& env) {
  absl::Time at = absl::InfinitePast();  // InfinitePast = now
  if (!a.at.empty()) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, a.at, &at, &err)) {
      return ReportError("click", absl::InvalidArgumentError(Cat("--at \"", a.at,
                                                                 "\" is not an RFC 3339 time (2026-06-01T17:00:00Z)")),
                         a.json, 2);
    }
  }
  if (a.user.empty()) return ReportError("click", absl::InvalidArgumentError("--user must not be empty"), a.json, 2);
  auto compiled = LoadClickCatalog(a, *env.registry);
  if (!compiled.ok()) return ReportError("click", compiled.status(), a.json, 1);
  auto store = OpenStore(a.store, *env.registry);
  if (!store.ok()) return ReportError("click", store.status(), a.json, 1);
  auto delivered = RecordOneClick(a, at, *compiled, **store, env);
  if (!delivered.ok()) return ReportError("click", delivered.status(), a.json, 1);
  const auto [requests, clicks] = *delivered;
  if (a.json) {
    PrintJson({{"recorded", true}, {"item", a.item}, {"user", a.user}, {"page_group", a.page_group},
               {"requests", requests}, {"clicks", clicks}, {"store", (*store)->Describe()}});
  } else {
    std::cout << "click recorded: item \"" << a.item << "\", user \"" << a.user << "\"; the item has "
              << requests << " requests and " << clicks << " clicks in " << (*store)->Describe() << "\n";
  }
  return 0;
}

}  // namespace

void AddClickCommand(CLI::App& app, CommandEnv& env) {
  auto a = std::make_shared<ClickArgs>();
  auto* cmd = app.add_subcommand("click", "record a click on a shown ad (click-goaled pacing, reports)");
  cmd->add_option("--catalog", a->catalog, "catalog file (default: the current catalog of --store)");
  cmd->add_option("--store", a->store, "the store the ad was served from (sqlite path or postgresql://)")
      ->required();
  cmd->add_option("--item", a->item, "id of the ad (or discount ad) clicked")->required();
  cmd->add_option("--user", a->user, "id of the user who clicked")->required();
  cmd->add_option("--page-group", a->page_group, "page group the ad was on");
  cmd->add_option("--at", a->at, "click time, RFC 3339 (default: now)");
  cmd->add_flag("--json", a->json, "the result (and errors) as JSON on stdout");
  cmd->callback([a, &env] { env.exit_code = Run(*a, env); });
}

}  // namespace herald::cli
