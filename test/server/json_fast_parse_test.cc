// The fast JSON request reader (lib/server/json_fast_parse.cc) against
// protobuf's JsonStringToMessage, the independent implementation it stands
// in front of: whatever the fast path accepts, protobuf accepts too, with an
// identical message. Bodies: the storefront's requests, protobuf's own
// printing of random requests, hand-picked edge cases, and 30,000 random
// mutations of them.
#include "server/json_fast_parse.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "herald/model/basket.pb.h"
#include "herald/model/decisions.pb.h"
#include "herald/model/interaction.pb.h"

namespace herald::server_internal {
namespace {

using google::protobuf::Message;

struct Outcome {
  bool fast = false;     // the fast path accepted
  bool protobuf = false; // protobuf accepted
  bool equal = false;    // both accepted and agree
};

Outcome Compare(const Message& prototype, const std::string& body) {
  std::unique_ptr<Message> fast(prototype.New()), slow(prototype.New());
  Outcome o;
  o.fast = FastParseJson(body, fast.get());
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  o.protobuf = google::protobuf::util::JsonStringToMessage(body, slow.get(), options).ok();
  o.equal = o.fast && o.protobuf && google::protobuf::util::MessageDifferencer::Equals(*fast, *slow);
  return o;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::vector<std::string> kSelectBodies = {
    R"({"pageGroups":["Home"],"count":3,"userId":"u1","profile":{"age":30,"state":"WA"}})",
    R"({ "page_groups" : [ "Home" , "Cart" ] , "count" : 2 , "trace" : true , "dryRun" : false })",
    R"({"profile":{"age":30.5,"interests":["golf","tennis"],"premier":true,"spend":null,"nested":{"a":[1,[2,{}]]}}})",
    R"({"profile":{"big":9007199254740993,"huge":18446744073709551615,"bigger":1e300,"neg":-12,"tiny":1.5e-300}})",
    R"({"userId":"Zoë","sessionId":"tab\tnew\nline \"q\" \\ \/ café Müller 😀 \u0041"})",
    R"({"userId":"Zo\u00eb"})",
    R"({"userId":"\u0041\u007e"})",
    R"({"count":2147483647})", R"({"count":2147483648})", R"({"count":-2147483648})", R"({"count":"3"})",
    R"({"count":3.0})", R"({"count":1e2})", R"({"count":-0})", R"({"count":00})", R"({"count":null})",
    R"({"count":3,"count":4})", R"({"pageGroups":[null]})", R"({"pageGroups":"Home"})", R"({"cont":3})",
    R"({"time":"2026-06-01T00:00:00Z"})", R"({"profile":{"a":1,"a":2}})", R"({"profile":{"x":-0}})",
    R"({"profile":{"x":-0.0}})", R"({"profile":{"x":1e400}})", R"({})", R"( {} )", R"({}x)", R"([])", R"({"trace":1})",
    R"({"userId":"\ud83d\ude00"})", R"({"userId":"\u0000"})", "{\"userId\":\"raw\x01\"}", "{\"userId\":\"\xff\"}",
    "{\"userId\":\"\xC0\x80\"}", "{\"userId\":\"\xED\xA0\x80\"}", "{\"userId\":\"del\x7f\"}", R"({"profile":[]})",
    R"({"profile":{"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}})"};

TEST_CASE("the fast JSON reader agrees with protobuf on storefront requests and edge cases") {
  v1::SelectAdsRequest select;
  int fast = 0;
  for (const std::string& body : kSelectBodies) {
    INFO(body);
    Outcome o = Compare(select, body);
    if (o.fast) {
      CHECK(o.equal);
      ++fast;
    }
  }
  // The common bodies take the fast path.
  for (int i = 0; i < 5; ++i) {
    INFO(kSelectBodies[i]);
    CHECK(Compare(select, kSelectBodies[i]).equal);
  }
  CHECK(fast >= 8);
  // The declined ones stay with protobuf, whose error is the one reported.
  for (const char* declined : {R"({"count":"3"})", R"({"count":null})", R"({"cont":3})", R"({"count":3,"count":4})",
                               R"({"time":"2026-06-01T00:00:00Z"})", R"({"count":-0})", R"({"profile":{"x":1e400}})"}) {
    INFO(declined);
    v1::SelectAdsRequest m;
    CHECK_FALSE(FastParseJson(declined, &m));
  }
}

TEST_CASE("the fast JSON reader agrees with protobuf on printed requests and 30,000 mutations of them") {
  std::vector<std::pair<const Message*, std::string>> seeds;
  v1::SelectAdsRequest select;
  for (const std::string& b : kSelectBodies) seeds.emplace_back(&select, b);
  const std::string basket = ReadFile(std::string(HERALD_SOURCE_DIR) + "/examples/storefront/basket.json");
  REQUIRE(!basket.empty());
  v1::PriceBasketRequest price;
  seeds.emplace_back(&price, "{\"basket\":" + basket + ",\"explain\":true}");
  v1::CommitOrderRequest commit;
  seeds.emplace_back(&commit, "{\"basket\":" + basket + "}");
  v1::InteractionRecord capture;
  seeds.emplace_back(&capture, R"({"subject":{"customerId":"c-1001","email":"ada@example.com","phone":"+1 206 555 0100"},)"
                               R"("action":{"issue":"Sales","group":"Cards","name":"PlatinumCreditCard"},)"
                               R"("channel":"Web","orderId":"order-1001","value":{"minorUnits":"4999","currency":"USD"}})");
  for (size_t k = kSelectBodies.size(); k < seeds.size(); ++k) {
    INFO(seeds[k].second);
    CHECK(Compare(*seeds[k].first, seeds[k].second).protobuf);
  }
  const std::string alphabet = "{}[]:,\" \\0123456789-+.eEtrufalsn\x80\xc3\xa9uU0x";
  std::mt19937 rng(7);
  int accepted = 0, fast_accepted = 0;
  for (int round = 0; round < 30000; ++round) {
    auto [prototype, body] = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t at = rng() % body.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: body[at] = c; break;
        case 1: body.insert(body.begin() + static_cast<long>(at), c); break;
        default: body.erase(at, 1); break;
      }
    }
    Outcome o = Compare(*prototype, body);
    accepted += o.protobuf;
    if (o.fast) {
      ++fast_accepted;
      INFO(prototype->GetDescriptor()->full_name() << ": " << body);
      REQUIRE(o.equal);
    }
  }
  INFO(accepted << " accepted by protobuf, " << fast_accepted << " by the fast path");
  CHECK(fast_accepted > 1000);
}

}  // namespace
}  // namespace herald::server_internal
