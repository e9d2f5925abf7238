// The List Manager's routes: recipient and opt-out lists kept in the store
// (MailListStore), imported from CSV with a preview of the column mapping,
// and each direct-mail item's audience after its opt-out lists.
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "desk/desk_internal.h"
#include "herald/mail.h"

namespace herald::desk_internal {
namespace {

constexpr int kSampleRows = 10;
constexpr int kMaxProblems = 20;

std::string_view KindName(v1::MailListKind kind) {
  return kind == v1::MAIL_LIST_KIND_OPT_OUT ? "opt-out" : "recipients";
}

absl::StatusOr<v1::MailListKind> KindFrom(std::string_view text) {
  if (text.empty() || text == "recipients") return v1::MAIL_LIST_KIND_RECIPIENTS;
  if (text == "opt-out") return v1::MAIL_LIST_KIND_OPT_OUT;
  return WithField(absl::InvalidArgumentError(absl::StrCat("kind: expected \"recipients\" or \"opt-out\", got \"",
                                                           AV(text.substr(0, 40)), "\"")),
                   "kind");
}

nlohmann::json ListJson(const v1::MailList& list) {
  return {{"name", list.name()},
          {"kind", KindName(list.kind())},
          {"columns", std::vector<std::string>(list.columns().begin(), list.columns().end())},
          {"rows", list.rows()},
          {"updatedBy", list.updated_by()},
          {"updated", absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMicros(list.updated_unix_micros()),
                                       absl::UTCTimeZone())},
          {"description", list.description()}};
}

absl::StatusOr<MailListStore*> Lists(const DeskEnv& env) {
  MailListStore* lists = env.store.mail_lists();
  if (lists == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("the store ", env.store.Describe(), " keeps no List Manager lists"));
  }
  return lists;
}

// What an import asks for (the body of lists:preview and PUT lists/{name}).
struct ListImport {
  v1::MailListKind kind = v1::MAIL_LIST_KIND_RECIPIENTS;
  std::string csv;
  char delimiter = ',';
  std::string email_column;  // empty: guessed
  std::string id_column;     // empty: none
  std::string description;
  std::vector<std::string> addresses;  // an opt-out list's addresses, instead of csv
  bool has_addresses = false;
  bool replace = false;  // an opt-out list: replace it instead of adding to it
};

absl::StatusOr<std::vector<std::string>> StringArray(const nlohmann::json& object, std::string_view name) {
  std::vector<std::string> out;
  auto it = object.find(std::string(name));
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_array()) {
    return WithField(absl::InvalidArgumentError(absl::StrCat(AV(name), ": expected an array of strings")), name);
  }
  for (const auto& value : *it) {
    if (!value.is_string()) {
      return WithField(absl::InvalidArgumentError(absl::StrCat(AV(name), ": expected an array of strings")), name);
    }
    out.push_back(value.get<std::string>());
  }
  return out;
}

absl::StatusOr<ListImport> ReadImport(std::string_view body) {
  auto object = ParseObject(body);
  if (!object.ok()) return object.status();
  ListImport in;
  auto kind = StringField(*object, "kind");
  if (!kind.ok()) return kind.status();
  auto parsed_kind = KindFrom(*kind);
  if (!parsed_kind.ok()) return parsed_kind.status();
  in.kind = *parsed_kind;
  for (auto [name, target] : {std::pair{"csv", &in.csv}, std::pair{"emailColumn", &in.email_column},
                              std::pair{"idColumn", &in.id_column}, std::pair{"description", &in.description}}) {
    auto value = StringField(*object, name);
    if (!value.ok()) return value.status();
    *target = std::move(*value);
  }
  auto delimiter = StringField(*object, "delimiter");
  if (!delimiter.ok()) return delimiter.status();
  if (*delimiter == "\\t" || *delimiter == "tab") *delimiter = "\t";
  if (delimiter->size() > 1 || *delimiter == "\"" || *delimiter == "\n" || *delimiter == "\r") {
    return WithField(absl::InvalidArgumentError("delimiter: expected one character other than a quote or a line break"),
                     "delimiter");
  }
  if (!delimiter->empty()) in.delimiter = (*delimiter)[0];
  if (auto it = object->find("replace"); it != object->end() && !it->is_null()) {
    if (!it->is_boolean()) return WithField(absl::InvalidArgumentError("replace: expected true or false"), "replace");
    in.replace = it->get<bool>();
  }
  auto addresses = StringArray(*object, "addresses");
  if (!addresses.ok()) return addresses.status();
  in.has_addresses = object->contains("addresses") && !(*object)["addresses"].is_null();
  in.addresses = std::move(*addresses);
  if (in.has_addresses && in.kind != v1::MAIL_LIST_KIND_OPT_OUT) {
    return WithField(absl::InvalidArgumentError("addresses: only an opt-out list is given as addresses; a recipient "
                                                "list is CSV with a header row"),
                     "addresses");
  }
  if (!in.has_addresses && in.csv.empty()) {
    return WithField(absl::InvalidArgumentError("csv: the list's CSV text (a header row, then one row per recipient)"),
                     "csv");
  }
  return in;
}

