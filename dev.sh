#!/usr/bin/env bash
# Herald's developer entry point. Every command installs what is missing
# (Debian 12 packages, scripts/setup.sh), builds, and runs.
#
#   ./dev.sh demo              build, then simulate a week of the example storefront and print the reports
#   ./dev.sh test              build, then run the whole test suite (ctest), PostgreSQL included
#   ./dev.sh desk              the Business Desk on the demo's store (build/simulation/herald.db) at
#                              http://127.0.0.1:8081/ (first run: pushes the example catalog, creates
#                              the admin "admin" with $HERALD_ADMIN_PASSWORD or a password typed in)
#   ./dev.sh subset [MODULES]  build a library of some modules only (default "core;expr;mail") and test it
#   ./dev.sh sanitize          the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   ./dev.sh fuzz [SECONDS]    build the libFuzzer targets (the sanitizer tree) and run each (default 60 s)
#   ./dev.sh bench             build and run the benchmarks, printing Herald vs reference ratios
#   ./dev.sh build             just build (build/)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
jobs=${HERALD_JOBS:-$(nproc)}

# Debian packages, then the Business Desk's npm packages (web/node_modules,
# for the app and its browser test).
setup() { bash scripts/setup.sh; bash scripts/setup_web.sh; }

configure() {  # configure DIR [cmake args...]
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  fi
}

# The sanitizer tree, shared by `sanitize` and `fuzz`: clang, ASan+UBSan, and
# libFuzzer's coverage instrumentation so the fuzz targets are built from the
# same objects as the tests. -O1 with line tables keeps stacks readable and
# compiles in about half the time of -O2 -g.
configure_sanitized() {
  if [ ! -f build-asan/build.ninja ]; then
    configure build-asan -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
      -DHERALD_SANITIZE=ON -DHERALD_BUILD_FUZZERS=ON -DHERALD_BUILD_BENCHMARKS=OFF
  fi
}

build() {  # build DIR [targets...]
  local dir=$1; shift
  cmake --build "$dir" -j "$jobs" ${1:+--target "$@"}
}

with_postgres() {  # runs "$@" with a throwaway PostgreSQL on loopback (HERALD_TEST_PG)
  local pgdir=""
  if [ -x scripts/pg_test_server.sh ] || [ -f scripts/pg_test_server.sh ]; then
    pgdir=$(mktemp -d /tmp/herald-pg.XXXXXX)
    if eval "$(bash scripts/pg_test_server.sh start "$pgdir")"; then
      trap "bash scripts/pg_test_server.sh stop '$pgdir' >/dev/null 2>&1 || true" EXIT
    else
      echo "dev.sh: could not start PostgreSQL; PostgreSQL tests will be skipped (a failure under CI)" >&2
    fi
  fi
  "$@"
}

run_ctest() {  # run_ctest DIR [ctest args...]
  local dir=$1; shift
  local log status=0
  log=$(mktemp /tmp/herald-ctest.XXXXXX)
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@" 2>&1 | tee "$log" || status=$?
  # A test that could not run (no PostgreSQL: test/pg_test.h) is reported
  # skipped; under CI (CI=true) that is a failure, never a silent pass.
  if [ "${CI:-}" = "true" ] && grep -q '(Skipped)' "$log"; then
    echo "dev.sh: CI=true and these tests were skipped (did PostgreSQL start?):" >&2
    grep '(Skipped)' "$log" >&2
    status=1
  fi
  rm -f "$log"
  return "$status"
}

cmd=${1:-}
shift || true
case "$cmd" in
  demo)
    setup
    configure build
    build build herald_cli
    catalog=examples/storefront/catalog.textproto
    ./build/bin/herald validate "$catalog"
    echo
    # A week of the example storefront: ads, clicks, baskets, capture, export, mail; then the reports.
    ./build/bin/herald simulate --catalog "$catalog" --page-views 200000 --days 7 --seed 1 \
      --out build/simulation --html build/simulation/report.html
    ;;
  desk)
    setup
    configure build
    build build herald_cli
    store=sqlite:build/simulation/herald.db
    mkdir -p build/simulation
    # The demo's store holds events but no catalog version until one is pushed.
    if ! ./build/bin/herald catalog history --store "$store" 2>/dev/null | grep -q "^version "; then
      ./build/bin/herald catalog push examples/storefront/catalog.textproto --store "$store" --note "./dev.sh desk"
    fi
    # The first admin, once; the password never goes on a command line.
    ./build/bin/herald serve --init-admin admin --store "$store"
    echo "Business Desk: http://127.0.0.1:8081/ (user admin); decision API: http://127.0.0.1:8080/"
    echo "Mail jobs started in the desk write to build/simulation/desk-maildir (nothing is sent)."
    # Mail jobs read the example's recipient files from its folder and drop
    # their messages into a Maildir: the demo never sends real mail.
    exec ./build/bin/herald serve --store "$store" --listen 127.0.0.1:8080 \
      --desk-listen 127.0.0.1:8081 --desk-assets web --access-log off \
      --mail-maildir build/simulation/desk-maildir --mail-files-dir examples/storefront
    ;;
  test)
    setup
    configure build
    build build
    with_postgres run_ctest build "$@"
    ;;
  subset)
    setup
    modules=${1:-core;expr;mail}
    # Its own tree: a subset is a different library (lib/CMakeLists.txt).
    rm -rf build-subset
    configure build-subset "-DHERALD_ONLY_MODULES=$modules"
    build build-subset
    run_ctest build-subset
    ;;
  sanitize)
    setup
    configure_sanitized
    build build-asan
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    # Leaves out the long simulations (10x slower under ASan) and the install test.
    with_postgres run_ctest build-asan -LE "install|slow" -E "^(csf_pacing_test|csf_multi_server_test|simulation_test)" "$@"
    ;;
  fuzz)
    setup
    seconds=${1:-60}
    configure_sanitized
    build build-asan herald_fuzzers
    # The targets run $jobs at a time (one per core), each on its own copy of
    # its seed corpus; their logs are printed in order once all have ended.
    logs=$(mktemp -d /tmp/herald-fuzz.XXXXXX)
    fuzz_one() {  # fuzz_one FUZZER: runs it, leaves its log and exit code in $logs
      local fuzzer=$1 name corpus rc=0
      name=$(basename "$fuzzer"); name=${name#fuzz_}
      corpus=$(mktemp -d /tmp/herald-corpus.XXXXXX)
      [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$corpus/"
      "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 "$corpus" >"$logs/$name.log" 2>&1 || rc=$?
      echo "$rc" >"$logs/$name.rc"
      rm -rf "$corpus"
    }
    for fuzzer in build-asan/bin/fuzz_*; do
      [ -x "$fuzzer" ] || continue
      while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
      fuzz_one "$fuzzer" &
    done
    wait
    status=0
    for rc in "$logs"/*.rc; do
      name=$(basename "$rc" .rc)
      echo "== fuzz_$name for ${seconds}s: exit $(cat "$rc")"
      tail -n 12 "$logs/$name.log"
      [ "$(cat "$rc")" = 0 ] || status=1
    done
    [ -n "$(ls "$logs"/*.rc 2>/dev/null)" ] || { echo "dev.sh: no fuzz target was built" >&2; status=1; }
    rm -rf "$logs"
    exit $status
    ;;
  bench)
    setup
    configure build
    build build
    bash bench/run build/bin
    ;;
  build)
    setup
    configure build
    build build "$@"
    ;;
  *)
    sed -n '2,13p' "$0"
    exit 2
    ;;
esac
