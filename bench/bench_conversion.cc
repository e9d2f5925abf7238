// Preparing conversion events for Meta: normalize every identifier, SHA-256
// it, serialize the Conversions API event.
//
// BM_PrepareEvents_Herald     the "meta" destination's Prepare (what the
//                             prepare stage runs): one IdentifierHasher whose
//                             EVP context is reused, identifiers hashed into
//                             the event's strings, the payload appended by a
//                             hand-written JSON writer into a reused buffer.
// BM_PrepareEvents_Reference  straightforward code: each field copied into a
//                             std::string and normalized (every text through
//                             ICU, every phone parsed by libphonenumber,
//                             countries and subdivisions found by a linear
//                             scan), a fresh EVP context per field, hex through
//                             a stringstream, the event built as an
//                             nlohmann::json object and dumped.
// BM_PrepareEventsNewPhones_Herald / _Reference  the same with a phone number
//                             never seen before in every event (Herald's
//                             phone memo misses every time: libphonenumber's
//                             cost in full).
// BM_ExportFile_Herald        ConversionExporter::RunOnce of N conversions
//                             (memory store) to the "file" destination (JSON
//                             lines, fsync per batch, audience member lists).
// BM_ExportFile_Reference     read the same records, prepare each with the
//                             reference code, write lines to a file, fsync.
// Events carry the 11 Meta customer-information fields (10 hashed and one
// external id) plus value, currency and order id, a valid phone number in
// every one; one in eight is German with non-ASCII names. At start the
// program checks that both preparations give the same JSON for every event.
// At the end it prints each pair's ratio (reference time / Herald time) and
// Herald's events per second.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <phonenumbers/phonenumberutil.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uloc.h>
#include <unicode/unistr.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "herald/conversion.h"
#include "herald/model/conversion_config.pb.h"
#include "herald/store.h"

namespace {

using namespace herald;

constexpr int kDistinct = 4096;

// A valid number for event i: distinct for i < 9000 * 800.
std::string UsPhone(int64_t i) {
  return "+1 (650) " + std::to_string(200 + (i / 9000) % 800) + "-" + std::to_string(1000 + i % 9000);
}

v1::InteractionRecord Record(int i, int64_t now) {
  v1::InteractionRecord r;
  r.set_interaction_id("ia-" + std::to_string(i));
  auto* s = r.mutable_subject();
  s->set_customer_id("cust-" + std::to_string(i));
  s->set_email("  Person." + std::to_string(i) + "@Example.COM ");
  if (i % 8 == 0) {  // German, non-ASCII, a national number read with the person's country
    s->set_phone("089 " + std::to_string(2000000 + i));
    s->set_first_name("ZOË-Renée");
    s->set_last_name("MÜLLER");
    s->set_city("MÜNCHEN");
    s->set_state("Bayern");
    s->set_zip("80331");
    s->set_country("DE");
  } else {
    s->set_phone(UsPhone(i));
    s->set_first_name("Ann-Marie");
    s->set_last_name("O'Neil");
    s->set_city("San Francisco");
    s->set_state("CA");
    s->set_zip("94103-1234");
    s->set_country("US");
  }
  s->set_date_of_birth("1980-05-17");
  s->set_gender("Female");
  s->set_external_id("ext-" + std::to_string(i));
  r.mutable_action()->set_issue("Sales");
  r.mutable_action()->set_group("Cards");
  r.mutable_action()->set_name("PlatinumCreditCard");
  r.set_outcome(v1::OUTCOME_ACCEPTED);
  r.set_channel("Web");
  r.mutable_time()->set_seconds(now - 3600 - i % 1000);
  r.mutable_value()->set_minor_units(1999 + i);
  r.mutable_value()->set_currency("USD");
  r.set_order_id("order-" + std::to_string(i));
  return r;
}

v1::ConversionAction Action() {
  v1::ConversionAction a;
  a.set_issue("Sales");
  a.set_group("Cards");
  a.set_name("PlatinumCreditCard");
  a.set_paid_sync_enabled(true);
  a.set_offline_conversion_enabled(true);
  return a;
}

// ---------------------------------------------------------------- reference

std::string RefSha256Hex(const std::string& s) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, s.data(), s.size());
  unsigned char d[32];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, d, &n);
  EVP_MD_CTX_free(ctx);
  std::ostringstream out;
  for (unsigned i = 0; i < n; ++i) out << std::hex << std::setw(2) << std::setfill('0') << int(d[i]);
  return out.str();
}

std::string RefTrim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Every text through ICU: lowercase (root locale), NFC.
icu::UnicodeString RefLowerNfc(const std::string& s) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(s);
  u.toLower(icu::Locale::getRoot());
  UErrorCode status = U_ZERO_ERROR;
  return icu::Normalizer2::getNFCInstance(status)->normalize(u, status);
}