// "E-Mail Address" -> "emailaddress": header names compared loosely.
std::string Squeeze(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

// The address column: by its header, else the first column whose first
// values are mostly valid addresses; -1 when none.
int GuessEmailColumn(const RecipientTable& table) {
  for (size_t c = 0; c < table.columns.size(); ++c) {
    const std::string name = Squeeze(table.columns[c]);
    if (name == "email" || name == "mail" || name == "emailaddress" || name == "mailaddress") {
      return static_cast<int>(c);
    }
  }
  for (size_t c = 0; c < table.columns.size(); ++c) {
    int seen = 0, valid = 0;
    for (size_t r = 0; r < table.rows.size() && seen < 20; ++r) {
      if (table.rows[r][c].empty()) continue;
      ++seen;
      valid += ValidateAddress(NormalizeAddress(table.rows[r][c])).ok();
    }
    if (seen > 0 && valid * 5 >= seen * 4) return static_cast<int>(c);
  }
  return -1;
}

// An import read, mapped and cleaned: what the preview shows and PUT stores.
struct PreparedList {
  std::vector<std::string> source_columns;  // the CSV header as given
  std::string email_column, id_column;
  std::vector<std::string> columns;         // as stored: the address column is "email", the id column "id"
  std::vector<std::vector<std::string>> rows;
  int64_t read = 0, invalid = 0, duplicates = 0;
  nlohmann::json problems = nlohmann::json::array();

  void Problem(int line, std::string message) {
    if (problems.size() < kMaxProblems) problems.push_back({{"line", line}, {"message", std::move(message)}});
  }
};

// The stored column names: the address column becomes "email", the id
// column "id"; another column already named so would be ambiguous.
absl::Status MapColumns(const RecipientTable& table, PreparedList& out) {
  for (size_t c = 0; c < table.columns.size(); ++c) {
    std::string name = table.columns[c];
    if (static_cast<int>(c) == table.email_column) {
      name = "email";
    } else if (static_cast<int>(c) == table.id_column) {
      name = "id";
    } else if (name == "email" || name == "id") {
      return WithField(absl::InvalidArgumentError(absl::StrCat("column \"", name, "\" (column ", c + 1,
                                                               ") is not the mapped ", name,
                                                               " column: rename it or map it")),
                       name == "email" ? "emailColumn" : "idColumn");
    }
    out.columns.push_back(std::move(name));
  }
  return absl::OkStatus();
}

// Reads the CSV, picks the address and id columns and keeps each valid
// address once (normalized), noting what was left out and where.
absl::StatusOr<PreparedList> PrepareCsv(const ListImport& in) {
  auto table = ParseRecipientCsv(in.csv, "csv", "", "", in.delimiter);
  if (!table.ok()) return WithField(table.status(), "csv");
  PreparedList out;
  out.source_columns = table->columns;
  table->email_column = in.email_column.empty() ? GuessEmailColumn(*table) : table->ColumnIndex(in.email_column);
  if (table->email_column < 0) {
    return WithField(absl::InvalidArgumentError(absl::StrCat(
                         in.email_column.empty() ? "emailColumn: no column looks like addresses"
                                                 : absl::StrCat("emailColumn: no column \"", in.email_column, "\""),
                         " (columns: ", absl::StrJoin(table->columns, ", "), ")")),
                     "emailColumn");
  }
  if (!in.id_column.empty()) {
    table->id_column = table->ColumnIndex(in.id_column);
    if (table->id_column < 0 || table->id_column == table->email_column) {
      return WithField(absl::InvalidArgumentError(absl::StrCat("idColumn: no column \"", in.id_column,
                                                               "\" other than the address column")),
                       "idColumn");
    }
  }
  out.email_column = table->columns[table->email_column];
  if (table->id_column >= 0) out.id_column = table->columns[table->id_column];
  if (in.kind == v1::MAIL_LIST_KIND_OPT_OUT) {
    out.columns = {"email"};
  } else if (absl::Status s = MapColumns(*table, out); !s.ok()) {
    return s;
  }
  absl::flat_hash_set<std::string> seen;
  for (size_t r = 0; r < table->rows.size(); ++r) {
    std::vector<std::string>& row = table->rows[r];
    const int line = r < table->lines.size() ? table->lines[r] : static_cast<int>(r) + 2;
    ++out.read;
    std::string address = NormalizeAddress(row[table->email_column]);
    if (absl::Status valid = ValidateAddress(address); !valid.ok()) {
      ++out.invalid;
      out.Problem(line, absl::StrCat("left out: ", valid.message()));
      continue;
    }
    if (!seen.insert(address).second) {
      ++out.duplicates;
      out.Problem(line, absl::StrCat("left out: ", address, " is on an earlier row"));
      continue;
    }
    if (in.kind == v1::MAIL_LIST_KIND_OPT_OUT) {
      out.rows.push_back({std::move(address)});
    } else {
      row[table->email_column] = std::move(address);
      out.rows.push_back(std::move(row));
    }
  }
  return out;
}

// An opt-out list given as addresses: each valid one once, normalized.
PreparedList PrepareAddresses(const ListImport& in) {
  PreparedList out;
  out.columns = {"email"};
  out.email_column = "email";
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < in.addresses.size(); ++i) {
    ++out.read;
    std::string address = NormalizeAddress(in.addresses[i]);
    if (absl::Status valid = ValidateAddress(address); !valid.ok()) {
      ++out.invalid;
      out.Problem(static_cast<int>(i) + 1, absl::StrCat("left out: ", valid.message()));
    } else if (!seen.insert(address).second) {
      ++out.duplicates;
    } else {
      out.rows.push_back({std::move(address)});
    }
  }
  return out;
}

