#include "core/strings.h"
#include "core/catalog_validate.h"

#include <cmath>
#include <functional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/catalog_schemas.h"
#include "core/input_check.h"
#include "core/time_util.h"
#include "herald/expr.h"

namespace herald {
namespace {

using google::protobuf::Message;
using google::protobuf::TextFormat;

// The place being validated: object path plus the parse-location subtree of
// the message, so issues can name the line of the offending field.
class Where {
 public:
  Where(std::string path, const TextFormat::ParseInfoTree* tree, int line)
      : path_(std::move(path)), tree_(tree), line_(line) {}

  // The nested message `field`[index] of `parent`, labelled `label` in the path.
  Where Child(const Message& parent, std::string_view field, int index,
              std::string_view label) const {
    const auto* fd = parent.GetDescriptor()->FindFieldByName(std::string(field));
    const TextFormat::ParseInfoTree* sub = nullptr;
    int line = line_;
    if (tree_ != nullptr && fd != nullptr) {
      int i = fd->is_repeated() ? index : -1;
      sub = tree_->GetTreeForNested(fd, i);
      auto loc = tree_->GetLocation(fd, i);
      if (loc.line >= 0) line = loc.line + 1;
    }
    std::string path = path_;
    if (!label.empty()) path = path.empty() ? std::string(label) : Cat(path, " / ", label);
    return Where(std::move(path), sub, line);
  }

  // Line of `field` (index for repeated) inside this message, else this message's line.
  int LineOf(const Message& msg, std::string_view field, int index = -1) const {
    if (tree_ == nullptr || field.empty()) return line_;
    const auto* fd = msg.GetDescriptor()->FindFieldByName(std::string(field));
    if (fd == nullptr) return line_;
    auto loc = tree_->GetLocation(fd, fd->is_repeated() ? std::max(index, 0) : -1);
    return loc.line >= 0 ? loc.line + 1 : line_;
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const TextFormat::ParseInfoTree* tree_;
  int line_;
};

std::string Quoted(std::string_view kind, std::string_view name) {
  return Cat(kind, " \"", name, "\"");
}

bool IsCurrencyCode(std::string_view c) {
  return c.size() == 3 && absl::ascii_isupper(c[0]) && absl::ascii_isupper(c[1]) &&
         absl::ascii_isupper(c[2]);
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || !(absl::ascii_isalpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '_')) return false;
  }
  return true;
}

bool LooksLikeAddress(std::string_view s) {
  // "Name <a@b>" or "a@b": one @, something on each side, no whitespace in the address.
  auto lt = s.find('<');
  if (lt != std::string_view::npos) {
    auto gt = s.find('>', lt);
    if (gt == std::string_view::npos) return false;
    s = s.substr(lt + 1, gt - lt - 1);
  }
  auto at = s.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= s.size()) return false;
  if (s.find('@', at + 1) != std::string_view::npos) return false;
  for (char c : s) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) return false;
  }
  return s.substr(at + 1).find('.') != std::string_view::npos;
}

class Validator {
 public:
  Validator(const v1::Catalog& catalog, std::string_view source,
            const TextFormat::ParseInfoTree* tree, const CatalogLoadOptions& options)
      : catalog_(catalog), source_(source), root_tree_(tree), root_("", tree, 0), options_(options) {}

  std::vector<CatalogIssue> Run() {
    CheckStrings();
    CheckTop();
    CheckReferenceTables();
    CheckAttributes();
    CheckCustomers();
    CheckTargetGroups();
    CheckCampaigns();
    CheckActions();
    if (options_.check_expressions && attributes_ok_) CheckExpressions();
    return std::move(issues_);
  }

 private:
  // Paths and messages quote catalog strings: a string that is not UTF-8
  // (reported by CheckStrings) is escaped so that every issue prints as JSON.
  void Report(const Where& where, const Message& msg, std::string_view field,
              std::string message, int index = -1) {
    issues_.push_back(CatalogIssue{std::string(source_), where.LineOf(msg, field, index),
                                   EscapeInvalidUtf8(where.path()),
                                   EscapeInvalidUtf8(message)});
  }

