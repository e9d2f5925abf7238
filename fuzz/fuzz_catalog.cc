// libFuzzer target for loading and compiling a catalog: the input is a
// textproto catalog (or, when its first byte is '{', a JSON one). Whatever
// parses and validates is compiled, and each issue and the summary must be
// printable as JSON (UTF-8). No input may crash, hang, leak, throw or
// overflow (UBSan): the validator bounds every number the compiler and the
// selector compute with (weights, goals, money, counts).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/input_check.h"
#include "herald/campaign_cache.h"
#include "herald/catalog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool json = !text.empty() && text.front() == '{';
  std::vector<herald::CatalogIssue> issues;
  auto catalog = herald::ParseCatalog(text, "fuzz.textproto", json, &issues);
  for (const herald::CatalogIssue& issue : issues) {
    // Parse errors come from protobuf (they may quote the input); the
    // validator's own issues must always be printable.
    if (issue.line > 0 && issue.source == "fuzz.textproto" && !herald::IsValidUtf8(issue.path)) __builtin_trap();
  }
  if (!catalog.ok()) {
    if (catalog.status().message().empty()) __builtin_trap();
    return 0;
  }
  if (!herald::IsValidUtf8(herald::SummarizeCatalog(*catalog))) __builtin_trap();
  auto compiled = herald::CompiledCatalog::Compile(*catalog);
  (void)compiled;
  return 0;
}
