// libFuzzer target for recipient lists (ParseRecipientCsv): the first byte
// picks the delimiter (',' ';' '\t' '|'), the rest is the CSV. A table that
// parses has every cell valid UTF-8, rows as wide as the header and a
// resolved email column. No input may crash, hang, leak or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/input_check.h"
#include "herald/mail.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr char kDelimiters[] = {',', ';', '\t', '|'};
  const char delimiter = kDelimiters[data[0] % 4];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto table = herald::ParseRecipientCsv(text, "fuzz.csv", "email", "id", delimiter);
  if (!table.ok()) {
    if (table.status().message().empty()) __builtin_trap();
    return 0;
  }
  if (table->email_column < 0 || static_cast<size_t>(table->email_column) >= table->columns.size()) __builtin_trap();
  for (const auto& row : table->rows) {
    if (row.size() != table->columns.size()) __builtin_trap();
    for (const auto& cell : row) {
      if (!herald::IsValidUtf8(cell)) __builtin_trap();
    }
  }
  return 0;
}