  // Every string of the catalog must be UTF-8: ids and names are printed as
  // JSON by the CLI and the servers, and compared with request strings.
  void CheckStrings() {
    for (const InvalidString& bad : FindInvalidStrings(catalog_, root_tree_)) {
      issues_.push_back(CatalogIssue{std::string(source_), bad.line, "", bad.Message()});
    }
  }

  // A number above `max` would overflow the arithmetic done on it later.
  template <typename T>
  void CheckAtMost(const Where& where, const Message& msg, std::string_view field, T value, T max) {
    if (value > max) {
      // Limits are whole numbers: print 1000000, not 1e+06.
      Report(where, msg, field,
             Cat(field, " must be at most ", static_cast<int64_t>(max), ", got ", value));
    }
  }

  void CheckTop() {
    if (auto zone = LoadZone(catalog_.time_zone()); !zone.ok()) {
      Report(root_, catalog_, "time_zone", std::string(zone.status().message()));
    } else {
      zone_ = *zone;
    }
    if (!catalog_.currency().empty() && !IsCurrencyCode(catalog_.currency())) {
      Report(root_, catalog_, "currency",
             Cat("currency \"", catalog_.currency(),
                          "\" must be an ISO 4217 code such as USD"));
    }
  }

  template <typename Repeated, typename NameOf>
  void CheckUniqueNames(const Where& where, const Message& parent, std::string_view field,
                        const Repeated& items, std::string_view kind, NameOf name_of,
                        absl::flat_hash_set<std::string>* names) {
    for (int i = 0; i < items.size(); ++i) {
      const std::string& name = name_of(items.Get(i));
      if (name.empty()) {
        Report(where, parent, field, Cat(kind, " #", i + 1, ": name is required"), i);
      } else if (!names->insert(name).second) {
        Report(where, parent, field, Cat("duplicate ", Quoted(kind, name)), i);
      }
    }
  }

  void CheckReferenceTables() {
    const auto& rt = catalog_.reference_tables();
    Where where = root_.Child(catalog_, "reference_tables", -1, "reference tables");
    CheckUniqueNames(where, rt, "content_sizes", rt.content_sizes(), "content size",
                     [](const v1::ContentSize& s) -> const std::string& { return s.name(); },
                     &sizes_);
    for (int i = 0; i < rt.content_sizes_size(); ++i) {
      const auto& size = rt.content_sizes(i);
      if (size.width() <= 0 || size.height() <= 0) {
        Report(where, rt, "content_sizes",
               Cat(Quoted("content size", size.name()),
                            ": width and height must be positive"),
               i);
      }
    }
    if (rt.content_sizes().empty()) {
      for (const auto& size : DefaultContentSizes()) sizes_.insert(size.name());
    }
    CheckUniqueNames(where, rt, "industries", rt.industries(), "industry",
                     [](const v1::IndustryCode& s) -> const std::string& { return s.code(); },
                     &industries_);
    CheckUniqueNames(where, rt, "page_groups", rt.page_groups(), "page group",
                     [](const v1::PageGroup& s) -> const std::string& { return s.name(); },
                     &page_groups_);
  }

  void CheckAttributes() {
    struct Decls {
      const char* field;
      const char* root;
      const google::protobuf::RepeatedPtrField<v1::AttributeDecl>* decls;
    };
    for (const Decls& d : {Decls{"user_attributes", "user", &catalog_.user_attributes()},
                           Decls{"context_attributes", "context", &catalog_.context_attributes()},
                           Decls{"product_attributes", "product",
                                 &catalog_.product_attributes()}}) {
      absl::flat_hash_set<std::string> seen;
      for (int i = 0; i < d.decls->size(); ++i) {
        const auto& decl = d.decls->Get(i);
        std::string what = Cat("attribute ", d.root, ".", decl.name());
        if (!IsIdentifier(decl.name())) {
          Report(root_, catalog_, d.field,
                 Cat(what, ": name must be an identifier (letters, digits, _)"), i);
        } else if (!seen.insert(decl.name()).second) {
          Report(root_, catalog_, d.field, Cat("duplicate ", what), i);
        }
        if (decl.type() == v1::VALUE_TYPE_UNSPECIFIED) {
          Report(root_, catalog_, d.field, Cat(what, ": type is required"), i);
          attributes_ok_ = false;
        }
        bool scalar_values = decl.map_value_type() == v1::VALUE_TYPE_STRING ||
                             decl.map_value_type() == v1::VALUE_TYPE_INT ||
                             decl.map_value_type() == v1::VALUE_TYPE_DOUBLE ||
                             decl.map_value_type() == v1::VALUE_TYPE_BOOL;
        if (decl.type() == v1::VALUE_TYPE_MAP && !scalar_values) {
          Report(root_, catalog_, d.field,
                 Cat(what, ": a map needs map_value_type VALUE_TYPE_STRING, VALUE_TYPE_INT, "
                           "VALUE_TYPE_DOUBLE or VALUE_TYPE_BOOL"), i);
          attributes_ok_ = false;
        } else if (decl.type() != v1::VALUE_TYPE_MAP &&
                   decl.map_value_type() != v1::VALUE_TYPE_UNSPECIFIED) {
          Report(root_, catalog_, d.field,
                 Cat(what, ": map_value_type is only for type VALUE_TYPE_MAP"), i);
          attributes_ok_ = false;
        }
      }
    }
  }

