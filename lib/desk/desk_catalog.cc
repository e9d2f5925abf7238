// The admin API's catalog routes: the whole catalog, versions, and one object
// at a time (customers, campaigns, items, target groups, reference tables).
// Every change is a read-modify-write of the current version saved through
// SaveCatalog, so that it is validated exactly as `herald validate` does and
// refused (409) when it was made on a version that is no longer current.
#include <algorithm>
#include <functional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "desk/desk_internal.h"

namespace herald::desk_internal {
namespace {

std::string Rfc3339(int64_t unix_micros) {
  return absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMicros(unix_micros), absl::UTCTimeZone());
}

std::string Quoted(std::string_view kind, std::string_view id) { return absl::StrCat(AV(kind), " \"", AV(id), "\""); }

// The current version as written (version 0 and an empty catalog when none).
struct Current {
  int64_t version = 0;
  v1::Catalog catalog;
};
absl::StatusOr<Current> LoadCurrent(CatalogStore& catalogs) {
  auto number = catalogs.CurrentCatalogVersion();
  if (!number.ok()) return number.status();
  Current out;
  if (*number == 0) return out;
  auto stored = catalogs.LoadCatalogVersion(*number);
  if (!stored.ok()) return stored.status();
  out.version = stored->version();
  out.catalog = std::move(*stored->mutable_catalog());
  return out;
}

// A JSON integer given as a number or a decimal string (proto3 JSON's int64).
absl::StatusOr<int64_t> IntegerField(const nlohmann::json& object, std::string_view name, int64_t absent) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return absent;
  int64_t value = 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string() && absl::SimpleAtoi(it->get<std::string>(), &value)) return value;
  return WithField(absl::InvalidArgumentError(absl::StrCat(AV(name), ": expected an integer")), name);
}

// If-Match: "N" (or N, W/"N"): the version the change was made on; -1 when absent.
absl::StatusOr<int64_t> IfMatch(const WebRequest& request) {
  absl::string_view text = absl::StripAsciiWhitespace(AV(request.Header("if-match")));
  if (text.empty()) return -1;
  absl::ConsumePrefix(&text, "W/");
  absl::ConsumePrefix(&text, "\"");
  absl::ConsumeSuffix(&text, "\"");
  int64_t version = 0;
  if (!absl::SimpleAtoi(text, &version) || version < 0) {
    return WithField(absl::InvalidArgumentError("If-Match: expected the catalog version, as \"12\""), "If-Match");
  }
  return version;
}

nlohmann::json SaveResultJson(const CatalogSaveResult& result) {
  nlohmann::json warnings = nlohmann::json::array();
  for (const CatalogIssue& w : result.warnings) warnings.push_back({{"path", w.path}, {"message", w.message}});
  return {{"version", result.version},
          {"unchanged", result.unchanged},
          {"changes", result.changes},
          {"warnings", warnings}};
}

// The answer to a refused save: the ApiError, with every issue when it was invalid.
WebReply SaveError(const absl::Status& status, const std::vector<CatalogIssue>& issues) {
  WebReply reply = ErrorReply(status);
  if (issues.empty()) return reply;
  nlohmann::json body = nlohmann::json::parse(reply.body, nullptr, false);
  nlohmann::json list = nlohmann::json::array();
  for (const CatalogIssue& issue : issues) {
    list.push_back({{"path", issue.path}, {"message", issue.message}, {"line", issue.line}});
  }
  body["issues"] = list;
  // The message starts with the catalog's source name ("desk: campaign ..."),
  // which is no field of the request: the issues carry the objects' paths.
  body["field"] = "";
  body["message"] = issues.size() == 1 ? issues[0].ToString()
                                       : absl::StrCat("the catalog has ", issues.size(), " problems; nothing was saved");
  reply.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return reply;
}

CatalogSaveOptions SaveOptions(const DeskEnv& env, const Call& call, int64_t based_on, std::string note) {
  CatalogSaveOptions options;
  options.author = call.user();
  options.based_on = based_on;
  options.note = std::move(note);
  options.source = env.options.source;
  return options;
}

