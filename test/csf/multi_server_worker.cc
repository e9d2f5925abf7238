// One "storefront server" of the several-servers test: selects ads from a
// catalog against a shared PostgreSQL store at full speed for a while, then
// flushes and prints how many of each item it served.
//   herald_selector_worker CATALOG CONNECTION_STRING SCHEMA UNTIL_UNIX_SECONDS SEED
// Requests carry the real time, so the campaign paces in real time.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "herald/builtins.h"
#include "herald/campaign_cache.h"
#include "herald/selection.h"
#include "herald/store_postgres.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s CATALOG CONNECTION_STRING SCHEMA UNTIL_UNIX_SECONDS SEED\n", argv[0]);
    return 2;
  }
  herald::Registry registry;
  if (!herald::RegisterBuiltins(&registry).ok()) return 1;
  auto catalog = herald::CompiledCatalog::Load(argv[1]);
  if (!catalog.ok()) {
    std::fprintf(stderr, "worker: %s\n", std::string(catalog.status().message()).c_str());
    return 1;
  }
  herald::v1::PostgresStoreConfig pg;
  pg.set_connection_string(argv[2]);
  pg.set_schema(argv[3]);
  pg.set_pool_size(2);
  auto store = herald::OpenPostgresStore(pg);
  if (!store.ok()) {
    std::fprintf(stderr, "worker: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  herald::SelectorConfig config;
  config.registry = &registry;
  config.store = store->get();
  config.options.seed = std::strtoull(argv[5], nullptr, 10);
  config.options.flush_interval = absl::Seconds(1);
  config.options.servers = 4;  // the operator runs four servers
  auto selector = herald::NewContentSelector(*catalog, config);
  if (!selector.ok()) {
    std::fprintf(stderr, "worker: %s\n", std::string(selector.status().message()).c_str());
    return 1;
  }
  herald::SelectionRequest request;
  request.page_groups = {"Home"};
  request.count = 3;
  const absl::Time stop = absl::FromUnixSeconds(std::atoll(argv[4]));
  int64_t requests = 0;
  const bool debug = std::getenv("HERALD_WORKER_DEBUG") != nullptr;
  absl::Time next_debug = absl::Now();
  while (absl::Now() < stop) {
    if (debug && absl::Now() >= next_debug) {
      next_debug += absl::Milliseconds(1000);
      herald::SelectionRequest traced = request;
      traced.time = absl::Now();
      traced.trace = true;
      traced.record = false;
      auto r = (*selector)->Select(traced);
      if (r.ok()) {
        for (const auto& e : r->trace.entries()) {
          if ((e.component == "NeedOfDelivery" || e.reason.find("quota") != std::string::npos) &&
              !e.subject.empty()) {
            std::fprintf(stderr, "[%s] %s %s: %s\n", argv[5], absl::FormatTime("%H:%M:%S", traced.time, absl::UTCTimeZone()).c_str(), e.subject.c_str(), e.reason.c_str());
          }
        }
      }
    }
    for (int i = 0; i < 256; ++i) {
      request.user_id = std::to_string(requests % 5000);
      request.time = absl::Now();
      auto result = (*selector)->Select(request);
      if (!result.ok()) {
        std::fprintf(stderr, "worker: %s\n", std::string(result.status().message()).c_str());
        return 1;
      }
      ++requests;
    }
  }
  if (absl::Status s = (*selector)->Flush(); !s.ok()) {
    std::fprintf(stderr, "worker: flush: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("requests %lld\n", static_cast<long long>(requests));
  return 0;
}
