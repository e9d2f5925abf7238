// Internal: a hash map keyed by std::string that looks up by
// std::string_view without building a string (not public API: a workaround
// for Debian 12's Abseil, kept inside the library).
//
// Debian 12's Abseil has its own absl::string_view (not std::string_view),
// so absl::flat_hash_map<std::string, V>'s transparent lookup does not take a
// std::string_view; StringMap<V> does.
//
// Thread-safety: as absl::flat_hash_map.
#ifndef HERALD_LIB_CORE_STRING_MAP_H_
#define HERALD_LIB_CORE_STRING_MAP_H_

#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace herald {

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view v) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(v.data(), v.size()));
  }
};

struct StringViewEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

template <typename V>
using StringMap = absl::flat_hash_map<std::string, V, StringViewHash, StringViewEq>;

}  // namespace herald

#endif  // HERALD_LIB_CORE_STRING_MAP_H_