// Warnings for the List Manager lists a saved catalog names that the store
// does not hold (yet): valid, since a list may be imported after the item
// that uses it, but a job started before then would be refused.
void WarnMissingLists(Store& store, const v1::Catalog& catalog, std::vector<CatalogIssue>* warnings) {
  MailListStore* lists = store.mail_lists();
  if (lists == nullptr) return;
  auto warn = [&](const std::string& name, std::string path, std::string_view what) {
    if (name.empty()) return;
    auto found = lists->GetList(name);
    if (!found.ok() || found->has_value()) return;
    CatalogIssue issue;
    issue.path = std::move(path);
    issue.message = absl::StrCat(AV(what), ": no list \"", name, "\" in the List Manager yet; import it before the job starts");
    warnings->push_back(std::move(issue));
  };
  warn(catalog.site_opt_out_store_list(), "", "site_opt_out_store_list");
  for (const v1::Campaign& c : catalog.campaigns()) {
    for (const v1::CampaignItem& item : c.items()) {
      if (!item.has_direct_mail()) continue;
      const std::string path = absl::StrCat("campaign \"", c.name().empty() ? c.id() : c.name(), "\" / direct mail \"",
                                            item.name().empty() ? item.id() : item.name(), "\"");
      warn(item.direct_mail().recipients().store_list(), path, "recipients.store_list");
      warn(item.direct_mail().opt_out_store_list(), path, "opt_out_store_list");
    }
  }
}

// Saves `catalog` on `based_on` and records the change in the audit log.
absl::StatusOr<CatalogSaveResult> SaveAndAudit(const DeskEnv& env, const Call& call, const v1::Catalog& catalog,
                                               int64_t based_on, std::string_view object, std::string note,
                                               std::vector<CatalogIssue>* issues) {
  auto result = SaveCatalog(env.catalogs, catalog, SaveOptions(env, call, based_on, std::move(note)), issues);
  if (!result.ok()) return result;
  WarnMissingLists(env.store, catalog, &result->warnings);
  if (result->unchanged) return result;
  // This process's previews (prices, traces) see the new version at once;
  // other processes take it at their next refresh.
  (void)env.service.ReloadCatalog();
  (void)Audit(env.accounts, call.user(), "catalog.save", object,
              absl::StrCat("version ", result->version, "\n", absl::StrJoin(result->changes, "\n")), call.now);
  return result;
}

using Edit = std::function<absl::Status(v1::Catalog*)>;

// Applies `edit` to the current version and saves it. With If-Match, the
// change is refused when another version was saved since; without, a save
// that loses a race with another is applied again on the newer version.
WebReply EditCatalog(const DeskEnv& env, const Call& call, std::string_view object, const Edit& edit) {
  auto based_on = IfMatch(call.request);
  if (!based_on.ok()) return ErrorReply(based_on.status());
  for (int attempt = 0;; ++attempt) {
    auto current = LoadCurrent(env.catalogs);
    if (!current.ok()) return ErrorReply(current.status());
    if (*based_on >= 0 && current->version != *based_on) {
      return ErrorReply(absl::AbortedError(absl::StrCat("catalog: version ", current->version,
                                                        " was saved after version ", *based_on,
                                                        " that this change was made on; reload and apply it again")));
    }
    v1::Catalog catalog = current->catalog;
    if (absl::Status s = edit(&catalog); !s.ok()) return ErrorReply(s);
    std::vector<CatalogIssue> issues;
    auto result = SaveAndAudit(env, call, catalog, current->version, object, "", &issues);
    if (absl::IsAborted(result.status()) && *based_on < 0 && attempt < 3) continue;
    if (!result.ok()) return SaveError(result.status(), issues);
    return JsonReply(200, SaveResultJson(*result));
  }
}

// The object of type T in `list` whose id() is `id`; null when none.
template <typename List>
auto* FindById(List* list, std::string_view id) {
  auto it = std::find_if(list->begin(), list->end(), [&](const auto& x) { return x.id() == id; });
  return it == list->end() ? nullptr : &*it;
}

template <typename List>
absl::Status RemoveById(List* list, std::string_view id, std::string_view kind) {
  auto it = std::find_if(list->begin(), list->end(), [&](const auto& x) { return x.id() == id; });
  if (it == list->end()) return absl::NotFoundError(absl::StrCat("no ", AV(kind), " \"", AV(id), "\""));
  list->erase(it);
  return absl::OkStatus();
}

// The body as message T whose id must be the route's (or empty: it is set).
template <typename T>
absl::StatusOr<T> BodyObject(const Call& call, std::string_view id) {
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return body.status();
  T object;
  if (absl::Status s = ParseProto(*body, "body", &object); !s.ok()) return s;
  if (object.id().empty()) object.set_id(std::string(id));
  if (object.id() != id) {
    return WithField(absl::InvalidArgumentError(absl::StrCat("id: \"", object.id(), "\" is not the route's \"", AV(id),
                                                             "\"; to rename, delete and add")),
                     "id");
  }
  return object;
}