absl::StatusOr<PreparedList> Prepare(const ListImport& in) {
  return in.has_addresses ? PrepareAddresses(in) : PrepareCsv(in);
}

// Every use of list `name` in the catalog: "item \"x\" recipients", ...
std::vector<std::string> ListUses(const v1::Catalog& catalog, std::string_view name) {
  std::vector<std::string> uses;
  if (catalog.site_opt_out_store_list() == name) uses.push_back("the catalog's site_opt_out_store_list");
  for (const auto& campaign : catalog.campaigns()) {
    for (const auto& item : campaign.items()) {
      if (!item.has_direct_mail()) continue;
      const v1::DirectMail& mail = item.direct_mail();
      if (mail.recipients().store_list() == name) uses.push_back(absl::StrCat("item \"", item.id(), "\" recipients"));
      if (mail.opt_out_store_list() == name) uses.push_back(absl::StrCat("item \"", item.id(), "\" opt_out_store_list"));
    }
  }
  return uses;
}

}  // namespace

WebReply ListMailLists(const DeskEnv& env, Call& call) {
  (void)call;
  auto lists = Lists(env);
  if (!lists.ok()) return ErrorReply(lists.status());
  auto all = (*lists)->ListLists();
  if (!all.ok()) return ErrorReply(all.status());
  nlohmann::json out = nlohmann::json::array();
  for (const v1::MailList& list : *all) out.push_back(ListJson(list));
  return JsonReply(200, {{"lists", out}});
}

WebReply GetMailList(const DeskEnv& env, Call& call) {
  auto lists = Lists(env);
  if (!lists.ok()) return ErrorReply(lists.status());
  auto list = (*lists)->GetList(call.params[0]);
  if (!list.ok()) return ErrorReply(list.status());
  if (!list->has_value()) return ErrorReply(absl::NotFoundError(absl::StrCat("list '", call.params[0], "' not found")));
  int64_t offset = 0, limit = 50;
  for (auto [name, target, max] : {std::tuple{"offset", &offset, int64_t{1} << 40}, std::tuple{"limit", &limit, int64_t{1000}}}) {
    const std::string text = QueryParam(call.request.query, name);
    if (text.empty()) continue;
    if (!absl::SimpleAtoi(text, target) || *target < 0 || *target > max) {
      return ErrorReply(WithField(absl::InvalidArgumentError(absl::StrCat(name, ": expected a number from 0 to ", max)), name));
    }
  }
  nlohmann::json rows = nlohmann::json::array();
  int64_t index = 0;
  absl::Status s = (*lists)->ScanList(call.params[0], [&](std::span<const std::string> values) -> absl::Status {
    if (index++ < offset) return absl::OkStatus();
    if (static_cast<int64_t>(rows.size()) >= limit) return absl::CancelledError("page full");
    rows.push_back(std::vector<std::string>(values.begin(), values.end()));
    return absl::OkStatus();
  });
  if (!s.ok() && !absl::IsCancelled(s)) return ErrorReply(s);
  return JsonReply(200, {{"list", ListJson(**list)}, {"offset", offset}, {"rows", rows}});
}

