// Test support: small catalogs built in code.
#ifndef HERALD_TEST_CSF_CATALOG_BUILDER_H_
#define HERALD_TEST_CSF_CATALOG_BUILDER_H_

#include <string>

#include "herald/catalog.h"
#include "herald/campaign_cache.h"
#include "herald/model/catalog.pb.h"

namespace herald::testing {

class CatalogBuilder {
 public:
  CatalogBuilder() {
    catalog_.set_name("test");
    catalog_.set_time_zone("UTC");
    for (const char* pg : {"Home", "Sports", "Garden"}) {
      catalog_.mutable_reference_tables()->add_page_groups()->set_name(pg);
    }
    for (const char* ind : {"paint", "coffee", "juice"}) {
      catalog_.mutable_reference_tables()->add_industries()->set_code(ind);
    }
    auto* age = catalog_.add_user_attributes();
    age->set_name("age");
    age->set_type(v1::VALUE_TYPE_INT);
    auto* state = catalog_.add_user_attributes();
    state->set_name("state");
    state->set_type(v1::VALUE_TYPE_STRING);
    catalog_.add_customers()->set_id("cust");
  }

  v1::Customer* Customer(const std::string& id) {
    auto* c = catalog_.add_customers();
    c->set_id(id);
    return c;
  }

  // A campaign from `start` to `end` (dates), ad-level goaling by default.
  v1::Campaign* Campaign(const std::string& id, const std::string& start, const std::string& end,
                         const std::string& customer = "cust") {
    auto* c = catalog_.add_campaigns();
    c->set_id(id);
    c->set_name(id);
    c->set_customer_id(customer);
    c->set_start(start);
    c->set_end(end);
    c->set_goaling(v1::GOALING_LEVEL_AD);
    return c;
  }

  static v1::Ad* PaidAd(v1::Campaign* c, const std::string& id, int64_t quantity,
                        const std::string& page_group = "Home") {
    auto* item = c->add_items();
    item->set_id(id);
    item->set_name(id);
    auto* ad = item->mutable_ad();
    ad->set_type(v1::AD_TYPE_PAID);
    ad->set_quantity(quantity);
    ad->set_weight(1);
    if (!page_group.empty()) ad->add_page_groups(page_group);
    ad->mutable_display()->set_image_url("https://cdn.example.com/" + id + ".png");
    ad->mutable_display()->set_click_url("https://example.com/" + id);
    return ad;
  }

  static v1::Ad* HouseAd(v1::Campaign* c, const std::string& id, double weight,
                         const std::string& page_group = "Home") {
    auto* item = c->add_items();
    item->set_id(id);
    item->set_name(id);
    auto* ad = item->mutable_ad();
    ad->set_type(v1::AD_TYPE_HOUSE);
    ad->set_weight(weight);
    if (!page_group.empty()) ad->add_page_groups(page_group);
    return ad;
  }

  v1::TargetGroup* TargetGroup(const std::string& id) {
    auto* tg = catalog_.add_target_groups();
    tg->set_id(id);
    tg->set_name(id);
    return tg;
  }

  v1::Catalog& proto() { return catalog_; }

  std::shared_ptr<const CompiledCatalog> Compile() {
    auto issues = ValidateCatalog(catalog_);
    std::string all;
    for (const auto& i : issues) all += i.ToString() + "\n";
    if (!issues.empty()) throw std::runtime_error("invalid test catalog:\n" + all);
    auto compiled = CompiledCatalog::Compile(catalog_);
    if (!compiled.ok()) throw std::runtime_error(std::string(compiled.status().message()));
    return *compiled;
  }

 private:
  v1::Catalog catalog_;
};

inline absl::Time Utc(int y, int m, int d, int hh = 0, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), absl::UTCTimeZone());
}

}  // namespace herald::testing

#endif  // HERALD_TEST_CSF_CATALOG_BUILDER_H_
