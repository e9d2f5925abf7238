// Child process of crash_test: records events (counted into the delivery
// counters) into a SQLite store as fast as it can and, after each Flush()
// returns OK, prints "ACK <n>": the first n events of this run are durable.
//
//   herald_crash_writer STORE_PATH RUN_PREFIX
#include <cstdio>
#include <string>
#include <vector>

#include "herald/counters.h"
#include "herald/store.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s STORE_PATH RUN_PREFIX\n", argv[0]);
    return 2;
  }
  herald::Registry registry;
  auto store = herald::OpenStore(argv[1], registry);
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
