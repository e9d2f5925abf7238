// herald forget and herald personal-data: erasing a person, retention and
// key rotation of personal data at rest (herald/privacy.h, docs/operations.md).
//
//   herald forget --store URI (--customer ID | --email E | --phone P) [--region CC] [--files DIR]... [--json]
//   herald personal-data new-key --keys-file FILE [--id ID]
//   herald personal-data reseal --store URI [--json]
//   herald personal-data expire --store URI --jobs FILE [--json]
//   herald personal-data log --store URI [--json]
// The key ring comes from HERALD_PERSONAL_DATA_KEYS_FILE (or
// HERALD_PERSONAL_DATA_KEYS), never from the command line.
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/time/clock.h"
#include "commands.h"
#include "core/strings.h"
#include "google/protobuf/text_format.h"
#include "herald/model/conversion_config.pb.h"
#include "herald/privacy.h"
#include "herald/store.h"
#include "json_output.h"

namespace herald::cli {
namespace {

struct StoreArgs {
  std::string store;
  bool json = false;
};

struct ForgetArgs : StoreArgs {
  ForgetRequest request;
};

absl::StatusOr<std::pair<std::unique_ptr<Store>, PersonalDataOptions>> OpenWithOptions(const std::string& uri,
                                                                                      CommandEnv& env) {
  auto options = PersonalDataOptionsFromEnvironment();
  if (!options.ok()) return options.status();
  auto store = OpenStore(uri, *env.registry);
  if (!store.ok()) return store.status();
  return std::make_pair(std::move(*store), std::move(*options));
}

int RunForget(const ForgetArgs& a, CommandEnv& env) {
  auto opened = OpenWithOptions(a.store, env);
  if (!opened.ok()) return ReportError("forget", opened.status(), a.json);
  auto report = ForgetPerson(*opened->first, opened->second, a.request);
  if (!report.ok()) return ReportError("forget", report.status(), a.json, ExitCodeOf(report.status()));
  std::cout << (a.json ? report->ToJson() + "\n" : report->ToText()) << std::flush;
  return 0;
}

// The lowest watermark of the jobs' destinations: every destination has
// exported the records up to it.
absl::StatusOr<int64_t> ExportedThrough(Store& store, const std::string& jobs_path) {
  std::ifstream in(jobs_path);
  if (!in) return absl::NotFoundError(Cat("--jobs: cannot read ", jobs_path));
  std::stringstream text;
  text << in.rdbuf();
  v1::ExportJobs jobs;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &jobs)) {
    return absl::InvalidArgumentError(Cat(jobs_path, ": not a herald.v1.ExportJobs textproto"));
  }
  if (jobs.jobs().empty()) return absl::InvalidArgumentError(Cat(jobs_path, ": no export job"));
  int64_t lowest = INT64_MAX;
  for (const auto& job : jobs.jobs()) {
    auto mark = store.watermarks().GetWatermark(job.destination());
    if (!mark.ok()) return mark.status();
    lowest = std::min(lowest, *mark);
  }
  return lowest;
}

int RunExpire(const StoreArgs& a, const std::string& jobs, CommandEnv& env) {
  auto opened = OpenWithOptions(a.store, env);
  if (!opened.ok()) return ReportError("personal-data expire", opened.status(), a.json);
  auto through = ExportedThrough(*opened->first, jobs);
  if (!through.ok()) return ReportError("personal-data expire", through.status(), a.json, ExitCodeOf(through.status()));
  auto n = ExpireRawIdentifiers(*opened->first, opened->second, *through);
  if (!n.ok()) return ReportError("personal-data expire", n.status(), a.json);
  if (a.json) {
    PrintJson({{"expired", *n}, {"exported_through", *through},
               {"retention_days", opened->second.config.raw_retention_days()}});
  } else {
    std::cout << "raw identifiers expired (hashes kept): " << *n << " interactions (exported by every destination through "
              << *through << ", retention " << opened->second.config.raw_retention_days() << " days)\n";
  }
  return 0;
}

int RunReseal(const StoreArgs& a, CommandEnv& env) {
  auto opened = OpenWithOptions(a.store, env);
  if (!opened.ok()) return ReportError("personal-data reseal", opened.status(), a.json);
  auto n = ResealInteractions(*opened->first, opened->second);
  if (!n.ok()) return ReportError("personal-data reseal", n.status(), a.json);
  const std::string& key = opened->second.keys->newest_key_id();
  if (a.json) {
    PrintJson({{"resealed", *n}, {"key_id", key}});
  } else {
    std::cout << "resealed " << *n << " interactions under key \"" << key << "\"\n";
  }
  return 0;
}

int RunLog(const StoreArgs& a, CommandEnv& env) {
  auto store = OpenStore(a.store, *env.registry);
  if (!store.ok()) return ReportError("personal-data log", store.status(), a.json);
  PersonalDataStore* pds = (*store)->personal_data();
  if (pds == nullptr) {
    return ReportError("personal-data log", absl::FailedPreconditionError("this store keeps no forget log"), a.json);
  }
  auto log = pds->ReadForgetLog();
  if (!log.ok()) return ReportError("personal-data log", log.status(), a.json);
  nlohmann::json entries = nlohmann::json::array();
  for (const v1::ForgetLogEntry& e : *log) {
    if (a.json) {
      entries.push_back(ProtoToJson(e));
      continue;
    }
    std::cout << e.id() << "  " << absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMicros(e.time_unix_micros()),
                                                     absl::UTCTimeZone())
              << "  " << e.selector() << "  interactions " << e.interactions() << ", mail ledger rows "
              << e.mail_recipients() << ", table rows " << e.table_rows() << ", histories " << e.histories()
              << ", events " << e.events_anonymized() << ", coupon redemptions " << e.coupon_redemptions_anonymized()
              << ", files " << e.files() << "\n";
  }
  if (a.json) PrintJson({{"forget_log", entries}});
  return 0;
}

