// The example storefront's routes (site.h).
#include "site.h"

#include <fstream>
#include <sstream>

#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "herald/builtins.h"
#include "herald/catalog.h"
#include "herald/conversion.h"
#include "herald/report.h"
#include "nlohmann/json.hpp"

namespace storefront {
namespace {

using nlohmann::json;

void SendJson(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void SendError(httplib::Response& res, int status, const std::string& message) {
  SendJson(res, json{{"error", message}}, status);
}

int HttpStatusOf(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kResourceExhausted:
      return 409;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

void SendStatus(httplib::Response& res, const absl::Status& s) {
  SendError(res, HttpStatusOf(s), std::string(s.message()));
}

std::string Param(const httplib::Request& req, const char* name, const std::string& fallback = "") {
  return req.has_param(name) ? req.get_param_value(name) : fallback;
}

// "at" as RFC 3339, else now.
absl::StatusOr<absl::Time> TimeParam(const httplib::Request& req) {
  std::string at = Param(req, "at");
  if (at.empty()) return absl::Now();
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, at, &t, &err)) {
    return absl::InvalidArgumentError("at: \"" + at + "\" is not an RFC 3339 time");
  }
  return t;
}

std::string UrlEncode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StorefrontSite>> StorefrontSite::Create(const SiteOptions& options) {
  std::unique_ptr<StorefrontSite> site(new StorefrontSite());
  site->options_ = options;
  if (absl::Status s = herald::RegisterBuiltins(&site->registry_); !s.ok()) return s;
  herald::RegisterConversionComponents(&site->registry_);
  auto catalog = herald::LoadCatalog(options.catalog_path);
  if (!catalog.ok()) return catalog.status();
  site->catalog_ = *std::move(catalog);
  auto compiled = herald::CompiledCatalog::Compile(site->catalog_);
  if (!compiled.ok()) return compiled.status();
  site->compiled_ = *std::move(compiled);
  auto store = herald::OpenStore(options.store_uri, site->registry_);
  if (!store.ok()) return store.status();
  site->store_ = *std::move(store);

  herald::SelectorConfig config;
  config.registry = &site->registry_;
  config.store = site->store_.get();
  config.options.seed = options.seed;
  config.options.flush_interval = absl::Milliseconds(200);
  auto selector = herald::NewContentSelector(site->compiled_, config);
  if (!selector.ok()) return selector.status();
  site->selector_ = *std::move(selector);

  herald::PricerConfig pricer_config;
  pricer_config.registry = &site->registry_;
  pricer_config.store = site->store_.get();
  auto pricer = herald::NewBasketPricer(site->compiled_, pricer_config);
  if (!pricer.ok()) return pricer.status();
  site->pricer_ = *std::move(pricer);
  site->actions_.assign(site->catalog_.actions().begin(), site->catalog_.actions().end());
  return site;
}

StorefrontSite::~StorefrontSite() {
  if (selector_ != nullptr) (void)selector_->Flush();
}

void StorefrontSite::Mount(httplib::Server& server) {
  server.Get("/ads", [this](const httplib::Request& req, httplib::Response& res) { Ads(req, res); });
  server.Get(R"(/click/([^/?]+))", [this](const httplib::Request& req, httplib::Response& res) { Click(req, res); });
  server.Post("/basket/price", [this](const httplib::Request& req, httplib::Response& res) { Price(req, res); });
  server.Post("/responses", [this](const httplib::Request& req, httplib::Response& res) { Responses(req, res); });
  server.Get(R"(/reports/([a-z-]+))", [this](const httplib::Request& req, httplib::Response& res) { Report(req, res); });
  server.Get(R"(/delivery/([^/?]+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    if (compiled_->FindItem(id) == nullptr) return SendError(res, 404, "no campaign item \"" + id + "\"");
    auto [requests, clicks] = selector_->Delivered(id);
    SendJson(res, json{{"id", id}, {"requests", requests}, {"clicks", clicks}});
  });
  server.Get("/landing", [](const httplib::Request& req, httplib::Response& res) {
    // Where external click URLs lead with local_landing (tests stay on 127.0.0.1).
    std::string to = Param(req, "to");
    std::string safe;
    for (char c : to) safe += (c == '<' ? std::string("&lt;") : c == '&' ? std::string("&amp;") : std::string(1, c));
    res.set_content("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Landing</title></head><body>"
                    "<h1 id=\"landing\">The advertiser's page</h1><p>A real site would now be at <code id=\"to\">" +
                        safe + "</code>.</p><p><a id=\"back\" href=\"/\">Back to the shop</a></p></body></html>",
                    "text/html; charset=utf-8");
  });
  if (!options_.www_dir.empty()) server.set_mount_point("/", options_.www_dir);
}

