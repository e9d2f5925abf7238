// herald serve's JSON: the hand-written proto3 printer and the fast request
// reader (lib/server/proto_json.cc, json_fast_parse.cc) against protobuf's
// MessageToJsonString and JsonStringToMessage, which they must match byte
// for byte and message for message (proto_json_test, json_fast_parse_test).
// The work: a 3-winner /v1/ads:select answer, and the request that asked.
#include <benchmark/benchmark.h>

#include <string>

#include "google/protobuf/util/json_util.h"
#include "herald/model/server.pb.h"
#include "server/json_fast_parse.h"
#include "server/proto_json.h"

namespace {

constexpr char kRequest[] =
    R"({"pageGroups":["pg3"],"count":3,"userId":"u417","profile":{"age":37,"state":"WA"}})";

herald::v1::SelectAdsResponse Answer() {
  herald::v1::SelectAdsResponse r;
  for (int i = 0; i < 3; ++i) {
    herald::v1::SelectedAd* ad = r.add_winners();
    ad->set_item_id("ad-" + std::to_string(4711 + i));
    ad->set_name("Northwind Primer " + std::to_string(i));
    ad->set_campaign_id("campaign-" + std::to_string(17 + i));
    ad->set_kind("paid");
    ad->set_score(0.8731 - i * 0.1);
    ad->set_click_url("/v1/clicks/k1.CgdhZC00NzExEgR1NDE3GgNwZzMgwJ3K1wY.3nT0y0b4G6c9-Xq5fLZtqY2w8oV1kLmB0dE7sHjR4aQ");
    ad->set_html("<a href=\"" + ad->click_url() + "\"><img src=\"https://cdn.example.com/ads/" + ad->item_id() +
                 ".png\" width=\"300\" height=\"250\" alt=\"" + ad->name() + "\"></a>");
  }
  return r;
}

void BM_JsonPrint_Reference(benchmark::State& state) {
  const auto answer = Answer();
  for (auto _ : state) {
    std::string out;
    benchmark::DoNotOptimize(google::protobuf::util::MessageToJsonString(answer, &out).ok());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_JsonPrint_Reference);

void BM_JsonPrint_Herald(benchmark::State& state) {
  const auto answer = Answer();
  for (auto _ : state) {
    std::string out;
    benchmark::DoNotOptimize(herald::server_internal::AppendMessageJson(answer, &out).ok());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_JsonPrint_Herald);

void BM_JsonParse_Reference(benchmark::State& state) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  for (auto _ : state) {
    herald::v1::SelectAdsRequest request;
    benchmark::DoNotOptimize(google::protobuf::util::JsonStringToMessage(kRequest, &request, options).ok());
  }
}
BENCHMARK(BM_JsonParse_Reference);

void BM_JsonParse_Herald(benchmark::State& state) {
  herald::v1::SelectAdsRequest check;
  if (!herald::server_internal::FastParseJson(kRequest, &check)) state.SkipWithError("the fast path declined");
  for (auto _ : state) {
    herald::v1::SelectAdsRequest request;
    benchmark::DoNotOptimize(herald::server_internal::FastParseJson(kRequest, &request));
  }
}
BENCHMARK(BM_JsonParse_Herald);

}  // namespace

BENCHMARK_MAIN();
