// SiteExposureLimit: the built-in ExposureLimit (selection, "filter" stage)
// re-implemented from herald/selection.h and herald/campaign_cache.h.
//
// For each candidate whose ad has an exposure limit or a frequency cap, the
// user's exposure to it (SelectionContext::exposures, filled by LoadHistory)
// is compared with, in this order: the exposure limit (count in this
// session, or in all without a session id), the daily cap, the weekly cap.
// The first that is reached removes the candidate (score 0), with the same
// trace reason the built-in gives; only the first exposure entry of an item
// is read, as the built-in does.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "herald/campaign_cache.h"
#include "herald/selection.h"
#include "site_components.h"
#include "site_components.pb.h"

namespace site {
namespace {

class SiteExposureLimit final : public herald::SelectionComponent {
 public:
  // Without the exposures LoadHistory writes ("history"), no limit could be
  // enforced: the pipeline is refused when built instead.
  herald::ComponentContract Contract() const override { return {{"candidates", "history"}, {}, {}}; }

  // Only removes candidates: the selector may prune knowing no score grows.
  double MaxScoreMultiplier(const herald::SelectionContext&) const override { return 1; }

  absl::Status Run(herald::SelectionContext& ctx) const override {
    if (ctx.exposures.empty()) return absl::OkStatus();
    for (size_t i = 0; i < ctx.candidates.size(); ++i) {
      const herald::CompiledItem& item = ctx.item(i);
      if (item.exposure_limit <= 0 && !item.frequency_capped) continue;
      const herald::Exposure* seen = FindExposure(ctx, item.index);
      if (seen == nullptr) continue;
      if (item.exposure_limit > 0 && seen->count >= item.exposure_limit) {
        ctx.MultiplyScore(i, 0, ctx.trace == nullptr ? std::string() : SessionLimitReason(ctx, item));
      } else if (item.max_per_day > 0 && seen->today >= item.max_per_day) {
        ctx.MultiplyScore(i, 0, ctx.trace == nullptr ? std::string()
                                                     : absl::StrCat("frequency cap ", item.max_per_day,
                                                                    " a day reached"));
      } else if (item.max_per_week > 0 && seen->this_week >= item.max_per_week) {
        ctx.MultiplyScore(i, 0, ctx.trace == nullptr ? std::string()
                                                     : absl::StrCat("frequency cap ", item.max_per_week,
                                                                    " a week reached"));
      }
    }
    ctx.RemoveZeroScores();
    return absl::OkStatus();
  }

 private:
  // The first exposure entry of `item` (LoadHistory writes one per item).
  static const herald::Exposure* FindExposure(const herald::SelectionContext& ctx, uint32_t item) {
    for (const herald::Exposure& e : ctx.exposures) {
      if (e.item == item) return &e;
    }
    return nullptr;
  }

  static std::string SessionLimitReason(const herald::SelectionContext& ctx,
                                        const herald::CompiledItem& item) {
    return absl::StrCat("exposure limit ", item.exposure_limit, " reached",
                        ctx.request->session_id.empty() ? "" : " in this session");
  }
};

}  // namespace

std::unique_ptr<herald::FactoryBase> SiteExposureLimitFactory() {
  return herald::MakeFactory<herald::SelectionComponent, v1::SiteExposureLimitConfig>(
      "SiteExposureLimit",
      "removes ads whose exposure limit (per session) or daily / weekly frequency cap the user reached",
      [](const v1::SiteExposureLimitConfig&, const herald::CreateContext&)
          -> absl::StatusOr<std::unique_ptr<herald::SelectionComponent>> {
        return std::make_unique<SiteExposureLimit>();
      });
}

}  // namespace site