// Adds `object` to `list`, or replaces the one with its id.
template <typename List, typename T>
void Upsert(List* list, const T& object) {
  if (auto* existing = FindById(list, object.id()); existing != nullptr) {
    *existing = object;
  } else {
    *list->Add() = object;
  }
}

}  // namespace

WebReply GetCatalog(const DeskEnv& env, Call&) {
  auto current = LoadCurrent(env.catalogs);
  if (!current.ok()) return ErrorReply(current.status());
  // Each paid ad's delivery goal (its quantity, or its share of the
  // campaign's under campaign-level goaling), so that the app shows what
  // the goaling switch computed.
  nlohmann::json goals = nlohmann::json::object();
  for (const v1::Campaign& campaign : current->catalog.campaigns()) {
    const std::vector<int64_t> split = PaidAdGoals(campaign);
    for (int i = 0; i < campaign.items_size(); ++i) {
      const v1::CampaignItem& item = campaign.items(i);
      if (item.has_ad() && item.ad().type() != v1::AD_TYPE_HOUSE) goals[item.id()] = split[static_cast<size_t>(i)];
    }
  }
  WebReply reply = JsonReply(
      200, {{"version", current->version}, {"catalog", ProtoJson(current->catalog)}, {"goals", goals}});
  reply.headers.push_back({"ETag", absl::StrCat("\"", current->version, "\"")});
  return reply;
}

WebReply PutCatalog(const DeskEnv& env, Call& call) {
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return ErrorReply(body.status());
  auto based_on = IntegerField(*body, "basedOn", -1);
  auto note = StringField(*body, "note");
  if (!based_on.ok() || !note.ok()) return ErrorReply(!based_on.ok() ? based_on.status() : note.status());
  v1::Catalog catalog;
  if (auto it = body->find("catalog"); it == body->end()) {
    return ErrorReply(WithField(absl::InvalidArgumentError("catalog: required"), "catalog"));
  } else if (absl::Status s = ParseProto(*it, "catalog", &catalog); !s.ok()) {
    return ErrorReply(s);
  }
  std::vector<CatalogIssue> issues;
  auto result = SaveAndAudit(env, call, catalog, *based_on, "catalog", *note, &issues);
  if (!result.ok()) return SaveError(result.status(), issues);
  return JsonReply(200, SaveResultJson(*result));
}

namespace {
nlohmann::json VersionJson(const v1::CatalogVersion& v) {
  return {{"version", v.version()},   {"time", Rfc3339(v.time_unix_micros())}, {"author", v.author()},
          {"summary", v.summary()},   {"rollbackOf", v.rollback_of()}};
}

absl::StatusOr<int64_t> VersionParam(std::string_view text, std::string_view field) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(AV(text), &n) || n < 0) {
    return WithField(absl::InvalidArgumentError(absl::StrCat(AV(field), ": expected a version number")), field);
  }
  return n;
}
}  // namespace

WebReply ListVersions(const DeskEnv& env, Call&) {
  auto versions = env.catalogs.ListCatalogVersions();
  if (!versions.ok()) return ErrorReply(versions.status());
  nlohmann::json out = nlohmann::json::array();
  for (const v1::CatalogVersion& v : *versions) out.push_back(VersionJson(v));
  return JsonReply(200, {{"versions", out}});
}

WebReply GetVersion(const DeskEnv& env, Call& call) {
  auto n = VersionParam(call.params[0], "version");
  if (!n.ok()) return ErrorReply(n.status());
  auto stored = env.catalogs.LoadCatalogVersion(*n);
  if (!stored.ok()) return ErrorReply(stored.status());
  nlohmann::json out = VersionJson(*stored);
  out["catalog"] = ProtoJson(stored->catalog());
  return JsonReply(200, out);
}

WebReply DiffVersions(const DeskEnv& env, Call& call) {
  const std::string to_text = QueryParam(call.request.query, "to");
  auto from = VersionParam(QueryParam(call.request.query, "from"), "from");
  auto to = VersionParam(to_text.empty() ? "0" : to_text, "to");
  if (!from.ok() || !to.ok()) return ErrorReply(!from.ok() ? from.status() : to.status());
  auto a = env.catalogs.LoadCatalogVersion(*from);
  auto b = env.catalogs.LoadCatalogVersion(*to);
  if (!a.ok() || !b.ok()) return ErrorReply(!a.ok() ? a.status() : b.status());
  return JsonReply(200, {{"from", a->version()},
                         {"to", b->version()},
                         {"changes", DescribeCatalogChanges(a->catalog(), b->catalog())}});
}

