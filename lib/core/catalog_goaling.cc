// Goal splits and the goaling switch of herald/catalog.h.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "core/strings.h"
#include "herald/catalog.h"

namespace herald {

namespace {

bool IsPaidAd(const v1::CampaignItem& item) {
  return item.has_ad() && item.ad().type() != v1::AD_TYPE_HOUSE;
}

std::string ItemLabel(const v1::CampaignItem& item) {
  return Cat("ad \"", item.name().empty() ? item.id() : item.name(), "\"");
}

// The weight a quantity becomes: exact for every quantity validation allows.
std::string WeightText(double w) {
  return w == std::floor(w) ? Cat(static_cast<int64_t>(w)) : Cat(w);
}

}  // namespace

std::vector<int64_t> SplitByWeight(int64_t quantity, std::span<const double> weights) {
  std::vector<int64_t> out(weights.size(), 0);
  double total = 0;
  for (double w : weights) total += w > 0 ? w : 0;
  if (total <= 0 || quantity <= 0) return out;
  std::vector<std::pair<double, size_t>> remainders;
  int64_t assigned = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const double exact = static_cast<double>(quantity) * (weights[i] > 0 ? weights[i] : 0) / total;
    out[i] = static_cast<int64_t>(std::floor(exact + 1e-9));
    assigned += out[i];
    remainders.emplace_back(exact - static_cast<double>(out[i]), i);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; assigned < quantity && k < remainders.size(); ++k, ++assigned) {
    out[remainders[k].second]++;
  }
  return out;
}

std::vector<int64_t> PaidAdGoals(const v1::Campaign& campaign) {
  std::vector<int64_t> goals(static_cast<size_t>(campaign.items_size()), 0);
  if (campaign.goaling() != v1::GOALING_LEVEL_CAMPAIGN) {
    for (int i = 0; i < campaign.items_size(); ++i) {
      if (IsPaidAd(campaign.items(i))) goals[static_cast<size_t>(i)] = campaign.items(i).ad().quantity();
    }
    return goals;
  }
  std::vector<double> weights;
  std::vector<size_t> where;
  for (int i = 0; i < campaign.items_size(); ++i) {
    if (!IsPaidAd(campaign.items(i))) continue;
    weights.push_back(campaign.items(i).ad().weight());
    where.push_back(static_cast<size_t>(i));
  }
  std::vector<int64_t> split = SplitByWeight(campaign.quantity_ordered(), weights);
  for (size_t k = 0; k < where.size(); ++k) goals[where[k]] = split[k];
  return goals;
}

absl::StatusOr<std::vector<std::string>> SetGoalingLevel(v1::Campaign* campaign,
                                                         v1::GoalingLevel level) {
  const std::string label = Cat("campaign \"", campaign->id(), "\"");
  if (level != v1::GOALING_LEVEL_AD && level != v1::GOALING_LEVEL_CAMPAIGN) {
    return absl::InvalidArgumentError(Cat(label, ": goaling level must be ad or campaign"));
  }
  const bool to_campaign = level == v1::GOALING_LEVEL_CAMPAIGN;
  const bool is_campaign = campaign->goaling() == v1::GOALING_LEVEL_CAMPAIGN;
  if (to_campaign == is_campaign) {
    return std::vector<std::string>{Cat(label, " is already goaled at ", to_campaign ? "campaign" : "ad",
                                        " level; nothing changed")};
  }
  std::vector<std::string> done;
  int paid = 0;
  for (const v1::CampaignItem& item : campaign->items()) {
    if (!IsPaidAd(item)) continue;
    ++paid;
    if (to_campaign && item.ad().quantity() <= 0) {
      return absl::InvalidArgumentError(Cat(label, " / ", ItemLabel(item),
                                            ": a paid ad needs a quantity > 0 to become a weight"));
    }
  }
  if (paid == 0) return absl::InvalidArgumentError(Cat(label, " has no paid ad to goal"));
  if (to_campaign) {
    int64_t total = 0;
    for (v1::CampaignItem& item : *campaign->mutable_items()) {
      if (!IsPaidAd(item)) continue;
      const int64_t quantity = item.ad().quantity();
      total += quantity;
      item.mutable_ad()->set_weight(static_cast<double>(quantity));
      item.mutable_ad()->set_quantity(0);
      done.push_back(Cat(label, " / ", ItemLabel(item), ": quantity ", quantity, " became weight ",
                         WeightText(static_cast<double>(quantity))));
    }
    campaign->set_quantity_ordered(total);
    campaign->set_goaling(v1::GOALING_LEVEL_CAMPAIGN);
    done.push_back(Cat(label, ": goaled at campaign level, quantity ordered ", total,
                       " (the sum of the ads' quantities); set new weights on every paid ad to change the split"));
    return done;
  }
  const std::vector<int64_t> goals = PaidAdGoals(*campaign);
  for (int i = 0; i < campaign->items_size(); ++i) {
    v1::CampaignItem& item = *campaign->mutable_items(i);
    if (!IsPaidAd(item)) continue;
    item.mutable_ad()->set_quantity(goals[static_cast<size_t>(i)]);
    done.push_back(Cat(label, " / ", ItemLabel(item), ": weight ", WeightText(item.ad().weight()),
                       " became quantity ", goals[static_cast<size_t>(i)]));
  }
  done.push_back(Cat(label, ": goaled at ad level (quantity ordered ", campaign->quantity_ordered(),
                     " split by weight)"));
  campaign->set_quantity_ordered(0);
  campaign->set_goaling(v1::GOALING_LEVEL_AD);
  return done;
}

}  // namespace herald
