// The admin API's tools, which change nothing: expression checks as the
// author types, basket pricing and ad traces through the borrowed
// DecisionService (dry runs), and the reports with their charts' series.
#include <string>

#include "absl/strings/str_cat.h"
#include "desk/desk_internal.h"
#include "herald/report.h"

namespace herald::desk_internal {

// An empty catalog on a new store, so that checks still work there.
absl::StatusOr<v1::Catalog> CurrentCatalog(CatalogStore& catalogs) {
  auto current = catalogs.CurrentCatalogVersion();
  if (!current.ok()) return current.status();
  if (*current == 0) {
    v1::Catalog empty;
    ApplyCatalogDefaults(&empty);
    return empty;
  }
  return LoadStoredCatalog(catalogs, *current);
}

namespace {


template <typename Request>
absl::StatusOr<Request> BodyMessage(const Call& call) {
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return body.status();
  Request request;
  if (absl::Status s = ParseProto(*body, "body", &request); !s.ok()) return s;
  return request;
}

struct ReportQuery {
  ReportOptions options;
  v1::Catalog catalog;
};

// from, to and campaign of a report request: dates in the catalog's time
// zone ("2026-06-01") or RFC 3339 times, as the decision API reads them.
absl::StatusOr<ReportQuery> ReadReportQuery(const DeskEnv& env, const Call& call) {
  ReportQuery out;
  auto catalog = CurrentCatalog(env.catalogs);
  if (!catalog.ok()) return catalog.status();
  out.catalog = std::move(*catalog);
  out.options.campaign = QueryParam(call.request.query, "campaign");
  absl::TimeZone zone = absl::UTCTimeZone();
  if (!absl::LoadTimeZone(out.catalog.time_zone().empty() ? "UTC" : out.catalog.time_zone(), &zone)) {
    zone = absl::UTCTimeZone();
  }
  for (auto [field, target] : {std::pair{"from", &out.options.from}, std::pair{"to", &out.options.to}}) {
    const std::string text = QueryParam(call.request.query, field);
    if (text.empty()) continue;
    std::string err;
    if (!absl::ParseTime("%Y-%m-%d", text, zone, target, &err) &&
        !absl::ParseTime(absl::RFC3339_full, text, target, &err)) {
      return WithField(absl::InvalidArgumentError(absl::StrCat(field, ": expected a date (2026-06-01) or an RFC 3339 "
                                                               "time, got \"", text.substr(0, 40), "\"")),
                       field);
    }
  }
  return out;
}

}  // namespace

WebReply CheckExpression(const DeskEnv& env, Call& call) {
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return ErrorReply(body.status());
  auto expression = StringField(*body, "expression");
  auto kind = StringField(*body, "kind");
  if (!expression.ok() || !kind.ok()) return ErrorReply(!expression.ok() ? expression.status() : kind.status());
  ExpressionUse use = ExpressionUse::kTargeting;
  if (*kind == "condition" || *kind == "award") {
    use = ExpressionUse::kProduct;
  } else if (!kind->empty() && *kind != "target" && *kind != "eligibility") {
    return ErrorReply(WithField(
        absl::InvalidArgumentError("kind: expected target, eligibility, condition or award"), "kind"));
  }
  auto catalog = CurrentCatalog(env.catalogs);
  if (!catalog.ok()) return ErrorReply(catalog.status());
  auto error = CheckCatalogExpression(*catalog, use, *expression);
  if (!error.ok()) return ErrorReply(error.status());
  if (!error->has_value()) return JsonReply(200, {{"ok", true}});
  return JsonReply(200, {{"ok", false},
                         {"message", (*error)->message},
                         {"line", (*error)->line},
                         {"column", (*error)->column}});
}

WebReply PriceBasket(const DeskEnv& env, Call& call) {
  auto request = BodyMessage<v1::PriceBasketRequest>(call);
  if (!request.ok()) return ErrorReply(request.status());
  request->set_explain(true);
  auto priced = env.service.PriceBasket(*request);
  if (!priced.ok()) return ErrorReply(priced.status());
  return JsonReply(200, ProtoJson(*priced));
}

WebReply TraceAds(const DeskEnv& env, Call& call) {
  auto request = BodyMessage<v1::SelectAdsRequest>(call);
  if (!request.ok()) return ErrorReply(request.status());
  request->set_trace(true);
  request->set_dry_run(true);  // a look, not a delivery: nothing is recorded
  auto result = env.service.SelectAds(*request);
  if (!result.ok()) return ErrorReply(result.status());
  return JsonReply(200, ProtoJson(*result));
}

WebReply ListReports(const DeskEnv&, Call&) {
  nlohmann::json out = nlohmann::json::array();
  for (const ReportInfo& info : ReportNames()) {
    out.push_back({{"name", info.name}, {"title", info.title}, {"description", info.description}});
  }
  return JsonReply(200, {{"reports", out}});
}

WebReply GetReport(const DeskEnv& env, Call& call) {
  auto query = ReadReportQuery(env, call);
  if (!query.ok()) return ErrorReply(query.status());
  query->options.catalog = &query->catalog;
  const std::string format = QueryParam(call.request.query, "format");
  if (!format.empty() && format != "json" && format != "csv") {
    return ErrorReply(WithField(absl::InvalidArgumentError("format: expected json or csv"), "format"));
  }
  auto table = RunReport(call.params[0], env.store, query->options);
  if (!table.ok()) return ErrorReply(table.status());
  WebReply reply;
  if (format == "csv") {
    reply.content_type = "text/csv; charset=utf-8";
    reply.body = RenderCsv(*table);
    reply.headers.push_back({"Content-Disposition", absl::StrCat("attachment; filename=\"", table->name, ".csv\"")});
  } else {
    reply.body = RenderJson(*table);
  }
  return reply;
}

WebReply GetCharts(const DeskEnv& env, Call& call) {
  auto query = ReadReportQuery(env, call);
  if (!query.ok()) return ErrorReply(query.status());
  query->options.catalog = &query->catalog;
  auto charts = BuildReportCharts(env.store.events(), query->options);
  if (!charts.ok()) return ErrorReply(charts.status());
  WebReply reply;
  reply.body = RenderChartsJson(*charts);
  return reply;
}

}  // namespace herald::desk_internal