WebReply Rollback(const DeskEnv& env, Call& call) {
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return ErrorReply(body.status());
  auto version = IntegerField(*body, "version", 0);
  auto note = StringField(*body, "note");
  if (!version.ok() || !note.ok()) return ErrorReply(!version.ok() ? version.status() : note.status());
  if (*version < 1) return ErrorReply(WithField(absl::InvalidArgumentError("version: required, 1 or more"), "version"));
  auto result = RollbackCatalog(env.catalogs, *version, SaveOptions(env, call, -1, *note));
  if (!result.ok()) return ErrorReply(result.status());
  (void)env.service.ReloadCatalog();
  (void)Audit(env.accounts, call.user(), "catalog.rollback", "catalog",
              absl::StrCat("to version ", *version, " as version ", result->version, "\n",
                           absl::StrJoin(result->changes, "\n")),
              call.now);
  return JsonReply(200, SaveResultJson(*result));
}

WebReply ListCustomers(const DeskEnv& env, Call&) {
  auto current = LoadCurrent(env.catalogs);
  if (!current.ok()) return ErrorReply(current.status());
  std::vector<const v1::Customer*> sorted;
  for (const v1::Customer& c : current->catalog.customers()) sorted.push_back(&c);
  // Alphabetical by name, as the Campaign Manager listed them; then by id.
  std::stable_sort(sorted.begin(), sorted.end(), [](const v1::Customer* a, const v1::Customer* b) {
    const std::string an = absl::AsciiStrToLower(a->name().empty() ? a->id() : a->name());
    const std::string bn = absl::AsciiStrToLower(b->name().empty() ? b->id() : b->name());
    return an != bn ? an < bn : a->id() < b->id();
  });
  nlohmann::json out = nlohmann::json::array();
  for (const v1::Customer* c : sorted) out.push_back(ProtoJson(*c));
  return JsonReply(200, {{"version", current->version}, {"customers", out}});
}

WebReply PutCustomer(const DeskEnv& env, Call& call) {
  auto customer = BodyObject<v1::Customer>(call, call.params[0]);
  if (!customer.ok()) return ErrorReply(customer.status());
  return EditCatalog(env, call, Quoted("customer", call.params[0]), [&](v1::Catalog* catalog) {
    Upsert(catalog->mutable_customers(), *customer);
    return absl::OkStatus();
  });
}

WebReply DeleteCustomer(const DeskEnv& env, Call& call) {
  return EditCatalog(env, call, Quoted("customer", call.params[0]), [&](v1::Catalog* catalog) {
    return RemoveById(catalog->mutable_customers(), call.params[0], "customer");
  });
}

WebReply PutCampaign(const DeskEnv& env, Call& call) {
  auto campaign = BodyObject<v1::Campaign>(call, call.params[0]);
  if (!campaign.ok()) return ErrorReply(campaign.status());
  if (campaign->items_size() > 0) {
    return ErrorReply(WithField(absl::InvalidArgumentError(absl::StrCat(
                                    "items: a campaign's items are saved with PUT /api/v1/campaigns/",
                                    call.params[0], "/items/{item}")),
                                "items"));
  }
  return EditCatalog(env, call, Quoted("campaign", call.params[0]), [&](v1::Catalog* catalog) {
    v1::Campaign merged = *campaign;
    if (const v1::Campaign* stored = FindById(catalog->mutable_campaigns(), merged.id()); stored != nullptr) {
      *merged.mutable_items() = stored->items();  // kept: items have their own routes
    }
    Upsert(catalog->mutable_campaigns(), merged);
    return absl::OkStatus();
  });
}

WebReply DeleteCampaign(const DeskEnv& env, Call& call) {
  return EditCatalog(env, call, Quoted("campaign", call.params[0]), [&](v1::Catalog* catalog) {
    return RemoveById(catalog->mutable_campaigns(), call.params[0], "campaign");
  });
}

namespace {
absl::StatusOr<v1::Campaign*> CampaignOf(v1::Catalog* catalog, std::string_view id) {
  v1::Campaign* campaign = FindById(catalog->mutable_campaigns(), id);
  if (campaign == nullptr) return absl::NotFoundError(absl::StrCat("no campaign \"", AV(id), "\""));
  return campaign;
}
}  // namespace

