// Child process of crash_test: records events (counted into the delivery
// counters) into a store as fast as it can and, after each Flush() returns
// OK, prints "ACK <n>": the first n events of this run are durable.
//
//   herald_crash_writer SQLITE_PATH RUN_PREFIX
//   herald_crash_writer postgresql://... RUN_PREFIX SCHEMA
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "herald/counters.h"
#include "herald/store.h"
#include "herald/store_postgres.h"

namespace {

absl::StatusOr<std::unique_ptr<herald::Store>> Open(int argc, char** argv) {
  if (std::string_view(argv[1]).starts_with("postgresql://")) {
    if (argc != 4) return absl::InvalidArgumentError("a PostgreSQL store needs its schema");
    herald::v1::PostgresStoreConfig config;
    config.set_connection_string(argv[1]);
    config.set_schema(argv[3]);
    return herald::OpenPostgresStore(config);
  }
  herald::Registry registry;
  return herald::OpenStore(argv[1], registry);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s STORE RUN_PREFIX [SCHEMA]\n", argv[0]);
    return 2;
  }
  auto store = Open(argc, argv);
  if (!store.ok()) {
    std::fprintf(stderr, "crash_writer: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const std::vector<std::string> items = {"item-0", "item-1", "item-2", "item-3"};
  herald::DeliveryCountersOptions options;
  options.flush_interval = absl::Milliseconds(20);
  auto counters = herald::DeliveryCounters::Create(&(*store)->counters(), items, options);
  if (!counters.ok()) {
    std::fprintf(stderr, "crash_writer: %s\n", counters.status().ToString().c_str());
    return 1;
  }
  herald::EventRecorderOptions recorder_options;
  recorder_options.flush_interval = absl::Milliseconds(5);
  recorder_options.max_batch = 64;
  recorder_options.block_when_full = true;
  auto recorder_owner = herald::EventRecorder::Create(&(*store)->events(), counters->get(), recorder_options);
  herald::EventRecorder& recorder = *recorder_owner;
  const std::string prefix = argv[2];
  int64_t n = 0;
  while (true) {
    for (int i = 0; i < 97; ++i, ++n) {
      herald::v1::Event e;
      e.set_type(n % 7 == 0 ? herald::v1::EVENT_TYPE_CLICK : herald::v1::EVENT_TYPE_REQUEST);
      e.set_item_id(items[n % items.size()]);
      e.set_campaign_id("campaign");
      e.set_user_id("user-" + std::to_string(n % 101));
      e.set_session_id(prefix + std::to_string(n));
      e.mutable_time()->set_seconds(1700000000 + n);
      recorder.Append(std::move(e));
    }
    absl::Status s = recorder.Flush();
    if (!s.ok()) {
      std::fprintf(stderr, "crash_writer: flush: %s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("ACK %lld\n", static_cast<long long>(n));
    std::fflush(stdout);
  }
}