WebReply PreviewMailList(const DeskEnv& env, Call& call) {
  (void)env;
  auto in = ReadImport(call.request.body);
  if (!in.ok()) return ErrorReply(in.status());
  auto list = Prepare(*in);
  if (!list.ok()) return ErrorReply(list.status());
  nlohmann::json sample = nlohmann::json::array();
  for (size_t r = 0; r < list->rows.size() && r < kSampleRows; ++r) sample.push_back(list->rows[r]);
  return JsonReply(200, {{"columns", list->source_columns},
                         {"emailColumn", list->email_column},
                         {"idColumn", list->id_column},
                         {"mappedColumns", list->columns},
                         {"rows", list->read},
                         {"valid", static_cast<int64_t>(list->rows.size())},
                         {"invalidAddresses", list->invalid},
                         {"duplicates", list->duplicates},
                         {"sample", sample},
                         {"problems", list->problems}});
}

namespace {

// Adds an import's addresses to the opt-out list of the call.
WebReply MergeOptOuts(const DeskEnv& env, const Call& call, const PreparedList& prepared) {
  MailListStore& lists = *env.store.mail_lists();
  std::vector<std::string> addresses;
  for (const auto& row : prepared.rows) addresses.push_back(row[0]);
  auto added = lists.AddOptOuts(call.params[0], addresses, call.user(), absl::ToUnixMicros(call.now));
  if (!added.ok()) return ErrorReply(added.status());
  auto list = lists.GetList(call.params[0]);
  if (!list.ok()) return ErrorReply(list.status());
  if (!list->has_value()) return ErrorReply(absl::NotFoundError(absl::StrCat("list '", call.params[0], "' not found")));
  (void)Audit(env.accounts, call.user(), "list.import", absl::StrCat("list \"", call.params[0], "\""),
              absl::StrCat("opt-out, ", *added, " addresses added (", prepared.invalid, " invalid and ",
                           prepared.duplicates, " duplicate addresses left out)"),
              call.now);
  return JsonReply(200, {{"list", ListJson(**list)},
                         {"imported", *added},
                         {"invalidAddresses", prepared.invalid},
                         {"duplicates", prepared.duplicates},
                         {"problems", prepared.problems}});
}

}  // namespace

WebReply PutMailList(const DeskEnv& env, Call& call) {
  auto lists = Lists(env);
  if (!lists.ok()) return ErrorReply(lists.status());
  auto in = ReadImport(call.request.body);
  if (!in.ok()) return ErrorReply(in.status());
  auto prepared = Prepare(*in);
  if (!prepared.ok()) return ErrorReply(prepared.status());
  // An opt-out list only grows unless the import says to replace it: an
  // unsubscribe recorded while the editor prepared the file is kept.
  auto existing = (*lists)->GetList(call.params[0]);
  if (!existing.ok()) return ErrorReply(existing.status());
  if (in->kind == v1::MAIL_LIST_KIND_OPT_OUT && !in->replace && existing->has_value() &&
      (*existing)->kind() == v1::MAIL_LIST_KIND_OPT_OUT) {
    return MergeOptOuts(env, call, *prepared);
  }
  v1::MailList list;
  list.set_name(call.params[0]);
  list.set_kind(in->kind);
  for (const std::string& column : prepared->columns) list.add_columns(column);
  list.set_updated_by(call.user());
  list.set_updated_unix_micros(absl::ToUnixMicros(call.now));
  list.set_description(in->description);
  if (absl::Status s = (*lists)->PutList(list, prepared->rows); !s.ok()) return ErrorReply(WithField(s, "name"));
  auto stored = (*lists)->GetList(list.name());
  if (!stored.ok()) return ErrorReply(stored.status());
  if (stored->has_value()) list = **stored;
  (void)Audit(env.accounts, call.user(), "list.import", absl::StrCat("list \"", list.name(), "\""),
              absl::StrCat(AV(KindName(list.kind())), ", ", prepared->rows.size(), " rows (", prepared->invalid,
                           " invalid and ", prepared->duplicates, " duplicate addresses left out)"),
              call.now);
  return JsonReply(200, {{"list", ListJson(list)},
                         {"imported", static_cast<int64_t>(prepared->rows.size())},
                         {"invalidAddresses", prepared->invalid},
                         {"duplicates", prepared->duplicates},
                         {"problems", prepared->problems}});
}