  void CheckCustomers() {
    for (int i = 0; i < catalog_.customers_size(); ++i) {
      const auto& c = catalog_.customers(i);
      if (c.id().empty()) {
        Report(root_, catalog_, "customers", Cat("customer #", i + 1, ": id is required"),
               i);
      } else if (!customers_.insert(c.id()).second) {
        Report(root_, catalog_, "customers", Cat("duplicate ", Quoted("customer", c.id())),
               i);
      }
    }
    for (int i = 0; i < catalog_.customers_size(); ++i) {
      const auto& c = catalog_.customers(i);
      Where where = root_.Child(catalog_, "customers", i, Quoted("customer", c.id()));
      if (!c.industry().empty() && !industries_.contains(c.industry())) {
        Report(where, c, "industry", UnknownRef("industry", c.industry()));
      }
      for (int j = 0; j < c.competitors_size(); ++j) {
        if (!customers_.contains(c.competitors(j))) {
          Report(where, c, "competitors", UnknownRef("customer", c.competitors(j)), j);
        }
      }
      CheckCustomerContact(where, c);
    }
  }

  // A contact address someone will write to, and a country code an invoice
  // system can read: checked for their shape only.
  void CheckCustomerContact(const Where& where, const v1::Customer& c) {
    const std::string& email = c.contact_email();
    const size_t at = email.find('@');
    if (!email.empty() && (at == 0 || at == std::string::npos || at + 1 == email.size() ||
                           email.find('@', at + 1) != std::string::npos ||
                           email.find_first_of(" \t\r\n<>,;") != std::string::npos)) {
      Report(where, c, "contact_email", Cat("contact_email \"", email, "\" is not an address (name@domain)"));
    }
    const std::string& country = c.billing_address().country_code();
    if (!country.empty() && (country.size() != 2 || !absl::ascii_isupper(static_cast<unsigned char>(country[0])) ||
                             !absl::ascii_isupper(static_cast<unsigned char>(country[1])))) {
      Report(where, c, "billing_address",
             Cat("billing_address.country_code \"", country, "\": expected an ISO 3166-1 alpha-2 code (\"US\")"));
    }
  }

  std::string UnknownRef(std::string_view kind, std::string_view name) {
    return Cat("unknown ", kind, " \"", name, "\"");
  }

  void CheckTargetGroups() {
    for (int i = 0; i < catalog_.target_groups_size(); ++i) {
      const auto& tg = catalog_.target_groups(i);
      Where where = root_.Child(catalog_, "target_groups", i, Quoted("target group", tg.id()));
      if (tg.id().empty()) {
        Report(where, tg, "id", "id is required");
      } else if (!target_groups_.insert(tg.id()).second) {
        Report(where, tg, "id", "duplicate target group id");
      }
      if (tg.entries().empty()) Report(where, tg, "entries", "a target group needs entries");
      for (int j = 0; j < tg.entries_size(); ++j) {
        const auto& e = tg.entries(j);
        Where ew = where.Child(tg, "entries", j, Cat("entry #", j + 1));
        if (e.expression().empty()) Report(ew, e, "expression", "expression is required");
        if (e.boost() < 0 || !std::isfinite(e.boost())) {
          Report(ew, e, "boost", "boost must be a finite number >= 0");
        } else {
          CheckAtMost(ew, e, "boost", e.boost(), kMaxWeight);
        }
        if (e.action() != v1::TARGET_ACTION_TARGET &&
            e.action() != v1::TARGET_ACTION_UNSPECIFIED && e.boost() != 0) {
          Report(ew, e, "boost", "boost applies only to TARGET entries");
        }
      }
    }
  }

