// libFuzzer target for responses: the input is a herald.v1.InteractionRecord
// in JSON (what `herald capture --record` and a site's capture endpoint
// take), validated and stored by CaptureResponse in a memory store. A stored
// record must have only UTF-8 strings. No input may crash, hang, leak or throw.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/input_check.h"
#include "core/proto_io.h"
#include "herald/conversion.h"
#include "herald/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  herald::v1::InteractionRecord record;
  if (!herald::ParseJsonProto(text, "fuzz.json", &record).ok()) return 0;
  herald::CaptureOptions options;
  options.clock = [] { return absl::FromUnixSeconds(1798761600); };  // 2027-01-01: after every seed
  std::unique_ptr<herald::Store> store = herald::NewMemoryStore();  // fresh: memory stays flat
  auto stored = herald::CaptureResponse(*store, record, options);
  if (!stored.ok()) {
    if (stored.status().message().empty()) __builtin_trap();
    return 0;
  }
  if (!herald::FindInvalidStrings(*stored).empty()) __builtin_trap();
  return 0;
}
