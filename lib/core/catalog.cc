#include "core/strings.h"
#include "herald/catalog.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "core/catalog_schemas.h"
#include "core/catalog_validate.h"
#include "core/input_check.h"
#include "core/proto_io.h"

namespace herald {

std::string CatalogIssue::ToString() const {
  std::string out = source;
  if (line > 0) CatTo(out, ":", line);
  if (!out.empty()) out += ": ";
  if (!path.empty()) CatTo(out, path, ": ");
  out += message;
  return out;
}

std::vector<v1::ContentSize> DefaultContentSizes() {
  // IAB standard ad units (the Commerce Server defaults were taken from the
  // IAB list too), plus today's common fixed sizes.
  static const struct {
    const char* name;
    int w, h;
  } kSizes[] = {
      {"Banner", 468, 60},           {"Half Banner", 234, 60},
      {"Micro Bar", 88, 31},         {"Button 1", 120, 90},
      {"Button 2", 120, 60},         {"Vertical Banner", 120, 240},
      {"Square Button", 125, 125},   {"Leaderboard", 728, 90},
      {"Wide Skyscraper", 160, 600}, {"Skyscraper", 120, 600},
      {"Half Page", 300, 600},       {"Medium Rectangle", 300, 250},
      {"Large Rectangle", 336, 280}, {"Rectangle", 180, 150},
      {"Mobile Banner", 320, 50},    {"Billboard", 970, 250},
  };
  std::vector<v1::ContentSize> out;
  for (const auto& s : kSizes) {
    v1::ContentSize size;
    size.set_name(s.name);
    size.set_width(s.w);
    size.set_height(s.h);
    out.push_back(std::move(size));
  }
  return out;
}

void ApplyCatalogDefaults(v1::Catalog* catalog) {
  if (catalog->time_zone().empty()) catalog->set_time_zone("UTC");
  if (catalog->currency().empty()) catalog->set_currency("USD");
  auto* rt = catalog->mutable_reference_tables();
  if (rt->content_sizes().empty()) {
    for (auto& size : DefaultContentSizes()) *rt->add_content_sizes() = std::move(size);
  }
  for (auto& campaign : *catalog->mutable_campaigns()) {
    if (!campaign.has_active()) campaign.set_active(true);
    for (auto& item : *campaign.mutable_items()) {
      if (!item.has_active()) item.set_active(true);
    }
  }
  for (auto& action : *catalog->mutable_actions()) {
    if (!action.has_offline_conversion_enabled()) {
      action.set_offline_conversion_enabled(action.paid_sync_enabled());
    }
  }
}

namespace {

absl::StatusOr<v1::Catalog> Finish(v1::Catalog catalog, std::vector<CatalogIssue> found,
                                   std::vector<CatalogIssue>* issues) {
  if (issues != nullptr) *issues = found;
  if (found.empty()) return catalog;
  std::vector<std::string> lines;
  lines.reserve(found.size());
  for (const auto& issue : found) lines.push_back(issue.ToString());
  return absl::InvalidArgumentError(
      Cat(Join(lines, "\n"), "\n", found.size(),
                   found.size() == 1 ? " error" : " errors", " in ", found.front().source));
}

}  // namespace

absl::StatusOr<v1::Catalog> ParseCatalog(std::string_view text, std::string_view source,
                                         bool json, std::vector<CatalogIssue>* issues,
                                         const CatalogLoadOptions& options) {
  v1::Catalog catalog;
  google::protobuf::TextFormat::ParseInfoTree locations;
  // JSON text is checked as a whole first, for a line and column; strings
  // built from escapes are caught by the validator's walk over every field.
  absl::Status parsed = json ? CheckTextIsUtf8(text, source) : absl::OkStatus();
  if (parsed.ok()) {
    parsed = json ? ParseJsonProto(text, source, &catalog)
                  : ParseTextProto(text, source, &catalog, &locations);
  }
  if (parsed.ok() && catalog.ByteSizeLong() == 0) {
    // An empty file (or one of comments only) is a mistake, never a catalog.
    parsed = absl::InvalidArgumentError(
        Cat(source, ": the catalog is empty (no name, customers, campaigns or reference tables)"));
  }
  if (!parsed.ok()) {
    if (issues != nullptr) {
      // Parse errors are already "source:line:col: message" lines.
      issues->clear();
      for (absl::string_view line : absl::StrSplit(parsed.message(), '\n')) {
        issues->push_back(CatalogIssue{"", 0, "", std::string(line)});
      }
    }
    return parsed;
  }
  if (options.apply_defaults) ApplyCatalogDefaults(&catalog);
  std::vector<CatalogIssue> found =
      ValidateCatalogAt(catalog, source, json ? nullptr : &locations, options);
  return Finish(std::move(catalog), std::move(found), issues);
}

absl::StatusOr<v1::Catalog> LoadCatalog(const std::string& path,
                                        std::vector<CatalogIssue>* issues,
                                        const CatalogLoadOptions& options) {
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    if (issues != nullptr) *issues = {CatalogIssue{"", 0, "", std::string(text.status().message())}};
    return text.status();
  }
  return ParseCatalog(*text, path, IsJsonPath(path), issues, options);
}