  void CheckSchedule(const Where& where, const v1::Schedule& s, absl::Time campaign_start,
                     absl::Time campaign_end) {
    absl::TimeZone zone = zone_;
    if (!s.time_zone().empty()) {
      auto z = LoadZone(s.time_zone());
      if (!z.ok()) {
        Report(where, s, "time_zone", std::string(z.status().message()));
      } else {
        zone = *z;
      }
    }
    absl::Time start = campaign_start, end = campaign_end;
    if (!s.start().empty()) {
      auto t = ParseCatalogTime(s.start(), zone);
      if (!t.ok()) {
        Report(where, s, "start", Cat("start: ", t.status().message()));
      } else {
        start = *t;
      }
    }
    if (!s.end().empty()) {
      auto t = ParseCatalogTime(s.end(), zone, /*end_of_day=*/true);
      if (!t.ok()) {
        Report(where, s, "end", Cat("end: ", t.status().message()));
      } else {
        end = *t;
      }
    }
    if (start >= end && start != absl::InfinitePast()) {
      Report(where, s, "end", "schedule ends before it starts");
    }
    absl::flat_hash_set<int> days;
    for (int i = 0; i < s.days_size(); ++i) {
      if (s.days(i) == v1::DAY_OF_WEEK_UNSPECIFIED) {
        Report(where, s, "days", "days: DAY_OF_WEEK_UNSPECIFIED is not a day", i);
      } else if (!days.insert(s.days(i)).second) {
        Report(where, s, "days", "days: repeated day", i);
      }
    }
    for (int i = 0; i < s.hours_size(); ++i) {
      const auto& h = s.hours(i);
      auto from = ParseClockMinutes(h.from());
      auto to = ParseClockMinutes(h.to());
      if (!from.ok()) Report(where, s, "hours", Cat("hours.from: ", from.status().message()), i);
      if (!to.ok()) Report(where, s, "hours", Cat("hours.to: ", to.status().message()), i);
      if (from.ok() && to.ok() && *from == *to) {
        Report(where, s, "hours", "hours: an empty window (from equals to)", i);
      }
    }
  }

  void CheckPlacement(const Where& where, const Message& msg,
                      const google::protobuf::RepeatedPtrField<std::string>& page_groups,
                      const std::string& size, const std::string& target_group) {
    for (int i = 0; i < page_groups.size(); ++i) {
      if (!page_groups_.contains(page_groups.Get(i))) {
        Report(where, msg, "page_groups", UnknownRef("page group", page_groups.Get(i)), i);
      }
    }
    if (!size.empty() && !sizes_.contains(size)) {
      Report(where, msg, "size", UnknownRef("content size", size));
    }
    if (!target_group.empty() && !target_groups_.contains(target_group)) {
      Report(where, msg, "target_group", UnknownRef("target group", target_group));
    }
  }

