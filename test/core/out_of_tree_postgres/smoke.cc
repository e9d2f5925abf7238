// The out-of-tree PostgreSQL store at work: registered in a registry, it
// opens a postgresql:// URI. With HERALD_TEST_PG (a server) it records three
// events and reads them back; without, it must name the unreachable server.
// Prints one line and exits 0, or prints the failure and exits 1.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "herald/store.h"
#include "herald/store_postgres.h"

namespace {

int Fail(const std::string& what) {
  std::printf("out-of-tree postgresql store: %s\n", what.c_str());
  return 1;
}

int RoundTrip(const char* pg) {
  herald::v1::PostgresStoreConfig config;
  config.set_connection_string(pg);
  config.set_schema("out_of_tree_" + std::to_string(::getpid()));
  auto store = herald::OpenPostgresStore(config);
  if (!store.ok()) return Fail(std::string(store.status().message()));
  std::vector<herald::v1::Event> events(3);
  for (int i = 0; i < 3; ++i) {
    events[i].set_type(herald::v1::EVENT_TYPE_REQUEST);
    events[i].mutable_time()->set_seconds(1780000000 + i);
    events[i].set_item_id("item-" + std::to_string(i));
  }
  if (absl::Status s = (*store)->events().AppendEvents(events); !s.ok()) return Fail(std::string(s.message()));
  int read = 0;
  absl::Status scanned = (*store)->events().ScanEvents({}, [&](const herald::v1::Event& e) {
    if (e.item_id() == "item-" + std::to_string(read)) ++read;
    return absl::OkStatus();
  });
  if (!scanned.ok()) return Fail(std::string(scanned.message()));
  if (read != 3) return Fail("read back " + std::to_string(read) + " of 3 events");
  std::printf("recorded and read back 3 events in %s\n", (*store)->Describe().c_str());
  return 0;
}

}  // namespace

int main() {
  herald::Registry registry;
  if (absl::Status s = herald::RegisterPostgresStore(&registry); !s.ok()) return Fail(std::string(s.message()));
  const char* pg = std::getenv("HERALD_TEST_PG");
  if (pg != nullptr && *pg != '\0') return RoundTrip(pg);
  auto store = herald::OpenStore("postgresql://herald@127.0.0.1:1/herald", registry);
  if (store.ok() || store.status().code() != absl::StatusCode::kUnavailable ||
      std::string(store.status().message()).find("cannot connect") == std::string::npos) {
    return Fail("expected Unavailable \"cannot connect\", got " + store.status().ToString());
  }
  std::printf("no server: %s\n", std::string(store.status().message()).c_str());
  return 0;
}