std::vector<CatalogIssue> ValidateCatalog(const v1::Catalog& catalog, std::string_view source,
                                          const CatalogLoadOptions& options) {
  return ValidateCatalogAt(catalog, source, nullptr, options);
}

std::string SummarizeCatalog(const v1::Catalog& catalog) {
  int ads = 0, house = 0, discounts = 0, mail = 0;
  for (const auto& c : catalog.campaigns()) {
    for (const auto& item : c.items()) {
      if (item.has_ad()) {
        ++ads;
        if (item.ad().type() == v1::AD_TYPE_HOUSE) ++house;
      }
      if (item.has_discount()) ++discounts;
      if (item.has_direct_mail()) ++mail;
    }
  }
  return Cat("catalog \"", catalog.name(), "\": ", catalog.customers_size(),
                      " customers, ", catalog.campaigns_size(), " campaigns, ", ads, " ads (",
                      house, " house), ", discounts, " discounts, ", mail, " direct mail, ",
                      catalog.target_groups_size(), " target groups, ", catalog.actions_size(),
                      " actions");
}

}  // namespace herald

namespace herald {

absl::StatusOr<v1::Value> ParseAttributeValue(v1::ValueType type, std::string_view text,
                                              std::string_view default_currency) {
  v1::Value v;
  auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(Cat("\"", text, "\" is not ", what));
  };
  switch (type) {
    case v1::VALUE_TYPE_STRING: v.set_string_value(std::string(text)); return v;
    case v1::VALUE_TYPE_INT: {
      int64_t i;
      if (!absl::SimpleAtoi(AbslView(text), &i)) return bad("an integer");
      v.set_int_value(i);
      return v;
    }
    case v1::VALUE_TYPE_DOUBLE: {
      double d;
      if (!absl::SimpleAtod(AbslView(text), &d)) return bad("a number");
      v.set_double_value(d);
      return v;
    }
    case v1::VALUE_TYPE_BOOL: {
      bool b;
      if (!absl::SimpleAtob(AbslView(text), &b)) return bad("true or false");
      v.set_bool_value(b);
      return v;
    }
    case v1::VALUE_TYPE_MONEY: {
      std::string_view amount = text, currency = default_currency;
      if (auto space = text.rfind(' '); space != std::string_view::npos) {
        amount = text.substr(0, space);
        currency = text.substr(space + 1);
      }
      int digits = CurrencyDigits(currency);
      if (digits < 0) return absl::InvalidArgumentError(Cat("unknown currency \"", currency, "\""));
      auto dec = expr::ParseDecimal(amount);
      if (!dec.ok()) return bad("an amount");
      if (dec->scale > digits) {
        return absl::InvalidArgumentError(Cat("\"", text, "\" has more decimals than ",
                                                       currency, " allows (", digits, ")"));
      }
      int64_t minor = dec->minor_units;
      for (int i = dec->scale; i < digits; ++i) {
        if (__builtin_mul_overflow(minor, 10, &minor)) return bad("an amount in range");
      }
      v.mutable_money_value()->set_minor_units(minor);
      v.mutable_money_value()->set_currency(std::string(currency));
      return v;
    }
    case v1::VALUE_TYPE_TIMESTAMP: {
      absl::Time t;
      std::string err;
      if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) {
        return bad("an RFC 3339 time (2026-06-01T17:00:00Z)");
      }
      v.mutable_time_value()->set_seconds(absl::ToUnixSeconds(t));
      v.mutable_time_value()->set_nanos(static_cast<int32_t>(
          absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(absl::ToUnixSeconds(t)))));
      return v;
    }
    case v1::VALUE_TYPE_STRING_LIST: {
      auto* list = v.mutable_list_value();
      if (!text.empty()) {
        for (absl::string_view part : absl::StrSplit(AbslView(text), ',')) list->add_values(std::string(part));
      }
      return v;
    }
    default: return absl::InvalidArgumentError("attribute has no type");
  }
}

absl::StatusOr<v1::Profile> ParseProfileAssignments(const v1::Catalog& catalog,
                                                    std::string_view root,
                                                    const std::vector<std::string>& assignments) {
  const auto& decls = root == "user" ? catalog.user_attributes() : catalog.context_attributes();
  v1::Profile profile;
  for (const std::string& assignment : assignments) {
    auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          Cat(root, " value \"", assignment, "\" must read name=value"));
    }
    std::string name = assignment.substr(0, eq);
    if (absl::StartsWith(name, Cat(root, "."))) name = name.substr(root.size() + 1);
    const v1::AttributeDecl* decl = nullptr;
    std::vector<std::string> known;
    for (const auto& d : decls) {
      known.push_back(d.name());
      if (d.name() == name) decl = &d;
    }
    if (decl == nullptr) {
      return absl::InvalidArgumentError(Cat(
          "unknown ", root, " attribute \"", name, "\"; the catalog declares: ",
          known.empty() ? "none" : Join(known, ", ")));
    }
    auto value = ParseAttributeValue(decl->type(), std::string_view(assignment).substr(eq + 1),
                                     catalog.currency().empty() ? "USD" : catalog.currency());
    if (!value.ok()) {
      return absl::InvalidArgumentError(Cat(root, ".", name, ": ", value.status().message()));
    }
    (*profile.mutable_values())[name] = std::move(*value);
  }
  return profile;
}

}  // namespace herald