  void CheckCampaigns() {
    absl::flat_hash_set<std::string> campaign_ids;
    for (int ci = 0; ci < catalog_.campaigns_size(); ++ci) {
      const auto& c = catalog_.campaigns(ci);
      Where where = root_.Child(catalog_, "campaigns", ci,
                                Quoted("campaign", c.name().empty() ? c.id() : c.name()));
      if (c.id().empty()) {
        Report(where, c, "id", "id is required");
      } else if (!campaign_ids.insert(c.id()).second || !item_ids_.insert(c.id()).second) {
        Report(where, c, "id", Cat("duplicate id \"", c.id(), "\""));
      }
      if (c.customer_id().empty()) {
        Report(where, c, "customer_id", "customer_id is required");
      } else if (!customers_.contains(c.customer_id())) {
        Report(where, c, "customer_id", UnknownRef("customer", c.customer_id()));
      }
      absl::Time start = absl::InfinitePast(), end = absl::InfiniteFuture();
      if (!c.start().empty()) {
        auto t = ParseCatalogTime(c.start(), zone_);
        if (!t.ok()) Report(where, c, "start", Cat("start: ", t.status().message()));
        else start = *t;
      }
      if (!c.end().empty()) {
        auto t = ParseCatalogTime(c.end(), zone_, true);
        if (!t.ok()) Report(where, c, "end", Cat("end: ", t.status().message()));
        else end = *t;
      }
      if (start >= end) Report(where, c, "end", "campaign ends before it starts");
      if (c.quantity_ordered() < 0) {
        Report(where, c, "quantity_ordered", "quantity_ordered must be >= 0");
      }
      CheckAtMost(where, c, "quantity_ordered", c.quantity_ordered(), kMaxGoal);
      bool campaign_level = c.goaling() == v1::GOALING_LEVEL_CAMPAIGN;
      int paid_ads = 0;
      for (int ii = 0; ii < c.items_size(); ++ii) {
        const auto& item = c.items(ii);
        std::string kind = item.has_ad()            ? "ad"
                           : item.has_discount()    ? "discount"
                           : item.has_direct_mail() ? "direct mail"
                                                    : "item";
        Where iw = where.Child(c, "items", ii,
                               Quoted(kind, item.name().empty() ? item.id() : item.name()));
        if (item.id().empty()) {
          Report(iw, item, "id", "id is required");
        } else if (!item_ids_.insert(item.id()).second) {
          Report(iw, item, "id", Cat("duplicate id \"", item.id(), "\""));
        }
        if (item.name().empty()) Report(iw, item, "name", "name is required");
        switch (item.kind_case()) {
          case v1::CampaignItem::kAd: {
            const auto& ad = item.ad();
            Where aw = iw.Child(item, "ad", -1, "");
            if (ad.type() != v1::AD_TYPE_HOUSE) ++paid_ads;
            CheckAd(aw, ad, c, campaign_level);
            CheckSchedule(aw.Child(ad, "schedule", -1, ""), ad.schedule(), start, end);
            break;
          }
          case v1::CampaignItem::kDiscount: {
            Where dw = iw.Child(item, "discount", -1, "");
            CheckDiscount(dw, item.discount());
            CheckSchedule(dw.Child(item.discount(), "schedule", -1, ""),
                          item.discount().schedule(), start, end);
            break;
          }
          case v1::CampaignItem::kDirectMail:
            CheckDirectMail(iw.Child(item, "direct_mail", -1, ""), item.direct_mail());
            break;
          case v1::CampaignItem::KIND_NOT_SET:
            Report(iw, item, "", "an item must be an ad, a discount or a direct_mail");
        }
      }
      if (campaign_level && paid_ads > 0 && c.quantity_ordered() <= 0) {
        Report(where, c, "quantity_ordered",
               "campaign-level goaling needs quantity_ordered > 0 for its paid ads");
      }
    }
  }

  void CheckAd(const Where& where, const v1::Ad& ad, const v1::Campaign& campaign,
               bool campaign_level) {
    bool house = ad.type() == v1::AD_TYPE_HOUSE;
    if (!std::isfinite(ad.weight()) || ad.weight() < 0) {
      Report(where, ad, "weight", "weight must be a finite number >= 0");
    } else if (ad.weight() > kMaxWeight) {
      CheckAtMost(where, ad, "weight", ad.weight(), kMaxWeight);
    } else if (ad.weight() <= 0 && (house || campaign_level)) {
      Report(where, ad, "weight",
             house ? "weight must be positive (house ads are chosen by weight)"
                   : "weight must be positive (campaign-level goaling splits by weight)");
    }
    if (ad.quantity() < 0) Report(where, ad, "quantity", "quantity must be >= 0");
    CheckAtMost(where, ad, "quantity", ad.quantity(), kMaxGoal);
    if (!house && !campaign_level && ad.quantity() <= 0) {
      Report(where, ad, "quantity", "a paid ad goaled at ad level needs quantity > 0");
    }
    if (ad.exposure_limit() < 0) Report(where, ad, "exposure_limit", "exposure_limit must be >= 0");
    if (ad.max_per_day() < 0) Report(where, ad, "max_per_day", "max_per_day must be >= 0");
    if (ad.max_per_week() < 0) Report(where, ad, "max_per_week", "max_per_week must be >= 0");
    if (!ad.industry().empty() && !industries_.contains(ad.industry())) {
      Report(where, ad, "industry", UnknownRef("industry", ad.industry()));
    }
    CheckPlacement(where, ad, ad.page_groups(), ad.size(), ad.target_group());
    CheckDisplay(where.Child(ad, "display", -1, ""), ad.display());
  }