std::string RefUtf8(const icu::UnicodeString& u) {
  std::string out;
  u.toUTF8String(out);
  return out;
}

// Lowercase, without whitespace, punctuation (and symbols when asked; ASCII symbols always).
std::string RefLowerWithout(const std::string& s, bool symbols) {
  icu::UnicodeString u = RefLowerNfc(RefTrim(s));
  icu::UnicodeString kept;
  for (int32_t i = 0; i < u.length();) {
    UChar32 c = u.char32At(i);
    i += U16_LENGTH(c);
    bool ascii_symbol = c < 0x80 && std::ispunct(static_cast<int>(c));
    if (u_isUWhiteSpace(c) || u_ispunct(c) || ascii_symbol || (symbols && (U_GET_GC_MASK(c) & U_GC_S_MASK))) continue;
    kept.append(c);
  }
  return RefUtf8(kept);
}

std::string RefUpper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// ISO 3166-1 by a linear scan of ICU's list.
std::string RefCountry(const std::string& raw) {
  std::string c = RefUpper(RefTrim(raw));
  for (const char* const* k = uloc_getISOCountries(); *k != nullptr; ++k) {
    if (c == *k) return RefUtf8(RefLowerNfc(c));
  }
  return "";
}

// ISO 3166-2 from iso-codes, read once; looked up by a linear scan.
const std::vector<std::pair<std::string, std::string>>& RefSubdivisions() {
  static const auto* rows = [] {
    auto* out = new std::vector<std::pair<std::string, std::string>>();
    std::ifstream in(HERALD_ISO_3166_2_JSON);
    nlohmann::json j = nlohmann::json::parse(in);
    for (const auto& r : j["3166-2"]) out->emplace_back(r["code"], r["name"]);
    return out;
  }();
  return *rows;
}

std::string RefState(const std::string& state, const std::string& country) {
  if (country.empty()) return RefLowerWithout(state, true);
  std::string code = RefUpper(country) + "-" + RefUpper(RefTrim(state));
  std::string name = RefLowerWithout(state, true);
  for (const auto& [c, n] : RefSubdivisions()) {
    if (c.compare(0, 3, RefUpper(country) + "-") != 0) continue;
    if (c == code || RefLowerWithout(n, true) == name) return RefUtf8(RefLowerNfc(c.substr(3)));
  }
  return "";
}

// Every phone parsed, validated and formatted by libphonenumber.
std::string RefPhone(const std::string& phone, const std::string& country) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  PhoneNumber n;
  if (util->Parse(phone, country.empty() ? "ZZ" : RefUpper(country), &n) != PhoneNumberUtil::NO_PARSING_ERROR) return "";
  if (!util->IsValidNumber(n)) return "";
  n.clear_extension();
  std::string out;
  util->Format(n, PhoneNumberUtil::E164, &out);
  return out.substr(1);
}

bool RefIsDigit(unsigned char c) { return std::isdigit(c) != 0; }

std::string RefKeep(std::string s, bool (*keep)(unsigned char)) {
  std::string out;
  for (char c : s) {
    if (keep(static_cast<unsigned char>(c))) out += c;
  }
  return out;
}

std::string RefPrepare(const v1::InteractionRecord& r) {
  v1::Subject s = r.subject();  // a copy, as straightforward code does
  nlohmann::json user;
  std::string country = RefCountry(s.country());
  std::string em = RefUtf8(RefLowerNfc(RefTrim(s.email())));
  if (!em.empty()) user["em"] = RefSha256Hex(em);
  std::string ph = RefPhone(s.phone(), country);
  if (!ph.empty()) user["ph"] = RefSha256Hex(ph);
  std::string fn = RefLowerWithout(s.first_name(), false);
  if (!fn.empty()) user["fn"] = RefSha256Hex(fn);
  std::string ln = RefLowerWithout(s.last_name(), false);
  if (!ln.empty()) user["ln"] = RefSha256Hex(ln);
  std::string ct = RefLowerWithout(s.city(), true);
  if (!ct.empty()) user["ct"] = RefSha256Hex(ct);
  std::string st = RefState(s.state(), country);
  if (!st.empty()) user["st"] = RefSha256Hex(st);
  std::string zp = RefUtf8(RefLowerNfc(RefTrim(s.zip())));
  zp.erase(std::remove_if(zp.begin(), zp.end(), [](char c) { return c == ' ' || c == '-'; }), zp.end());
  if (country == "us" && RefKeep(zp.substr(0, 5), RefIsDigit).size() == 5) zp = zp.substr(0, 5);
  if (!zp.empty()) user["zp"] = RefSha256Hex(zp);
  if (!country.empty()) user["country"] = RefSha256Hex(country);
  std::string db = RefKeep(RefTrim(s.date_of_birth()), RefIsDigit);
  if (db.size() == 8) user["db"] = RefSha256Hex(db);
  std::string ge = RefUtf8(RefLowerNfc(RefTrim(s.gender()))).substr(0, 1);
  if (ge == "f" || ge == "m") user["ge"] = RefSha256Hex(ge);
  std::string ext = RefTrim(s.external_id());
  if (!ext.empty()) user["external_id"] = RefSha256Hex(ext);
  nlohmann::json e;
  e["event_name"] = "Purchase";
  e["event_time"] = r.time().seconds();
  e["action_source"] = "physical_store";
  e["event_id"] = r.interaction_id();
  e["user_data"] = user;
  nlohmann::json custom;
  char value[32];
  std::snprintf(value, sizeof value, "%lld.%02lld", static_cast<long long>(r.value().minor_units() / 100),
                static_cast<long long>(r.value().minor_units() % 100));
  custom["value"] = nlohmann::json::parse(value);
  custom["currency"] = r.value().currency();
  custom["order_id"] = r.order_id().empty() ? r.interaction_id() : r.order_id();
  e["custom_data"] = custom;
  return e.dump();
}