WebReply AddToMailList(const DeskEnv& env, Call& call) {
  auto lists = Lists(env);
  if (!lists.ok()) return ErrorReply(lists.status());
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return ErrorReply(body.status());
  auto given = StringArray(*body, "addresses");
  if (!given.ok()) return ErrorReply(given.status());
  std::vector<std::string> valid, invalid;
  for (const std::string& a : *given) {
    std::string address = NormalizeAddress(a);
    (ValidateAddress(address).ok() ? valid : invalid).push_back(address.empty() ? a : address);
  }
  auto added = (*lists)->AddOptOuts(call.params[0], valid, call.user(), absl::ToUnixMicros(call.now));
  if (!added.ok()) return ErrorReply(added.status());
  auto list = (*lists)->GetList(call.params[0]);
  if (!list.ok()) return ErrorReply(list.status());
  if (!list->has_value()) return ErrorReply(absl::NotFoundError(absl::StrCat("list '", call.params[0], "' not found")));
  (void)Audit(env.accounts, call.user(), "list.add", absl::StrCat("list \"", call.params[0], "\""),
              absl::StrCat(*added, " addresses added"), call.now);
  return JsonReply(200, {{"list", ListJson(**list)}, {"added", *added}, {"invalid", invalid}});
}

WebReply DeleteMailList(const DeskEnv& env, Call& call) {
  auto lists = Lists(env);
  if (!lists.ok()) return ErrorReply(lists.status());
  auto catalog = CurrentCatalog(env.catalogs);
  if (!catalog.ok()) return ErrorReply(catalog.status());
  if (std::vector<std::string> uses = ListUses(*catalog, call.params[0]); !uses.empty()) {
    return ErrorReply(absl::FailedPreconditionError(absl::StrCat("list '", call.params[0],
                                                                 "' is in use by the current catalog: ",
                                                                 absl::StrJoin(uses, ", "))));
  }
  if (absl::Status s = (*lists)->DeleteList(call.params[0]); !s.ok()) return ErrorReply(s);
  (void)Audit(env.accounts, call.user(), "list.delete", absl::StrCat("list \"", call.params[0], "\""), "", call.now);
  return NoContent();
}

WebReply GetMailAudience(const DeskEnv& env, Call& call) {
  auto catalog = CurrentCatalog(env.catalogs);
  if (!catalog.ok()) return ErrorReply(catalog.status());
  auto item = FindDirectMailItem(*catalog, call.params[0]);
  if (!item.ok()) return ErrorReply(item.status());
  auto spec = DeskMailJobSpec(*catalog, **item, env.options);
  if (!spec.ok()) return ErrorReply(spec.status());
  MailerOptions options;
  Registry fallback;
  options.registry = env.options.registry != nullptr ? env.options.registry : &fallback;
  options.store = &env.store;
  auto audience = CountMailAudience(*spec, options);
  if (!audience.ok()) return ErrorReply(audience.status());
  const v1::DirectMail& mail = (*item)->direct_mail();
  std::string source = mail.recipients().store_list();
  if (source.empty()) source = mail.recipients().csv_path();
  if (source.empty()) source = mail.recipients().store_table();
  if (source.empty()) source = mail.recipients().plugin();
  return JsonReply(200, {{"item", (*item)->id()},
                         {"recipientList", source},
                         {"siteOptOutList", !catalog->site_opt_out_store_list().empty()
                                                ? catalog->site_opt_out_store_list()
                                                : catalog->site_opt_out_list()},
                         {"itemOptOutList", !mail.opt_out_store_list().empty() ? mail.opt_out_store_list()
                                                                               : mail.opt_out_list()},
                         {"rows", audience->rows},
                         {"recipients", audience->recipients},
                         {"invalidAddresses", audience->invalid_addresses},
                         {"duplicates", audience->duplicates},
                         {"optedOutSite", audience->opted_out_site},
                         {"optedOutItem", audience->opted_out_item},
                         {"optedOut", audience->opted_out},
                         {"willReceive", audience->will_receive}});
}

}  // namespace herald::desk_internal
