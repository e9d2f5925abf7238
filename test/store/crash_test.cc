// Crash safety: a writer process is killed with SIGKILL in the middle of
// recording; after it, every acknowledged event is in the store and the
// stored counters equal the stored events. Three kills in a row on one
// SQLite file, and on one PostgreSQL schema.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>

#include "herald/store.h"
#include "herald/store_postgres.h"
#include "pg_test.h"

namespace herald {
namespace {

namespace fs = std::filesystem;

// Runs the writer, waits for at least `min_acks` acknowledgements plus a
// random moment, kills it, and returns the last acknowledged count.
int64_t RunAndKill(const std::string& path, const std::string& prefix, const std::string& schema,
                   int min_acks, std::mt19937& rng) {
  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(pipefd[1], STDOUT_FILENO);
    close(pipefd[0]);
    close(pipefd[1]);
    if (schema.empty()) {
      execl(HERALD_CRASH_WRITER, HERALD_CRASH_WRITER, path.c_str(), prefix.c_str(), static_cast<char*>(nullptr));
    } else {
      execl(HERALD_CRASH_WRITER, HERALD_CRASH_WRITER, path.c_str(), prefix.c_str(), schema.c_str(),
            static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  close(pipefd[1]);
  FILE* out = fdopen(pipefd[0], "r");
  REQUIRE(out != nullptr);
  char line[128];
  int64_t acked = 0;
  int acks = 0;
  const int extra = static_cast<int>(rng() % 40);
  while (acks < min_acks + extra && std::fgets(line, sizeof line, out) != nullptr) {
    long long n = 0;
    if (std::sscanf(line, "ACK %lld", &n) == 1) {
      acked = n;
      ++acks;
    }
  }
  // Kill in the middle of whatever it is doing now.
  usleep(static_cast<useconds_t>(rng() % 3000));
  kill(pid, SIGKILL);
  // Acknowledgements printed before the kill still count.
  while (std::fgets(line, sizeof line, out) != nullptr) {
    long long n = 0;
    if (std::sscanf(line, "ACK %lld", &n) == 1) acked = n;
  }
  std::fclose(out);
  int status = 0;
  waitpid(pid, &status, 0);
  INFO("writer status " << status);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  return acked;
}

// Three writers killed in turn on one store (`path`, and `schema` for
// PostgreSQL); after each, every acknowledged event of every run is there and
// the counters equal the events.
void KillWritersAndCheck(const std::string& path, const std::string& schema,
                         const std::function<absl::StatusOr<std::unique_ptr<Store>>()>& open) {
  std::mt19937 rng(std::random_device{}());
  std::map<std::string, int64_t> acked_by_run;
  for (int run = 0; run < 3; ++run) {
    const std::string prefix = "run" + std::to_string(run) + "-";
    acked_by_run[prefix] = RunAndKill(path, prefix, schema, 20, rng);
    CHECK(acked_by_run[prefix] > 0);

    auto store = open();
    INFO(store.status().ToString());
    REQUIRE(store.ok());
    std::set<std::string> sessions;
    std::map<std::string, std::pair<int64_t, int64_t>> from_events;
    REQUIRE((*store)->events().ScanEvents({}, [&](const v1::Event& e) {
      sessions.insert(e.session_id());
      auto& c = from_events[e.item_id()];
      if (e.type() == v1::EVENT_TYPE_REQUEST) c.first++;
      if (e.type() == v1::EVENT_TYPE_CLICK) c.second++;
      return absl::OkStatus();
    }).ok());
    for (const auto& [p, acked] : acked_by_run) {
      int64_t missing = 0;
      for (int64_t i = 0; i < acked; ++i) missing += sessions.count(p + std::to_string(i)) ? 0 : 1;
      INFO("run " << p << ": " << acked << " acknowledged");
      CHECK(missing == 0);
    }
    auto totals = (*store)->counters().LoadCounterTotals();
    REQUIRE(totals.ok());
    REQUIRE(totals->size() == from_events.size());
    for (const CounterTotal& t : *totals) {
      INFO("item " << t.item_id);
      CHECK(t.requests == from_events[t.item_id].first);
      CHECK(t.clicks == from_events[t.item_id].second);
    }
  }
}

TEST_CASE("crash: kill -9 mid-recording loses no acknowledged event", "[store][crash]") {
  const fs::path dir = fs::temp_directory_path() / ("herald-crash-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "site.db").string();
  KillWritersAndCheck(path, "", [&] {
    Registry registry;
    return OpenStore(path, registry);
  });
  fs::remove_all(dir);
}

TEST_CASE("crash: kill -9 mid-recording into PostgreSQL (COPY) loses no acknowledged event",
          "[store][crash][postgresql]") {
  const char* pg = testing::PostgresOrSkip("the PostgreSQL crash test");
  if (pg == nullptr) return;
  v1::PostgresStoreConfig config;
  config.set_connection_string(pg);
  config.set_schema("crash_" + std::to_string(::getpid()));
  KillWritersAndCheck(pg, config.schema(), [&] { return OpenPostgresStore(config); });
}

}  // namespace
}  // namespace herald