// ---------------------------------------------------------------- fixtures

struct Fixture {
  Registry registry;
  std::vector<v1::InteractionRecord> records;
  v1::ConversionAction action = Action();
  std::unique_ptr<Destination> meta;

  Fixture() {
    RegisterConversionComponents(&registry);
    setenv("HERALD_BENCH_META_TOKEN", "bench-token", 1);
    v1::MetaDestinationConfig c;
    c.set_dataset_id("1");
    c.set_access_token_env("HERALD_BENCH_META_TOKEN");
    c.set_base_url("http://127.0.0.1:9");
    auto d = registry.Create<Destination>("meta", c, CreateContext{&registry});
    if (!d.ok()) {
      std::fprintf(stderr, "bench_conversion: %s\n", std::string(d.status().message()).c_str());
      std::exit(1);
    }
    meta = std::move(*d);
    int64_t now = absl::ToUnixSeconds(absl::Now());
    for (int i = 0; i < kDistinct; ++i) records.push_back(Record(i, now));
    // Both preparations agree on every event.
    IdentifierHasher h;
    ConversionEvent e;
    for (const auto& r : records) {
      e.record = &r;
      e.action = &action;
      e.event_id = r.interaction_id();
      e.order_id = r.order_id();
      meta->Prepare(e, h);
      auto a = nlohmann::json::parse(e.payload, nullptr, false);
      auto b = nlohmann::json::parse(RefPrepare(r), nullptr, false);
      if (a != b || !a["user_data"].contains("ph") || !a["user_data"].contains("st")) {
        std::fprintf(stderr, "bench_conversion: outputs differ:\n%s\n%s\n", e.payload.c_str(), RefPrepare(r).c_str());
        std::exit(1);
      }
    }
  }
};

Fixture& Shared() {
  static Fixture* f = new Fixture();
  return *f;
}

