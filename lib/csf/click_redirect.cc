// Whether rendered ads send their clicks through the site (ClickTracking).
#include <string>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "herald/model/selection_config.pb.h"
#include "herald/selection.h"

namespace herald {

namespace {

// The format stage's rendering, as far as the definition tells it.
enum class Rendering { kNone, kRedirected, kDirect, kUnknown };

Rendering FormatStageRendering(const v1::PipelineDefinition& pipeline) {
  Rendering rendering = Rendering::kNone;
  for (const v1::Stage& stage : pipeline.stages()) {
    if (stage.name() != "format") continue;
    for (const v1::ComponentSpec& spec : stage.components()) {
      if (spec.disabled()) continue;
      if (spec.name() != "FormatTemplate") {
        // Another component renders: only its author knows where links go.
        if (rendering == Rendering::kNone) rendering = Rendering::kUnknown;
        continue;
      }
      v1::FormatTemplateConfig config;
      if (spec.has_config()) {
        (void)spec.config().UnpackTo(&config);
      } else if (!spec.json_config().empty()) {
        (void)google::protobuf::util::JsonStringToMessage(spec.json_config(), &config);
      }
      // The last FormatTemplate's output is what the winners carry.
      rendering = config.click_redirect().empty() ? Rendering::kDirect : Rendering::kRedirected;
    }
  }
  return rendering;
}

bool LinksToClickUrl(const v1::Display& d) {
  return !d.click_url().empty() && d.type() != v1::DISPLAY_TYPE_NON_CLICKABLE_IMAGE;
}

}  // namespace

std::vector<std::string> ItemsLinkingPastTheSite(const v1::Catalog& catalog,
                                                 const v1::PipelineDefinition& pipeline,
                                                 bool discounts) {
  std::vector<std::string> items;
  if (FormatStageRendering(pipeline) != Rendering::kDirect) return items;
  for (const v1::Campaign& campaign : catalog.campaigns()) {
    for (const v1::CampaignItem& item : campaign.items()) {
      if (discounts ? item.has_discount() && LinksToClickUrl(item.discount().display())
                    : item.has_ad() && LinksToClickUrl(item.ad().display())) {
        items.push_back(item.id());
      }
    }
  }
  return items;
}

}  // namespace herald
