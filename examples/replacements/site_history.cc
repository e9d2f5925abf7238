// SiteLoadHistory and SiteRecordHistory: the built-in LoadHistory and
// RecordHistory (selection, "load_context" and "record" stages)
// re-implemented from herald/selection.h, through the services the selector
// lends every component (SelectionContext::services, herald::SelectionServices):
// the users' histories, read into the context and extended with the winners.
//
// SiteLoadHistory reads the history of the request's user (or session) into
// SelectionContext::history and ::exposures, which SiteExposureLimit and
// HistoryPenalty read; anonymous requests (no user, no session) have none.
// SiteRecordHistory puts a recorded request's winners at the front of that
// history, keeping `history_size` items (35 by default, as the built-in).
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "herald/selection.h"
#include "site_components.h"
#include "site_components.pb.h"

namespace site {
namespace {

bool Anonymous(const herald::SelectionRequest& request) {
  return request.user_id.empty() && request.session_id.empty();
}

class SiteLoadHistory final : public herald::SelectionComponent {
 public:
  // Exposures count per local day and week of the request: it reads what
  // LoadContext resolved, and writes the "history" that limits read.
  herald::ComponentContract Contract() const override { return {{"request_state"}, {"history"}, {}}; }
  double MaxScoreMultiplier(const herald::SelectionContext&) const override { return 1; }

  absl::Status Run(herald::SelectionContext& ctx) const override {
    ctx.history.clear();
    ctx.exposures.clear();
    if (Anonymous(*ctx.request)) return absl::OkStatus();
    ctx.services->ReadHistory(ctx);
    if (ctx.trace != nullptr) {
      ctx.trace->Note("", "history",
                      absl::StrCat(ctx.history.size(), " recent items, ", ctx.exposures.size(),
                                   " with exposures"));
    }
    return absl::OkStatus();
  }
};

class SiteRecordHistory final : public herald::SelectionComponent {
 public:
  explicit SiteRecordHistory(int history_size) : history_size_(history_size) {}
  herald::ComponentContract Contract() const override { return {{"winners"}, {}, {}}; }
  double MaxScoreMultiplier(const herald::SelectionContext&) const override { return 1; }

  absl::Status Run(herald::SelectionContext& ctx) const override {
    // A dry run (record = false) leaves no trace in the history.
    if (!ctx.request->record || ctx.winners.empty() || Anonymous(*ctx.request)) return absl::OkStatus();
    ctx.services->AddToHistory(ctx, history_size_);
    return absl::OkStatus();
  }

 private:
  const int history_size_;
};

}  // namespace

std::unique_ptr<herald::FactoryBase> SiteLoadHistoryFactory() {
  return herald::MakeFactory<herald::SelectionComponent, v1::SiteLoadHistoryConfig>(
      "SiteLoadHistory", "reads the user's recent items and exposures through the selector's services",
      [](const v1::SiteLoadHistoryConfig&, const herald::CreateContext&)
          -> absl::StatusOr<std::unique_ptr<herald::SelectionComponent>> {
        return std::make_unique<SiteLoadHistory>();
      });
}

std::unique_ptr<herald::FactoryBase> SiteRecordHistoryFactory() {
  return herald::MakeFactory<herald::SelectionComponent, v1::SiteRecordHistoryConfig>(
      "SiteRecordHistory", "adds a recorded request's winners to the user's history",
      [](const v1::SiteRecordHistoryConfig& config, const herald::CreateContext&)
          -> absl::StatusOr<std::unique_ptr<herald::SelectionComponent>> {
        if (config.history_size() < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("SiteRecordHistory: history_size must be >= 0, got ", config.history_size()));
        }
        return std::make_unique<SiteRecordHistory>(config.history_size() == 0 ? 35 : config.history_size());
      });
}

}  // namespace site