  void CheckDisplay(const Where& where, const v1::Display& d) {
    for (const std::string* url : {&d.image_url(), &d.click_url()}) {
      if (!url->empty() && !absl::StartsWith(*url, "http://") &&
          !absl::StartsWith(*url, "https://") && !absl::StartsWith(*url, "/")) {
        Report(where, d, url == &d.image_url() ? "image_url" : "click_url",
               Cat("\"", *url, "\" must be an http(s) URL or a site path"));
      }
    }
  }

  void CheckMoneyAmount(const Where& where, const v1::Offer& offer, bool allow_zero) {
    if (offer.amount_minor() < 0 || (!allow_zero && offer.amount_minor() == 0)) {
      Report(where, offer, "amount_minor",
             allow_zero ? "amount_minor must be >= 0" : "amount_minor must be positive");
    }
    CheckAtMost(where, offer, "amount_minor", offer.amount_minor(), kMaxMinorUnits);
    if (!offer.currency().empty() && !IsCurrencyCode(offer.currency())) {
      Report(where, offer, "currency",
             Cat("currency \"", offer.currency(), "\" must be an ISO 4217 code"));
    }
  }

  void CheckDiscount(const Where& where, const v1::Discount& d) {
    const auto& offer = d.offer();
    Where ow = where.Child(d, "offer", -1, "");
    switch (offer.kind()) {
      case v1::OFFER_KIND_UNSPECIFIED:
        Report(where, d, "offer", "offer.kind is required");
        break;
      case v1::OFFER_KIND_PERCENT_OFF:
      case v1::OFFER_KIND_SHIPPING_PERCENT_OFF:
      case v1::OFFER_KIND_ORDER_PERCENT_OFF: {
        double p = offer.percent();
        double bp = p * 100;
        if (!(p > 0 && p <= 100)) {
          Report(ow, offer, "percent", "percent must be > 0 and <= 100");
        } else if (std::fabs(bp - std::round(bp)) > 1e-6) {
          Report(ow, offer, "percent", "percent may have at most two decimals");
        }
        break;
      }
      case v1::OFFER_KIND_AMOUNT_OFF:
      case v1::OFFER_KIND_ORDER_AMOUNT_OFF:
        CheckMoneyAmount(ow, offer, false);
        break;
      case v1::OFFER_KIND_FIXED_PRICE:
        CheckMoneyAmount(ow, offer, true);
        break;
      case v1::OFFER_KIND_FREE_SHIPPING:
        break;
      default:
        Report(ow, offer, "kind", "unknown offer kind");
    }
    const auto& cond = d.condition();
    Where cw = where.Child(d, "condition", -1, "");
    if (cond.min_quantity() < 0) Report(cw, cond, "min_quantity", "min_quantity must be >= 0");
    CheckAtMost(cw, cond, "min_quantity", cond.min_quantity(), kMaxQuantity);
    CheckAtMost(cw, cond, "min_value_minor", cond.min_value_minor(), kMaxMinorUnits);
    if (cond.basis() == v1::CONDITION_BASIS_VALUE && cond.min_value_minor() <= 0) {
      Report(cw, cond, "min_value_minor", "a VALUE condition needs min_value_minor > 0");
    }
    if (cond.basis() != v1::CONDITION_BASIS_VALUE && cond.min_value_minor() != 0) {
      Report(cw, cond, "min_value_minor", "min_value_minor applies only to VALUE conditions");
    }
    if (d.award().max_units() < 0) {
      Report(where.Child(d, "award", -1, ""), d.award(), "max_units", "max_units must be >= 0");
    }
    CheckAtMost(where.Child(d, "award", -1, ""), d.award(), "max_units", d.award().max_units(),
                kMaxQuantity);
    if (d.basket_limit() < 0) Report(where, d, "basket_limit", "basket_limit must be >= 0");
    if (d.exposure_limit() < 0) Report(where, d, "exposure_limit", "exposure_limit must be >= 0");
    if (d.coupon_limits().max_uses() < 0 || d.coupon_limits().max_uses_per_customer() < 0) {
      Report(where, d, "coupon_limits", "coupon limits must be >= 0");
    }
    if ((d.coupon_limits().max_uses() > 0 || d.coupon_limits().max_uses_per_customer() > 0) &&
        d.coupon_codes().empty()) {
      Report(where, d, "coupon_limits", "coupon limits need coupon_codes");
    }
    for (int i = 0; i < d.coupon_codes_size(); ++i) {
      const std::string& code = d.coupon_codes(i);
      if (code.empty() || code.find_first_of(" \t\r\n") != std::string::npos) {
        Report(where, d, "coupon_codes", "a coupon code must be non-empty without spaces", i);
      } else if (!coupon_codes_.insert(code).second) {
        Report(where, d, "coupon_codes",
               Cat("coupon code \"", code, "\" is used by another discount"), i);
      }
    }
    CheckPlacement(where, d, d.page_groups(), d.size(), d.target_group());
    CheckDisplay(where.Child(d, "display", -1, ""), d.display());
  }