void StorefrontSite::Ads(const httplib::Request& req, httplib::Response& res) {
  herald::SelectionRequest request;
  std::string group = Param(req, "page_group");
  if (!group.empty()) request.page_groups.push_back(group);
  request.size = Param(req, "size");
  request.count = std::max(1, std::min(10, std::atoi(Param(req, "count", "1").c_str())));
  request.user_id = Param(req, "user");
  request.session_id = Param(req, "session");
  request.discounts = Param(req, "discounts") == "1" || Param(req, "discounts") == "true";
  auto t = TimeParam(req);
  if (!t.ok()) return SendStatus(res, t.status());
  request.time = *t;
  // user.<attr>=value and context.<attr>=value parameters, typed by the catalog.
  std::vector<std::string> user, context;
  for (const auto& [name, value] : req.params) {
    if (name.rfind("user.", 0) == 0) user.push_back(name.substr(5) + "=" + value);
    if (name.rfind("context.", 0) == 0) context.push_back(name.substr(8) + "=" + value);
  }
  auto user_profile = herald::ParseProfileAssignments(catalog_, "user", user);
  if (!user_profile.ok()) return SendStatus(res, user_profile.status());
  auto context_profile = herald::ParseProfileAssignments(catalog_, "context", context);
  if (!context_profile.ok()) return SendStatus(res, context_profile.status());
  request.user = &*user_profile;
  request.context = &*context_profile;
  auto result = selector_->Select(request);
  if (!result.ok()) return SendStatus(res, result.status());
  json ads = json::array();
  for (const herald::SelectedItem& item : result->winners) {
    std::string href = "/click/" + UrlEncode(item.item_id) + "?user=" + UrlEncode(request.user_id) +
                       "&page_group=" + UrlEncode(group);
    ads.push_back({{"id", item.item_id},
                   {"name", item.name},
                   {"kind", item.kind},
                   {"campaign", item.campaign_id},
                   {"html", item.html},
                   {"click_url", item.click_url},
                   {"image_url", item.image_url},
                   {"text", item.text},
                   {"href", href}});
  }
  SendJson(res, json{{"ads", ads}});
}

void StorefrontSite::Click(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  const herald::CompiledItem* item = compiled_->FindItem(id);
  if (item == nullptr) return SendError(res, 404, "no campaign item \"" + id + "\"");
  auto t = TimeParam(req);
  if (!t.ok()) return SendStatus(res, t.status());
  const std::string user = Param(req, "user");
  if (absl::Status s = selector_->RecordClick(id, user, Param(req, "page_group"), *t); !s.ok()) {
    return SendStatus(res, s);
  }
  if (!user.empty()) {
    absl::MutexLock lock(&mu_);
    auto& clicked = clicks_[user];
    if (std::find(clicked.begin(), clicked.end(), id) == clicked.end()) clicked.push_back(id);
  }
  // Where the ad leads: its display's click URL (discount ads: the shop).
  std::string target = "/";
  if (item->proto != nullptr) {
    if (item->proto->has_ad() && !item->proto->ad().display().click_url().empty()) {
      target = item->proto->ad().display().click_url();
    } else if (item->proto->has_discount() && !item->proto->discount().display().click_url().empty() &&
               item->proto->discount().display().click_url().rfind("/click/", 0) != 0) {
      target = item->proto->discount().display().click_url();
    }
  }
  const bool external = target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0;
  if (options_.local_landing && (external || target.rfind("/c/", 0) == 0)) {
    target = "/landing?to=" + UrlEncode(target);
  }
  res.set_redirect(target, 302);
}

void StorefrontSite::Price(const httplib::Request& req, httplib::Response& res) {
  herald::v1::Basket basket;
  google::protobuf::util::JsonParseOptions parse;
  if (auto s = google::protobuf::util::JsonStringToMessage(req.body, &basket, parse); !s.ok()) {
    return SendError(res, 400, "basket: " + std::string(s.message()));
  }
  if (basket.currency().empty()) basket.set_currency(catalog_.currency().empty() ? "USD" : catalog_.currency());
  if (!basket.customer_id().empty()) {
    absl::MutexLock lock(&mu_);
    if (auto it = clicks_.find(basket.customer_id()); it != clicks_.end()) {
      for (const std::string& id : it->second) {
        if (std::find(basket.clicked_items().begin(), basket.clicked_items().end(), id) ==
            basket.clicked_items().end()) {
          basket.add_clicked_items(id);
        }
      }
    }
  }
  herald::PriceOptions options;
  if (!basket.has_time()) options.now = absl::Now();
  auto priced = pricer_->Price(basket, options);
  if (!priced.ok()) return SendStatus(res, priced.status());
  std::string priced_json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  print.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(*priced, &priced_json, print);
  SendJson(res, json{{"priced", json::parse(priced_json, nullptr, false)},
                     {"text", herald::FormatPricedBasket(*priced, /*with_trace=*/false)}});
}

void StorefrontSite::Responses(const httplib::Request& req, httplib::Response& res) {
  herald::v1::InteractionRecord record;
  if (auto s = google::protobuf::util::JsonStringToMessage(req.body, &record); !s.ok()) {
    return SendError(res, 400, "response: " + std::string(s.message()));
  }
  herald::CaptureOptions options;
  options.actions = &actions_;
  auto stored = herald::CaptureResponse(*store_, std::move(record), options);
  if (!stored.ok()) return SendStatus(res, stored.status());
  std::string out;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(*stored, &out, print);
  res.status = 201;
  res.set_content(out, "application/json");
}

void StorefrontSite::Report(const httplib::Request& req, httplib::Response& res) {
  const std::string name = req.matches[1];
  const std::string format = Param(req, "format", "json");
  if (absl::Status s = selector_->Flush(); !s.ok()) return SendStatus(res, s);  // count what was just served
  herald::ReportOptions options;
  options.catalog = &catalog_;
  options.campaign = Param(req, "campaign");
  auto table = herald::RunReport(name, *store_, options);
  if (!table.ok()) return SendStatus(res, table.status());
  herald::ReportCharts charts;
  if (format == "html") {
    auto built = herald::BuildReportCharts(store_->events(), options);
    if (!built.ok()) return SendStatus(res, built.status());
    charts = *std::move(built);
  }
  auto text = herald::RenderReport(*table, format, &charts);
  if (!text.ok()) return SendStatus(res, text.status());
  const char* type = format == "html"   ? "text/html; charset=utf-8"
                     : format == "json" ? "application/json"
                     : format == "csv"  ? "text/csv; charset=utf-8"
                                        : "text/plain; charset=utf-8";
  res.set_content(*text, type);
}

}  // namespace storefront
