// herald catalog push|pull|history|diff|rollback|set-goaling --store URI: the
// site's catalog kept in the store as numbered versions
// (herald/catalog_versions.h, docs/business-desk.md).
//
//   herald catalog push FILE --store URI [--note TEXT] [--based-on N]
//   herald catalog pull --store URI [--version N] [-o FILE] [--format textproto|json]
//   herald catalog history --store URI
//   herald catalog diff A [B] --store URI          (B: the current version)
//   herald catalog rollback N --store URI [--note TEXT]
//   herald catalog set-goaling CAMPAIGN_ID ad|campaign --store URI [--note TEXT]
//
// The author of a change is $HERALD_AUTHOR, else $USER, else "unknown".
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "commands.h"
#include "core/strings.h"
#include "herald/catalog_versions.h"
#include "herald/store.h"
#include "json_output.h"

namespace herald::cli {

namespace {

struct CatalogArgs {
  std::string store;
  std::string file;          // push
  std::string note;          // push, rollback, set-goaling
  int64_t based_on = -1;     // push
  int64_t version = 0;       // pull, rollback, diff A
  int64_t other = 0;         // diff B
  std::string output;        // pull
  std::string format = "textproto";
  std::string campaign;      // set-goaling
  std::string level;         // set-goaling
  bool json = false;
};

std::string Author() {
  for (const char* name : {"HERALD_AUTHOR", "USER"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Store>> Open(const CatalogArgs& a, CommandEnv& env) {
  if (a.store.empty()) return absl::InvalidArgumentError("--store is required");
  absl::StatusOr<std::unique_ptr<Store>> store = OpenStore(a.store, *env.registry);
  if (!store.ok()) return store.status();
  if ((*store)->catalogs() == nullptr) {
    return absl::FailedPreconditionError(Cat("store ", (*store)->Describe(), " keeps no catalog versions"));
  }
  return store;
}

std::string TimeText(int64_t micros) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMicros(micros), absl::UTCTimeZone());
}

void PrintSaved(const CatalogSaveResult& r, bool json) {
  if (json) {
    nlohmann::json warnings = nlohmann::json::array();
    for (const CatalogIssue& w : r.warnings) warnings.push_back(w.ToString());
    PrintJson({{"version", r.version}, {"unchanged", r.unchanged}, {"changes", r.changes}, {"warnings", warnings}});
    return;
  }
  if (r.unchanged) {
    std::cout << "unchanged: the catalog is version " << r.version << "'s; nothing saved\n";
    return;
  }
  std::cout << "saved version " << r.version << "\n";
  for (const std::string& c : r.changes) std::cout << "  " << c << "\n";
  for (const CatalogIssue& w : r.warnings) std::cerr << w.ToString() << "\n";
}

absl::Status Push(const CatalogArgs& a, CommandEnv& env) {
  std::ifstream in(a.file, std::ios::binary);
  if (!in) return absl::NotFoundError(Cat(a.file, ": cannot read the file"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto store = Open(a, env);
  if (!store.ok()) return store.status();
  CatalogSaveOptions options;
  options.author = Author();
  options.note = a.note;
  options.based_on = a.based_on;
  options.source = a.file;
  const bool json = a.file.size() > 5 && a.file.ends_with(".json");
  auto saved = SaveCatalogText(*(*store)->catalogs(), text, json, options);
  if (!saved.ok()) return saved.status();
  PrintSaved(*saved, a.json);
  return absl::OkStatus();
}

absl::Status Pull(const CatalogArgs& a, CommandEnv& env) {
  auto store = Open(a, env);
  if (!store.ok()) return store.status();
  auto entry = (*store)->catalogs()->LoadCatalogVersion(a.version);
  if (!entry.ok()) return entry.status();
  std::string text;
  if (a.format == "json") {
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    o.preserve_proto_field_names = true;
    if (!google::protobuf::util::MessageToJsonString(entry->catalog(), &text, o).ok()) {
      return absl::InternalError("cannot print the catalog as JSON");
    }
  } else {
    text = Cat("# catalog version ", entry->version(), ", saved by ", entry->author(), " at ",
               TimeText(entry->time_unix_micros()), "\n");
    std::string body;
    google::protobuf::TextFormat::PrintToString(entry->catalog(), &body);
    text += body;
  }
  if (a.output.empty() || a.output == "-") {
    std::cout << text;
    return absl::OkStatus();
  }
  std::ofstream out(a.output, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::UnavailableError(Cat("cannot write ", a.output));
  std::cerr << "version " << entry->version() << " written to " << a.output << "\n";
  return absl::OkStatus();
}

absl::Status History(const CatalogArgs& a, CommandEnv& env) {
  auto store = Open(a, env);
  if (!store.ok()) return store.status();
  auto list = (*store)->catalogs()->ListCatalogVersions();
  if (!list.ok()) return list.status();
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const v1::CatalogVersion& v : *list) out.push_back(ProtoToJson(v));
    PrintJson(out);
    return absl::OkStatus();
  }
  if (list->empty()) std::cout << "no catalog version yet (herald catalog push FILE --store URI)\n";
  for (const v1::CatalogVersion& v : *list) {
    std::cout << "version " << v.version() << "  " << TimeText(v.time_unix_micros()) << "  " << v.author()
              << (v.rollback_of() > 0 ? Cat("  (rollback to ", v.rollback_of(), ")") : std::string()) << "\n";
    for (absl::string_view line : absl::StrSplit(v.summary(), '\n')) std::cout << "  " << line << "\n";
  }
  return absl::OkStatus();
}

absl::Status Diff(const CatalogArgs& a, CommandEnv& env) {
  auto store = Open(a, env);
  if (!store.ok()) return store.status();
  auto before = (*store)->catalogs()->LoadCatalogVersion(a.version);
  if (!before.ok()) return before.status();
  auto after = (*store)->catalogs()->LoadCatalogVersion(a.other);
  if (!after.ok()) return after.status();
  std::vector<std::string> changes = DescribeCatalogChanges(before->catalog(), after->catalog());
  if (a.json) {
    PrintJson({{"from", before->version()}, {"to", after->version()}, {"changes", changes}});
    return absl::OkStatus();
  }
  std::cout << "version " << before->version() << " -> " << after->version() << ": "
            << (changes.empty() ? "no change" : Cat(changes.size(), " changes")) << "\n";
  for (const std::string& c : changes) std::cout << "  " << c << "\n";
  return absl::OkStatus();
}

absl::Status Rollback(const CatalogArgs& a, CommandEnv& env) {
  auto store = Open(a, env);
  if (!store.ok()) return store.status();
  CatalogSaveOptions options;
  options.author = Author();
  options.note = a.note;
  auto saved = RollbackCatalog(*(*store)->catalogs(), a.version, options);
  if (!saved.ok()) return saved.status();
  PrintSaved(*saved, a.json);
  return absl::OkStatus();
}

absl::Status SetGoaling(const CatalogArgs& a, CommandEnv& env) {
  auto store = Open(a, env);
  if (!store.ok()) return store.status();
  CatalogStore& catalogs = *(*store)->catalogs();
  auto entry = catalogs.LoadCatalogVersion(0);
  if (!entry.ok()) return entry.status();
  v1::Catalog catalog = entry->catalog();
  v1::Campaign* campaign = nullptr;
  for (v1::Campaign& c : *catalog.mutable_campaigns()) {
    if (c.id() == a.campaign) campaign = &c;
  }
  if (campaign == nullptr) {
    return absl::NotFoundError(Cat("catalog version ", entry->version(), " has no campaign \"", a.campaign, "\""));
  }
  auto done = SetGoalingLevel(campaign, a.level == "ad" ? v1::GOALING_LEVEL_AD : v1::GOALING_LEVEL_CAMPAIGN);
  if (!done.ok()) return done.status();
  CatalogSaveOptions options;
  options.author = Author();
  options.note = a.note.empty() ? Cat("goaling of campaign \"", a.campaign, "\" set to ", a.level, " level") : a.note;
  options.based_on = entry->version();  // the switch was computed from this version
  auto saved = SaveCatalog(catalogs, catalog, options);
  if (!saved.ok()) return saved.status();
  if (!a.json) {
    for (const std::string& line : *done) std::cout << line << "\n";
  }
  PrintSaved(*saved, a.json);
  return absl::OkStatus();
}

void AddStoreOption(CLI::App* cmd, CatalogArgs* a) {
  cmd->add_option("--store", a->store, "the store: a SQLite file (sqlite:PATH) or postgresql://...")->required();
  cmd->add_flag("--json", a->json, "JSON output; errors as JSON too");
}

void Bind(CLI::App* cmd, const std::shared_ptr<CatalogArgs>& a, CommandEnv& env, const char* name,
          absl::Status (*run)(const CatalogArgs&, CommandEnv&)) {
  cmd->callback([a, &env, name, run] {
    absl::Status s = run(*a, env);
    if (!s.ok()) env.exit_code = ReportError(Cat("catalog ", name), s, a->json, ExitCodeOf(s));
  });
}

}  // namespace

void AddCatalogCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("catalog", "the catalog kept in a store as numbered versions");
  cmd->require_subcommand(1);
  auto a = std::make_shared<CatalogArgs>();

  auto* push = cmd->add_subcommand("push", "validate FILE as herald validate does and save it as a new version");
  push->add_option("FILE", a->file, "catalog file (textproto, or .json)")->required();
  push->add_option("--note", a->note, "why: the first line of the version's summary");
  push->add_option("--based-on", a->based_on, "refuse the save if another version was saved after this one");
  AddStoreOption(push, a.get());
  Bind(push, a, env, "push", Push);

  auto* pull = cmd->add_subcommand("pull", "print a version's catalog (default: the current one)");
  pull->add_option("--version", a->version, "the version (default: the current one)");
  pull->add_option("-o,--output", a->output, "write to this file instead of stdout");
  pull->add_option("--format", a->format, "textproto or json")->check(CLI::IsMember({"textproto", "json"}));
  AddStoreOption(pull, a.get());
  Bind(pull, a, env, "pull", Pull);

  auto* history = cmd->add_subcommand("history", "every version: number, time, author and what changed");
  AddStoreOption(history, a.get());
  Bind(history, a, env, "history", History);

  auto* diff = cmd->add_subcommand("diff", "what changed from version A to version B (default: the current one)");
  diff->add_option("A", a->version, "the older version")->required();
  diff->add_option("B", a->other, "the newer version (default: the current one)");
  AddStoreOption(diff, a.get());
  Bind(diff, a, env, "diff", Diff);

  auto* rollback = cmd->add_subcommand("rollback", "save version N's catalog again as the newest version");
  rollback->add_option("N", a->version, "the version to return to")->required()->check(CLI::PositiveNumber);
  rollback->add_option("--note", a->note, "why: the first line of the version's summary");
  AddStoreOption(rollback, a.get());
  Bind(rollback, a, env, "rollback", Rollback);

  auto* goaling = cmd->add_subcommand(
      "set-goaling", "switch a campaign between ad-level and campaign-level goaling, as the Campaign Manager did");
  goaling->add_option("CAMPAIGN_ID", a->campaign, "the campaign")->required();
  goaling->add_option("LEVEL", a->level, "ad or campaign")->required()->check(CLI::IsMember({"ad", "campaign"}));
  goaling->add_option("--note", a->note, "why: the first line of the version's summary");
  AddStoreOption(goaling, a.get());
  Bind(goaling, a, env, "set-goaling", SetGoaling);
}

}  // namespace herald::cli