WebReply PutItem(const DeskEnv& env, Call& call) {
  auto item = BodyObject<v1::CampaignItem>(call, call.params[1]);
  if (!item.ok()) return ErrorReply(item.status());
  const std::string object = absl::StrCat(Quoted("campaign", call.params[0]), " / ", Quoted("item", call.params[1]));
  return EditCatalog(env, call, object, [&](v1::Catalog* catalog) -> absl::Status {
    auto campaign = CampaignOf(catalog, call.params[0]);
    if (!campaign.ok()) return campaign.status();
    Upsert((*campaign)->mutable_items(), *item);
    return absl::OkStatus();
  });
}

WebReply DeleteItem(const DeskEnv& env, Call& call) {
  const std::string object = absl::StrCat(Quoted("campaign", call.params[0]), " / ", Quoted("item", call.params[1]));
  return EditCatalog(env, call, object, [&](v1::Catalog* catalog) -> absl::Status {
    auto campaign = CampaignOf(catalog, call.params[0]);
    if (!campaign.ok()) return campaign.status();
    return RemoveById((*campaign)->mutable_items(), call.params[1], "item");
  });
}

WebReply SetGoaling(const DeskEnv& env, Call& call) {
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return ErrorReply(body.status());
  auto level_text = StringField(*body, "level");
  if (!level_text.ok()) return ErrorReply(level_text.status());
  v1::GoalingLevel level = v1::GOALING_LEVEL_UNSPECIFIED;
  if (*level_text == "ad") level = v1::GOALING_LEVEL_AD;
  if (*level_text == "campaign") level = v1::GOALING_LEVEL_CAMPAIGN;
  if (level == v1::GOALING_LEVEL_UNSPECIFIED) {
    return ErrorReply(WithField(absl::InvalidArgumentError("level: expected \"ad\" or \"campaign\""), "level"));
  }
  std::vector<std::string> did;
  nlohmann::json items = nlohmann::json::array();
  auto edit = [&](v1::Catalog* catalog) -> absl::Status {
    auto campaign = CampaignOf(catalog, call.params[0]);
    if (!campaign.ok()) return campaign.status();
    auto lines = SetGoalingLevel(*campaign, level);
    if (!lines.ok()) return lines.status();
    did = std::move(*lines);
    items = nlohmann::json::array();
    const std::vector<int64_t> goals = PaidAdGoals(**campaign);
    for (int i = 0; i < (*campaign)->items_size(); ++i) {
      const v1::CampaignItem& item = (*campaign)->items(i);
      if (!item.has_ad() || item.ad().type() == v1::AD_TYPE_HOUSE) continue;
      items.push_back({{"id", item.id()}, {"quantity", goals[static_cast<size_t>(i)]}, {"weight", item.ad().weight()}});
    }
    return absl::OkStatus();
  };
  WebReply reply = EditCatalog(env, call, Quoted("campaign", call.params[0]), edit);
  if (reply.status != 200) return reply;
  nlohmann::json out = nlohmann::json::parse(reply.body, nullptr, false);
  out["items"] = items;
  out["did"] = did;
  return JsonReply(200, out);
}

WebReply PutTargetGroup(const DeskEnv& env, Call& call) {
  auto group = BodyObject<v1::TargetGroup>(call, call.params[0]);
  if (!group.ok()) return ErrorReply(group.status());
  return EditCatalog(env, call, Quoted("target group", call.params[0]), [&](v1::Catalog* catalog) {
    Upsert(catalog->mutable_target_groups(), *group);
    return absl::OkStatus();
  });
}

WebReply DeleteTargetGroup(const DeskEnv& env, Call& call) {
  return EditCatalog(env, call, Quoted("target group", call.params[0]), [&](v1::Catalog* catalog) {
    return RemoveById(catalog->mutable_target_groups(), call.params[0], "target group");
  });
}

WebReply PutReferenceTables(const DeskEnv& env, Call& call) {
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return ErrorReply(body.status());
  v1::ReferenceTables tables;
  if (absl::Status s = ParseProto(*body, "body", &tables); !s.ok()) return ErrorReply(s);
  return EditCatalog(env, call, "reference tables", [&](v1::Catalog* catalog) {
    *catalog->mutable_reference_tables() = tables;
    return absl::OkStatus();
  });
}

}  // namespace herald::desk_internal