void BM_PrepareEvents_Herald(benchmark::State& state) {
  Fixture& f = Shared();
  IdentifierHasher h;
  ConversionEvent e;
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const auto& r = f.records[i++ % kDistinct];
    e.record = &r;
    e.action = &f.action;
    e.event_id.assign(r.interaction_id());
    e.order_id.assign(r.order_id());
    f.meta->Prepare(e, h);
    bytes += static_cast<int64_t>(e.payload.size());
    benchmark::DoNotOptimize(e.payload.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_PrepareEvents_Herald);

void BM_PrepareEvents_Reference(benchmark::State& state) {
  Fixture& f = Shared();
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    std::string out = RefPrepare(f.records[i++ % kDistinct]);
    bytes += static_cast<int64_t>(out.size());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_PrepareEvents_Reference);

// A phone number never seen before in every event.
void BM_PrepareEventsNewPhones_Herald(benchmark::State& state) {
  Fixture& f = Shared();
  IdentifierHasher h;
  ConversionEvent e;
  int64_t i = 0;
  v1::InteractionRecord r;
  for (auto _ : state) {
    r = f.records[i % kDistinct];
    r.mutable_subject()->set_phone(UsPhone(i++));
    e.record = &r;
    e.action = &f.action;
    e.event_id.assign(r.interaction_id());
    e.order_id.assign(r.order_id());
    f.meta->Prepare(e, h);
    if (e.identity.ph.empty()) state.SkipWithError("phone dropped");
    benchmark::DoNotOptimize(e.payload.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PrepareEventsNewPhones_Herald);

void BM_PrepareEventsNewPhones_Reference(benchmark::State& state) {
  Fixture& f = Shared();
  int64_t i = 0;
  v1::InteractionRecord r;
  for (auto _ : state) {
    r = f.records[i % kDistinct];
    r.mutable_subject()->set_phone(UsPhone(i++));
    std::string out = RefPrepare(r);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PrepareEventsNewPhones_Reference);

std::string TempDir() {
  char tmpl[] = "/tmp/herald-bench-conv-XXXXXX";
  char* made = mkdtemp(tmpl);
  return made == nullptr ? std::string("/tmp") : std::string(made);
}

std::unique_ptr<Store> FilledStore(int64_t n) {
  auto store = NewMemoryStore();
  int64_t now = absl::ToUnixSeconds(absl::Now());
  for (int64_t i = 0; i < n; ++i) {
    v1::InteractionRecord r = Record(static_cast<int>(i), now);
    r.set_interaction_id("ia-" + std::to_string(i));
    r.set_order_id("order-" + std::to_string(i));
    r.mutable_subject()->set_email("person" + std::to_string(i) + "@example.com");
    (void)store->interactions().AppendInteraction(r);
  }
  return store;
}

void BM_ExportFile_Herald(benchmark::State& state) {
  Fixture& f = Shared();
  const int64_t n = state.range(0);
  auto store = FilledStore(n);
  std::string dir = TempDir();
  int run = 0;
  for (auto _ : state) {
    v1::FileDestinationConfig c;
    c.set_path(dir + "/export-" + std::to_string(run) + ".jsonl");
    auto file = f.registry.Create<Destination>("file", c, CreateContext{&f.registry, dir});
    ExporterOptions o;
    o.registry = &f.registry;
    o.store = store.get();
    o.destination = file->get();
    o.destination_name = "bench-" + std::to_string(run++);
    o.actions = {f.action};
    o.page_size = 10000;
    auto exporter = ConversionExporter::Create(std::move(o));
    auto report = (*exporter)->RunOnce();
    if (!report.ok() || report->delivered != n) {
      state.SkipWithError("export failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
  (void)std::system(("rm -rf " + dir).c_str());
}
BENCHMARK(BM_ExportFile_Herald)->Arg(1000000)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ExportFile_Reference(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto store = FilledStore(n);
  std::string dir = TempDir();
  for (auto _ : state) {
    std::string path = dir + "/reference.jsonl";
    std::ofstream out(path, std::ios::binary);
    int64_t after = 0;
    for (;;) {
      auto page = store->interactions().ReadInteractions(after, 10000);
      if (!page.ok() || page->empty()) break;
      for (const auto& r : *page) out << RefPrepare(r) << "\n";
      after = page->back().sequence();
    }
    out.close();
    int fd = ::open(path.c_str(), O_RDONLY);
    ::fsync(fd);
    ::close(fd);
  }
  state.SetItemsProcessed(state.iterations() * n);
  (void)std::system(("rm -rf " + dir).c_str());
}
BENCHMARK(BM_ExportFile_Reference)->Arg(1000000)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// The console table, then per BM_<Work>_Herald / BM_<Work>_Reference pair:
// the ratio of their CPU times (the median with --benchmark_repetitions) and
// Herald's events per second. CPU time, not wall time: on a shared machine a
// descheduled benchmark's wall time measures the other processes.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      // An iteration run, or the median of repetitions (which then wins).
      if (run.error_occurred) continue;
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") continue;
      std::string name = run.run_name.str();
      cpu_ns_[name] = run.GetAdjustedCPUTime();
      if (run.counters.count("items_per_second") != 0) items_per_second_[name] = run.counters.at("items_per_second");
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    for (const auto& [name, herald] : cpu_ns_) {
      size_t at = name.find("_Herald");
      if (at == std::string::npos) continue;
      std::string reference = name.substr(0, at) + "_Reference" + name.substr(at + 7);
      auto it = cpu_ns_.find(reference);
      if (it == cpu_ns_.end() || herald <= 0) continue;
      std::printf("ratio %-40s %7.1fx  (reference / Herald, CPU time)", name.substr(0, at).c_str(), it->second / herald);
      if (items_per_second_.count(name) != 0) std::printf("  Herald %.0f events/s", items_per_second_[name]);
      std::printf("\n");
    }
  }

 private:
  std::map<std::string, double> cpu_ns_;
  std::map<std::string, double> items_per_second_;
};

}  // namespace

int main(int argc, char** argv) {
  // The ratio lines go with the console table; --benchmark_format=json (as
  // bench/run asks) gets the library's own reporter and nothing else on stdout.
  bool console = true;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--benchmark_format=") && arg != "--benchmark_format=console") console = false;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (console) {
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
  } else {
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  return 0;
}