// Appends a new key to FILE (created 0600), the ring's newest from then on.
int RunNewKey(const std::string& file, std::string id) {
  if (id.empty()) id = Cat("k", absl::FormatTime("%Y%m%d%H%M%S", absl::Now(), absl::UTCTimeZone()));
  const std::string line = PersonalDataKeyRing::NewKeyLine(id);
  if (auto parsed = PersonalDataKeyRing::Parse(line, "--id"); !parsed.ok()) {
    return ReportError("personal-data new-key", parsed.status(), false, 2);
  }
  std::string existing;
  if (std::ifstream in(file); in) {
    std::stringstream text;
    text << in.rdbuf();
    existing = text.str();
    if (auto ring = PersonalDataKeyRing::Parse(existing + "\n" + line, file); !ring.ok()) {
      return ReportError("personal-data new-key", ring.status(), false);
    }
  }
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) return ReportError("personal-data new-key", absl::PermissionDeniedError(Cat("cannot write ", file)), false);
  struct stat info;
  if (::fstat(fd, &info) != 0 || (info.st_mode & 077) != 0) {
    ::close(fd);
    return ReportError("personal-data new-key",
                       absl::PermissionDeniedError(Cat(file, " is accessible by group or others; chmod 600 it first")),
                       false);
  }
  const std::string out = Cat(existing.empty() || existing.back() == '\n' ? "" : "\n", line, "\n");
  const bool written = ::write(fd, out.data(), out.size()) == static_cast<ssize_t>(out.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return ReportError("personal-data new-key", absl::InternalError(Cat("cannot write ", file)), false);
  std::cout << "added key \"" << id << "\" to " << file
            << " (it seals from now on; run herald personal-data reseal before removing older keys)\n";
  return 0;
}

}  // namespace

void AddForgetCommand(CLI::App& app, CommandEnv& env) {
  auto a = std::make_shared<ForgetArgs>();
  auto* cmd = app.add_subcommand("forget", "erase a person from every table and file Herald holds them in");
  cmd->add_option("--store", a->store, "store: sqlite path or postgresql://")->required();
  auto* customer = cmd->add_option("--customer", a->request.customer_id, "the person's customer id");
  auto* email = cmd->add_option("--email", a->request.email, "the person's e-mail address");
  auto* phone = cmd->add_option("--phone", a->request.phone, "the person's phone number");
  customer->excludes(email)->excludes(phone);
  email->excludes(phone);
  cmd->add_option("--region", a->request.default_region,
                  "ISO 3166-1 region of a phone number without country code");
  cmd->add_option("--files", a->request.file_dirs,
                  "a directory of files Herald wrote (maildir, export files) to erase the person from too");
  cmd->add_flag("--json", a->json, "the report (and errors) as JSON on stdout");
  cmd->callback([a, &env] {
    if (a->request.customer_id.empty() && a->request.email.empty() && a->request.phone.empty()) {
      env.exit_code = ReportError("forget", absl::InvalidArgumentError("give --customer, --email or --phone"), a->json, 2);
      return;
    }
    env.exit_code = RunForget(*a, env);
  });
}

void AddPersonalDataCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("personal-data", "keys, retention and the forget log of personal data at rest");
  cmd->require_subcommand(1);

  auto key = std::make_shared<std::pair<std::string, std::string>>();
  auto* new_key = cmd->add_subcommand("new-key", "append a new key to a key file (it seals from then on)");
  new_key->add_option("--keys-file", key->first, "the key file (created with mode 0600)")->required();
  new_key->add_option("--id", key->second, "the key's id (default: k<UTC time>)");
  new_key->callback([key, &env] { env.exit_code = RunNewKey(key->first, key->second); });

  auto reseal = std::make_shared<StoreArgs>();
  auto* reseal_cmd = cmd->add_subcommand("reseal", "seal every interaction again under the newest key");
  reseal_cmd->add_option("--store", reseal->store, "store: sqlite path or postgresql://")->required();
  reseal_cmd->add_flag("--json", reseal->json, "JSON output");
  reseal_cmd->callback([reseal, &env] { env.exit_code = RunReseal(*reseal, env); });

  auto expire = std::make_shared<std::pair<StoreArgs, std::string>>();
  auto* expire_cmd = cmd->add_subcommand(
      "expire", "replace raw identifiers past the retention, exported by every destination, by their hashes");
  expire_cmd->add_option("--store", expire->first.store, "store: sqlite path or postgresql://")->required();
  expire_cmd->add_option("--jobs", expire->second, "export jobs (herald.v1.ExportJobs): every destination in it")
      ->required();
  expire_cmd->add_flag("--json", expire->first.json, "JSON output");
  expire_cmd->callback([expire, &env] { env.exit_code = RunExpire(expire->first, expire->second, env); });

  auto log = std::make_shared<StoreArgs>();
  auto* log_cmd = cmd->add_subcommand("log", "the forget log: when, by which selector, how much (never who)");
  log_cmd->add_option("--store", log->store, "store: sqlite path or postgresql://")->required();
  log_cmd->add_flag("--json", log->json, "JSON output");
  log_cmd->callback([log, &env] { env.exit_code = RunLog(*log, env); });
}

}  // namespace herald::cli