  void CheckDirectMail(const Where& where, const v1::DirectMail& m) {
    if (m.from().empty()) {
      Report(where, m, "from", "from is required");
    } else if (!LooksLikeAddress(m.from())) {
      Report(where, m, "from", Cat("from \"", m.from(), "\" is not an e-mail address"));
    }
    if (!m.reply_to().empty() && !LooksLikeAddress(m.reply_to())) {
      Report(where, m, "reply_to",
             Cat("reply_to \"", m.reply_to(), "\" is not an e-mail address"));
    }
    if (m.recipients().kind_case() == v1::RecipientSource::KIND_NOT_SET) {
      Report(where, m, "recipients", "recipients is required (csv_path, store_table or plugin)");
    }
    if (m.message().kind_case() == v1::MessageSource::KIND_NOT_SET) {
      Report(where, m, "message", "message is required (template, url or file)");
    } else if (m.message().has_template_() && m.message().template_().subject().empty() &&
               m.subject().empty()) {
      Report(where, m, "subject", "a subject is required (in the template or the item)");
    } else if (m.message().has_url() && !absl::StartsWith(m.message().url(), "http://") &&
               !absl::StartsWith(m.message().url(), "https://")) {
      Report(where, m, "message", "message.url must be an http(s) URL");
    }
    if (m.format() == v1::MAIL_FORMAT_TEXT && m.message().has_template_() &&
        m.message().template_().text().empty()) {
      Report(where, m, "format", "a TEXT mail needs template.text");
    }
    if (m.messages_per_hour() < 0) {
      Report(where, m, "messages_per_hour", "messages_per_hour must be >= 0");
    }
    CheckAtMost(where, m, "messages_per_hour", m.messages_per_hour(), kMaxQuantity);
    if (m.max_error_percent() < 0 || m.max_error_percent() > 100) {
      Report(where, m, "max_error_percent", "max_error_percent must be within 0..100");
    }
    if (m.retries() < 0) Report(where, m, "retries", "retries must be >= 0");
    if (!m.start_time().empty()) {
      auto t = ParseCatalogTime(m.start_time(), zone_);
      if (!t.ok()) Report(where, m, "start_time", Cat("start_time: ", t.status().message()));
    }
    for (int i = 0; i < m.attachments_size(); ++i) {
      if (m.attachments(i).path().empty()) {
        Report(where, m, "attachments", "an attachment needs a path", i);
      }
    }
    if (!m.unsubscribe_url().empty() && !absl::StartsWith(m.unsubscribe_url(), "https://") &&
        !absl::StartsWith(m.unsubscribe_url(), "http://")) {
      Report(where, m, "unsubscribe_url", "unsubscribe_url must be an http(s) URL");
    }
  }

