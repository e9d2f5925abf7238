// Preparing conversion events for Meta: normalize every identifier, SHA-256
// it, serialize the Conversions API event.
//
// BM_PrepareEvents_Herald     the "meta" destination's Prepare (what the
//                             prepare stage runs): one IdentifierHasher whose
//                             EVP context is reused, identifiers hashed into
//                             the event's strings, the payload appended by a
//                             hand-written JSON writer into a reused buffer.
// BM_PrepareEvents_Reference  straightforward code: each field copied into a
//                             std::string and normalized, a fresh EVP context
//                             per field, hex through a stringstream, the event
//                             built as an nlohmann::json object and dumped.
// BM_ExportFile_Herald        ConversionExporter::RunOnce of N conversions
//                             (memory store) to the "file" destination (JSON
//                             lines, fsync per batch, audience member lists).
// BM_ExportFile_Reference     read the same records, prepare each with the
//                             reference code, write lines to a file, fsync.
// Events carry the 11 Meta customer-information fields (10 hashed and one
// external id) plus value, currency and order id. At start the program
// checks that both preparations give the same JSON for every event.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "herald/conversion.h"
#include "herald/model/conversion_config.pb.h"
#include "herald/store.h"

namespace {

using namespace herald;

constexpr int kDistinct = 4096;

v1::InteractionRecord Record(int i, int64_t now) {
  v1::InteractionRecord r;
  r.set_interaction_id("ia-" + std::to_string(i));
  auto* s = r.mutable_subject();
  s->set_customer_id("cust-" + std::to_string(i));
  s->set_email("  Person." + std::to_string(i) + "@Example.COM ");
  s->set_phone("+1 (650) 555-" + std::to_string(1000 + i % 9000));
  s->set_first_name("Ann-Marie");
  s->set_last_name("O'Neil");
  s->set_city("San Francisco");
  s->set_state("CA");
  s->set_zip("94103-1234");
  s->set_country("US");
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

std::string RefLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string RefKeep(std::string s, bool (*keep)(unsigned char)) {
  std::string out;
  for (char c : s) {
    if (keep(static_cast<unsigned char>(c))) out += c;
  }
  return out;
}

bool RefIsAlnumOrHigh(unsigned char c) { return std::isalnum(c) || c >= 0x80; }
bool RefIsDigit(unsigned char c) { return std::isdigit(c) != 0; }
bool RefIsAlpha(unsigned char c) { return std::isalpha(c) != 0; }
bool RefNotSpaceDash(unsigned char c) { return c != ' ' && c != '-'; }

std::string RefPrepare(const v1::InteractionRecord& r) {
  v1::Subject s = r.subject();  // a copy, as straightforward code does
  nlohmann::json user;
  std::string em = RefLower(RefTrim(s.email()));
  if (!em.empty()) user["em"] = RefSha256Hex(em);
  std::string ph = RefKeep(s.phone(), RefIsDigit);
  while (!ph.empty() && ph[0] == '0') ph = ph.substr(1);
  if (!ph.empty()) user["ph"] = RefSha256Hex(ph);
  std::string fn = RefLower(RefKeep(RefTrim(s.first_name()), RefIsAlnumOrHigh));
  if (!fn.empty()) user["fn"] = RefSha256Hex(fn);
  std::string ln = RefLower(RefKeep(RefTrim(s.last_name()), RefIsAlnumOrHigh));
  if (!ln.empty()) user["ln"] = RefSha256Hex(ln);
  std::string ct = RefLower(RefKeep(RefTrim(s.city()), RefIsAlnumOrHigh));
  if (!ct.empty()) user["ct"] = RefSha256Hex(ct);
  std::string st = RefLower(RefKeep(RefTrim(s.state()), RefIsAlpha));
  if (!st.empty()) user["st"] = RefSha256Hex(st);
  std::string zp = RefLower(RefKeep(RefTrim(s.zip()), RefNotSpaceDash));
  if (zp.size() == 9 && RefKeep(zp, RefIsDigit).size() == 9) zp = zp.substr(0, 5);
  if (!zp.empty()) user["zp"] = RefSha256Hex(zp);
  std::string country = RefLower(RefTrim(s.country()));
  if (country.size() == 2) user["country"] = RefSha256Hex(country);
  std::string db = RefKeep(RefTrim(s.date_of_birth()), RefIsDigit);
  if (db.size() == 8) user["db"] = RefSha256Hex(db);
  std::string ge = RefLower(RefTrim(s.gender())).substr(0, 1);
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
      if (a != b) {
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

}  // namespace

BENCHMARK_MAIN();
