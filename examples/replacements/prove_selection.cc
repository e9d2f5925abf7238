// Selection: the built-in advertising pipeline and the same pipeline with
// SiteLoadHistory, SiteExposureLimit and SiteRecordHistory in the places of
// LoadHistory, ExposureLimit and RecordHistory (or, for the plugins, the
// built-ins with PluginExposureLimit in place of ExposureLimit), each selector on its own
// memory store, answer the same 400 requests (users, sessions, times over
// two weeks). Every request must get the same winners from both, and the
// two components must have removed the same ads for the same reasons; the
// limits must bite (each of the three rules removes something).
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/util/message_differencer.h"
#include "driver.h"
#include "herald/campaign_cache.h"
#include "herald/selection.h"
#include "herald/store.h"

namespace site::driver {
namespace {

constexpr int kRequests = 400;

// The site's definition, renamed back, must be the built-in one: the
// components are the only difference between the two selectors.
absl::Status CheckOnlyReplacementsDiffer(const herald::v1::PipelineDefinition& site) {
  const std::map<std::string, std::string> builtin_of = {{"SiteExposureLimit", "ExposureLimit"},
                                                         {"SiteLoadHistory", "LoadHistory"},
                                                         {"SiteRecordHistory", "RecordHistory"}};
  herald::v1::PipelineDefinition renamed = site;
  size_t replaced = 0;
  for (auto& stage : *renamed.mutable_stages()) {
    for (auto& component : *stage.mutable_components()) {
      auto it = builtin_of.find(component.name());
      if (it == builtin_of.end()) continue;
      component.set_name(it->second);
      ++replaced;
    }
  }
  if (replaced != builtin_of.size() ||
      !google::protobuf::util::MessageDifferencer::Equals(renamed, herald::DefaultAdvertisingPipeline())) {
    return absl::FailedPreconditionError(
        "pipelines/advertising.textproto is not the built-in advertising pipeline with LoadHistory, "
        "ExposureLimit and RecordHistory replaced");
  }
  return absl::OkStatus();
}

// Request i: four users taking turns, a new session every fifth request of
// a user, every seventh request without a session id (exposures then count
// across sessions), 50 minutes apart from Monday 2 March 2026 06:00 UTC.
herald::SelectionRequest MakeRequest(int i) {
  herald::SelectionRequest request;
  request.page_groups = {"Home"};
  request.size = "Banner";
  request.count = 2;
  const int user = i % 4, turn = i / 4;
  request.user_id = absl::StrCat("user-", user);
  if (i % 7 != 3) request.session_id = absl::StrCat("user-", user, "-session-", turn / 5);
  request.time = absl::FromCivil(absl::CivilMinute(2026, 3, 2, 6, 0), absl::UTCTimeZone()) + absl::Minutes(50) * i;
  request.trace = true;
  return request;
}

// What the exposure component (by label) removed, in order.
std::vector<std::tuple<std::string, std::string, std::string>> Removed(const herald::Trace& trace,
                                                                      std::string_view label) {
  std::vector<std::tuple<std::string, std::string, std::string>> out;
  for (const herald::TraceEntry& e : trace.entries()) {
    if (e.component == label && e.verdict != "timing") out.emplace_back(e.subject, e.verdict, e.reason);
  }
  return out;
}

std::vector<std::string> WinnerIds(const herald::SelectionResult& result) {
  std::vector<std::string> ids;
  for (const herald::SelectedItem& w : result.winners) ids.emplace_back(w.item_id);
  return ids;
}

struct Selectors {
  std::unique_ptr<herald::Store> builtin_store = herald::NewMemoryStore();
  std::unique_ptr<herald::Store> site_store = herald::NewMemoryStore();
  std::unique_ptr<herald::ContentSelector> builtin, site;
};

absl::StatusOr<Selectors> MakeSelectors(std::shared_ptr<const herald::CompiledCatalog> catalog,
                                        const herald::Registry& registry,
                                        const herald::v1::PipelineDefinition& site_pipeline) {
  herald::SelectorOptions options;
  options.seed = 2026;  // the same house-ad draws in both
  options.session_timeout = absl::Hours(24);
  Selectors s;
  herald::SelectorConfig config;
  config.options = options;
  config.registry = &registry;
  config.store = s.builtin_store.get();  // advertising = null: DefaultAdvertisingPipeline()
  auto builtin = herald::NewContentSelector(catalog, config);
  if (!builtin.ok()) return builtin.status();
  config.store = s.site_store.get();
  config.advertising = &site_pipeline;
  auto site = herald::NewContentSelector(catalog, config);
  if (!site.ok()) return site.status();
  s.builtin = *std::move(builtin);
  s.site = *std::move(site);
  return s;
}

}  // namespace

absl::StatusOr<std::string> ProveSelection(const std::string& dir, const Variant& variant) {
  auto catalog = herald::CompiledCatalog::Load(dir + "/catalog.textproto");
  if (!catalog.ok()) return catalog.status();
  auto site_pipeline = herald::LoadPipelineDefinition(dir + "/pipelines/advertising.textproto");
  if (!site_pipeline.ok()) return site_pipeline.status();
  if (absl::Status s = CheckOnlyReplacementsDiffer(*site_pipeline); !s.ok()) return s;
  *site_pipeline = variant.Renamed(*std::move(site_pipeline));
  const std::string exposure_limit = variant.Name("SiteExposureLimit");
  herald::Registry registry;
  if (absl::Status s = RegisterAll(&registry); !s.ok()) return s;
  auto selectors = MakeSelectors(*catalog, registry, *site_pipeline);
  if (!selectors.ok()) return selectors.status();

  int limited = 0;
  std::map<std::string, int> by_rule;  // "exposure limit", "frequency cap ... a day", "... a week"
  for (int i = 0; i < kRequests; ++i) {
    const herald::SelectionRequest request = MakeRequest(i);
    auto builtin = selectors->builtin->Select(request);
    auto site = selectors->site->Select(request);
    if (!builtin.ok()) return builtin.status();
    if (!site.ok()) return site.status();
    const auto expected = WinnerIds(*builtin), got = WinnerIds(*site);
    if (expected != got) {
      return absl::FailedPreconditionError(absl::StrCat("request ", i, " (", request.user_id, ", session \"",
                                                        request.session_id, "\"): the built-in pipeline chose [",
                                                        absl::StrJoin(expected, ", "), "], the site's [",
                                                        absl::StrJoin(got, ", "), "]"));
    }
    const auto removed = Removed(builtin->trace, "ExposureLimit");
    if (removed != Removed(site->trace, exposure_limit)) {
      return absl::FailedPreconditionError(
          absl::StrCat("request ", i, ": ", exposure_limit, " did not remove what ExposureLimit removed"));
    }
    if (!removed.empty()) ++limited;
    for (const auto& [item, verdict, reason] : removed) {
      ++by_rule[absl::StrContains(reason, "exposure limit") ? "session"
                : absl::StrContains(reason, "a day")      ? "day"
                                                          : "week"];
    }
  }
  if (absl::Status s = Expect(by_rule["session"] > 0 && by_rule["day"] > 0 && by_rule["week"] > 0,
                              "the limits did not bite: some rule of the catalog never removed an ad");
      !s.ok()) {
    return s;
  }
  return absl::StrCat(variant.Name("SiteLoadHistory"), ", ", exposure_limit, " and ",
                      variant.Name("SiteRecordHistory"), " match the built-ins on ", kRequests, " requests (", limited,
                      " limited; ads removed ", by_rule["session"], " times by session limits, ", by_rule["day"],
                      " by daily caps, ", by_rule["week"], " by weekly caps)");
}

}  // namespace site::driver