  void CheckActions() {
    absl::flat_hash_set<std::string> seen;
    for (int i = 0; i < catalog_.actions_size(); ++i) {
      const auto& a = catalog_.actions(i);
      std::string name = Cat(a.issue(), "-", a.group(), "-", a.name());
      Where where = root_.Child(catalog_, "actions", i, Quoted("action", name));
      for (auto [field, value] : {std::pair<const char*, const std::string*>{"issue", &a.issue()},
                                  {"group", &a.group()},
                                  {"name", &a.name()}}) {
        if (value->empty()) {
          Report(where, a, field, Cat(field, " is required"));
        } else if (value->find_first_of("-\r\n") != std::string::npos) {
          Report(where, a, field, Cat(field, " must not contain '-' or line breaks"));
        }
      }
      if (!seen.insert(name).second) Report(where, a, "name", "duplicate action");
      const std::string& gca = a.google_conversion_action();
      if (!gca.empty() && !(absl::StartsWith(gca, "customers/") &&
                            absl::StrContains(gca, "/conversionActions/"))) {
        Report(where, a, "google_conversion_action",
               "google_conversion_action must read customers/{cid}/conversionActions/{id}");
      }
    }
  }

  // Compiles every expression against the schema of its use.
  void CheckExpressions() {
    auto targeting = BuildTargetingSchema(catalog_);
    auto product = BuildProductSchema(catalog_);
    if (!targeting.ok() || !product.ok()) {
      Report(root_, catalog_, "user_attributes",
             std::string((!targeting.ok() ? targeting.status() : product.status()).message()));
      return;
    }
    expr::CompileOptions options;
    options.default_time_zone = catalog_.time_zone().empty() ? "UTC" : catalog_.time_zone();
    auto check = [&](const Where& where, const Message& msg, std::string_view field,
                     const std::string& source, const expr::Schema& schema) {
      if (source.empty()) return;
      auto program = expr::CompileFilter(source, schema, options);
      if (!program.ok()) {
        // First line of the message ("1:6: unknown field ..."), prefixed by the field.
        std::string m(program.status().message());
        Report(where, msg, field, Cat(field, ": ", m.substr(0, m.find('\n'))));
      }
    };
    for (int i = 0; i < catalog_.target_groups_size(); ++i) {
      const auto& tg = catalog_.target_groups(i);
      Where where = root_.Child(catalog_, "target_groups", i, Quoted("target group", tg.id()));
      for (int j = 0; j < tg.entries_size(); ++j) {
        Where ew = where.Child(tg, "entries", j, Cat("entry #", j + 1));
        check(ew, tg.entries(j), "expression", tg.entries(j).expression(), targeting->schema);
      }
    }
    for (int ci = 0; ci < catalog_.campaigns_size(); ++ci) {
      const auto& c = catalog_.campaigns(ci);
      Where cw = root_.Child(catalog_, "campaigns", ci,
                             Quoted("campaign", c.name().empty() ? c.id() : c.name()));
      for (int ii = 0; ii < c.items_size(); ++ii) {
        const auto& item = c.items(ii);
        if (!item.has_discount()) continue;
        const auto& d = item.discount();
        Where dw = cw.Child(c, "items", ii, Quoted("discount", item.name().empty() ? item.id() : item.name()))
                       .Child(item, "discount", -1, "");
        check(dw, d, "eligibility", d.eligibility(), targeting->schema);
        check(dw.Child(d, "condition", -1, ""), d.condition(), "expression", d.condition().expression(),
              product->schema);
        check(dw.Child(d, "award", -1, ""), d.award(), "expression", d.award().expression(),
              product->schema);
      }
    }
  }

  bool attributes_ok_ = true;
  const v1::Catalog& catalog_;
  std::string_view source_;
  const TextFormat::ParseInfoTree* root_tree_;
  Where root_;
  CatalogLoadOptions options_;
  absl::TimeZone zone_ = absl::UTCTimeZone();
  std::vector<CatalogIssue> issues_;
  absl::flat_hash_set<std::string> sizes_, industries_, page_groups_, customers_, target_groups_,
      item_ids_, coupon_codes_;
};

}  // namespace

std::vector<CatalogIssue> ValidateCatalogAt(const v1::Catalog& catalog, std::string_view source,
                                            const TextFormat::ParseInfoTree* locations,
                                            const CatalogLoadOptions& options) {
  return Validator(catalog, source, locations, options).Run();
}

}  // namespace herald
