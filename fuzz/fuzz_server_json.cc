// libFuzzer target for herald serve's fast JSON request reader
// (lib/server/json_fast_parse.cc), differential: the first byte picks the
// request type (ads:select, baskets:price, orders:commit, responses), the
// rest is the body. Whatever the fast path accepts, protobuf's
// JsonStringToMessage must accept with an identical message; otherwise the
// target aborts, printing both.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "herald/model/interaction.pb.h"
#include "herald/model/server.pb.h"
#include "server/json_fast_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const herald::v1::SelectAdsRequest select;
  static const herald::v1::PriceBasketRequest price;
  static const herald::v1::CommitOrderRequest commit;
  static const herald::v1::InteractionRecord capture;
  static const google::protobuf::Message* const kTypes[] = {&select, &price, &commit, &capture};
  const google::protobuf::Message& prototype = *kTypes[data[0] % 4];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::unique_ptr<google::protobuf::Message> fast(prototype.New()), slow(prototype.New());
  if (!herald::server_internal::FastParseJson(body, fast.get())) return 0;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(body, slow.get(), options);
  if (!parsed.ok() || !google::protobuf::util::MessageDifferencer::Equals(*fast, *slow)) {
    std::fprintf(stderr, "fast path and protobuf disagree on a %s body:\n%s\nfast: %s\nprotobuf (%s): %s\n",
                 prototype.GetDescriptor()->full_name().c_str(), body.c_str(), fast->DebugString().c_str(),
                 parsed.ToString().c_str(), slow->DebugString().c_str());
    std::abort();
  }
  return 0;
}
