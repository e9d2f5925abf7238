// The bytecode interpreter and the Program methods.
//
// Semantics follow CEL (cel-spec doc/langdef.md): errors are values that
// propagate through functions, && and || absorb them commutatively, int64
// overflow and division by zero are errors, numbers of different kinds compare
// on one number line. Nothing here allocates, except Scratch growing past its
// high-water mark.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "fmt/format.h"
#include "expr/diagnostics.h"
#include "expr/program.h"
#include "expr/strings.h"
#include "expr/time_text.h"
#include "expr/vm.h"
#include "re2/re2.h"

namespace herald::expr {

using internal::AbslView;
using internal::Append;
using internal::Cat;

char* Activation::Scratch::Allocate(size_t n) {
  if (n > internal::kMaxScratchBytes || total + n > internal::kMaxScratchBytes) {
    return nullptr;
  }
  total += n;
  n = n == 0 ? 8 : (n + 7) & ~size_t{7};  // keeps every allocation 8-aligned
  while (block < blocks.size()) {
    Block& b = blocks[block];
    if (b.size - used >= n) {
      char* out = b.data.get() + used;
      used += n;
      return out;
    }
    ++block;
    used = 0;
  }
  size_t size = std::max<size_t>(n, blocks.empty() ? 4096 : blocks.back().size * 2);
  blocks.push_back(Block{std::unique_ptr<char[]>(new char[size]), size});
  block = blocks.size() - 1;
  used = n;
  return blocks.back().data.get();
}

namespace internal {

ProgramImpl::ProgramImpl() = default;
ProgramImpl::~ProgramImpl() = default;

namespace {

constexpr const char* kNoOverload = "no matching overload";
constexpr const char* kIntOverflow = "integer overflow";
constexpr const char* kDivByZero = "division by zero";
constexpr const char* kModByZero = "modulus by zero";
constexpr const char* kCurrencyMismatch = "amounts of different currencies";
constexpr const char* kMoneyOverflow = "money overflow";
constexpr const char* kMoneyPrecision = "money needs more than 18 decimals";
constexpr const char* kMoneyTimesMoney = "cannot multiply two amounts of money";
constexpr const char* kTimestampRange = "timestamp out of range";
constexpr const char* kDurationRange = "duration out of range";
constexpr const char* kIndexRange = "index out of range";
constexpr const char* kScratchFull = "string result too long";
constexpr const char* kNotBool = "not a bool";
constexpr const char* kBadConversion = "conversion failed";
constexpr const char* kIntRange = "double out of int range";
constexpr const char* kEmptyProgram = "empty program";
constexpr const char* kSmallActivation = "activation has fewer slots than the program's schema";

constexpr const char* kNoSuchKey = "no such key";
constexpr const char* kRepeatedKey = "repeated key in a map";
constexpr const char* kBadKey = "unsupported map key type";
constexpr const char* kUintOverflow = "unsigned integer overflow";
constexpr const char* kUintRange = "out of uint range";
constexpr const char* kInvalidUtf8 = "bytes are not valid UTF-8";
constexpr const char* kTooLarge = "list or map result too large";
constexpr int64_t kNanosPerSecond = 1000000000;

constexpr int64_t kPow10[19] = {1,
                                10,
                                100,
                                1000,
                                10000,
                                100000,
                                1000000,
                                10000000,
                                100000000,
                                1000000000,
                                10000000000,
                                100000000000,
                                1000000000000,
                                10000000000000,
                                100000000000000,
                                1000000000000000,
                                10000000000000000,
                                100000000000000000,
                                1000000000000000000};

using T = Type;

// String equality and order, always inlined: Run is large enough that GCC's
// inliner would otherwise call std::string_view::compare out of line on the
// targeting expressions' hottest path.
//
// Targeting compares short words ("WA", "sports", "golf"): up to 16 bytes are
// compared inline with two overlapping loads of 1, 2, 4 or 8 bytes, never
// reading outside either string, which saves the call to memcmp (about a
// third of an `in ['sports', 'news']` test's instructions).
template <typename U>
[[gnu::always_inline]] inline U LoadUnaligned(const char* p) {
  U u;
  __builtin_memcpy(&u, p, sizeof(U));
  return u;
}
template <typename U>
[[gnu::always_inline]] inline bool SameEnds(const char* a, const char* b, size_t n) {
  return LoadUnaligned<U>(a) == LoadUnaligned<U>(b) &&
         LoadUnaligned<U>(a + n - sizeof(U)) == LoadUnaligned<U>(b + n - sizeof(U));
}
[[gnu::always_inline]] inline bool StrEq(std::string_view a, std::string_view b) {
  size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n >= 8) return n <= 16 ? SameEnds<uint64_t>(x, y, n) : __builtin_memcmp(x, y, n) == 0;
  if (n >= 4) return SameEnds<uint32_t>(x, y, n);
  if (n >= 2) return SameEnds<uint16_t>(x, y, n);
  return n == 0 || *x == *y;
}
[[gnu::always_inline]] inline int StrCmp(std::string_view a, std::string_view b) {
  size_t n = a.size() < b.size() ? a.size() : b.size();
  int c = n == 0 ? 0 : __builtin_memcmp(a.data(), b.data(), n);
  if (c != 0) return c;
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

enum class Ord : uint8_t { kLess, kEqual, kGreater, kUnordered, kIncomparable, kError };

template <typename X>
inline Ord Three(X a, X b) {
  return a < b ? Ord::kLess : (b < a ? Ord::kGreater : Ord::kEqual);
}

// int and double compare as CEL's runtimes do: the int converted to double
// (so 9223372036854775807 == 9223372036854775808.0, as the conformance suite
// requires).
inline Ord CompareIntDouble(int64_t i, double d) {
  if (std::isnan(d)) return Ord::kUnordered;
  return Three(static_cast<double>(i), d);
}

[[maybe_unused]] inline Ord CompareIntDoubleExact(int64_t i, double d) {
  if (std::isnan(d)) return Ord::kUnordered;
  if (d >= 9223372036854775808.0) return Ord::kLess;
  if (d < -9223372036854775808.0) return Ord::kGreater;
  int64_t t = static_cast<int64_t>(d);  // truncates toward zero, in range
  if (i < t) return Ord::kLess;
  if (i > t) return Ord::kGreater;
  double frac = d - static_cast<double>(t);
  if (frac > 0) return Ord::kLess;
  if (frac < 0) return Ord::kGreater;
  return Ord::kEqual;
}

inline Ord CompareIntUint(int64_t i, uint64_t u) {
  if (i < 0) return Ord::kLess;
  return Three(static_cast<uint64_t>(i), u);
}

inline Ord CompareUintDouble(uint64_t u, double d) {
  if (std::isnan(d)) return Ord::kUnordered;
  return Three(static_cast<double>(u), d);
}

[[maybe_unused]] inline Ord CompareUintDoubleExact(uint64_t u, double d) {
  if (std::isnan(d)) return Ord::kUnordered;
  if (d < 0) return Ord::kGreater;
  if (d >= 18446744073709551616.0) return Ord::kLess;
  uint64_t t = static_cast<uint64_t>(d);
  if (u < t) return Ord::kLess;
  if (u > t) return Ord::kGreater;
  double frac = d - static_cast<double>(t);
  return frac > 0 ? Ord::kLess : Ord::kEqual;
}

inline Ord Flip(Ord o) {
  if (o == Ord::kLess) return Ord::kGreater;
  if (o == Ord::kGreater) return Ord::kLess;
  return o;
}

inline Ord CompareDecimal(int64_t a, int sa, int64_t b, int sb) {
  if (sa == sb) return Three(a, b);
  __int128 x = a;
  __int128 y = b;
  if (sa < sb) {
    x *= kPow10[sb - sa];
  } else {
    y *= kPow10[sa - sb];
  }
  return Three(x, y);
}

// Money compared with money or an int; a non-empty currency on both sides
// must agree.
inline Ord CompareMoney(const Value& a, const Value& b) {
  int64_t bu;
  int bs;
  if (Vm::T(b) == T::kMoney) {
    uint32_t ca = Vm::Aux32(a);
    uint32_t cb = Vm::Aux32(b);
    if (ca != 0 && cb != 0 && ca != cb) return Ord::kError;
    bu = Vm::I(b);
    bs = Vm::Scale(b);
  } else if (Vm::T(b) == T::kInt) {
    bu = Vm::I(b);
    bs = 0;
  } else {
    return Ord::kIncomparable;
  }
  return CompareDecimal(Vm::I(a), Vm::Scale(a), bu, bs);
}

Ord Order(const Value& a, const Value& b);

Ord OrderLists(const Value& a, const Value& b) {
  // Only equality is defined on lists: kEqual or kLess for "different".
  size_t na = Vm::Aux32(a);
  size_t nb = Vm::Aux32(b);
  if (na != nb) return Ord::kLess;
  auto element = [](const Value& list, size_t i) -> Value {
    if (Vm::T(list) == T::kList) return Vm::ListData(list)[i];
    std::string_view s = Vm::StringListData(list)[i];
    return Vm::MakeString(s.data(), s.size());
  };
  Ord result = Ord::kEqual;
  for (size_t i = 0; i < na; ++i) {
    Ord o = Order(element(a, i), element(b, i));
    if (o == Ord::kEqual) continue;
    if (o == Ord::kError) {
      result = Ord::kError;
      continue;
    }
    return Ord::kLess;  // some element differs: unequal, errors absorbed
  }
  return result;
}

// Kept out of line (as the other container and conversion helpers below), so
// that the interpreter's loop stays as compact as it was before maps and
// macros: the targeting expressions' hot path does not pay for them.
// Looks `key` up in a map: the value, or nullptr. Keys compare as CEL's
// heterogeneous equality does (1 == 1u == 1.0).
[[gnu::noinline]] const Value* MapFind(const Value& map, const Value& key) {
  const Value* kv = Vm::ListData(map);
  uint32_t n = Vm::Aux32(map);
  if (Vm::T(key) == T::kString) {
    std::string_view s = Vm::S(key);
    for (uint32_t i = 0; i < n; ++i) {
      if (Vm::T(kv[2 * i]) == T::kString && StrEq(Vm::S(kv[2 * i]), s)) return &kv[2 * i + 1];
    }
    return nullptr;
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (Order(key, kv[2 * i]) == Ord::kEqual) return &kv[2 * i + 1];
  }
  return nullptr;
}

// Maps are equal with the same keys and equal values; an error comparing
// values is absorbed when another difference decides.
[[gnu::noinline]] Ord OrderMaps(const Value& a, const Value& b) {
  uint32_t n = Vm::Aux32(a);
  if (n != Vm::Aux32(b)) return Ord::kLess;
  const Value* kv = Vm::ListData(a);
  Ord result = Ord::kEqual;
  for (uint32_t i = 0; i < n; ++i) {
    const Value* other = MapFind(b, kv[2 * i]);
    if (other == nullptr) return Ord::kLess;
    Ord o = Order(kv[2 * i + 1], *other);
    if (o == Ord::kEqual) continue;
    if (o == Ord::kError) {
      result = Ord::kError;
      continue;
    }
    return Ord::kLess;
  }
  return result;
}

Ord Order(const Value& a, const Value& b) {
  T ta = Vm::T(a);
  T tb = Vm::T(b);
  if (ta == tb) {
    switch (ta) {
      case T::kUint: return Three(Vm::U(a), Vm::U(b));
      case T::kBytes:
      case T::kType: {
        int c = Vm::S(a).compare(Vm::S(b));
        return c < 0 ? Ord::kLess : (c > 0 ? Ord::kGreater : Ord::kEqual);
      }
      case T::kMap: return OrderMaps(a, b);
      case T::kDyn: return Ord::kIncomparable;
      case T::kNull: return Ord::kEqual;
      case T::kBool: return Three(Vm::B(a), Vm::B(b));
      case T::kInt: return Three(Vm::I(a), Vm::I(b));
      case T::kDouble: {
        double x = Vm::D(a);
        double y = Vm::D(b);
        if (std::isnan(x) || std::isnan(y)) return Ord::kUnordered;
        return Three(x, y);
      }
      case T::kString: {
        int c = Vm::S(a).compare(Vm::S(b));
        return c < 0 ? Ord::kLess : (c > 0 ? Ord::kGreater : Ord::kEqual);
      }
      case T::kMoney: return CompareMoney(a, b);
      case T::kTimestamp: {
        Ord o = Three(Vm::I(a), Vm::I(b));
        return o != Ord::kEqual ? o : Three(Vm::Aux32(a), Vm::Aux32(b));
      }
      case T::kDuration: return Three(Vm::I(a), Vm::I(b));
      case T::kStringList:
      case T::kList: return OrderLists(a, b);
      case T::kError: return Ord::kError;
    }
    return Ord::kIncomparable;
  }
  if (ta == T::kInt && tb == T::kUint) return CompareIntUint(Vm::I(a), Vm::U(b));
  if (ta == T::kUint && tb == T::kInt) return Flip(CompareIntUint(Vm::I(b), Vm::U(a)));
  if (ta == T::kUint && tb == T::kDouble) return CompareUintDouble(Vm::U(a), Vm::D(b));
  if (ta == T::kDouble && tb == T::kUint) return Flip(CompareUintDouble(Vm::U(b), Vm::D(a)));
  if (ta == T::kInt && tb == T::kDouble) return CompareIntDouble(Vm::I(a), Vm::D(b));
  if (ta == T::kDouble && tb == T::kInt) return Flip(CompareIntDouble(Vm::I(b), Vm::D(a)));
  if (ta == T::kMoney) return CompareMoney(a, b);
  if (tb == T::kMoney) return Flip(CompareMoney(b, a));
  if ((ta == T::kList || ta == T::kStringList) && (tb == T::kList || tb == T::kStringList)) {
    return OrderLists(a, b);
  }
  return Ord::kIncomparable;
}

inline bool IsListType(T t) { return t == T::kList || t == T::kStringList; }

// The comparison `a <kind> b` as a Value (bool or error).
Value Compare(const Value& a, const Value& b, uint8_t kind, uint32_t pos) {
  if (Vm::T(a) == T::kError) return a;
  if (Vm::T(b) == T::kError) return b;
  Ord o = Order(a, b);
  if (o == Ord::kError) return Vm::MakeError(kCurrencyMismatch, pos);
  if (kind == kCmpEq || kind == kCmpNe) {
    bool eq = o == Ord::kEqual;
    return Vm::MakeBool(kind == kCmpEq ? eq : !eq);
  }
  if (o == Ord::kIncomparable || IsListType(Vm::T(a)) || IsListType(Vm::T(b)) ||
      Vm::T(a) == T::kMap || Vm::T(a) == T::kType || Vm::T(a) == T::kNull) {
    return Vm::MakeError(kNoOverload, pos);
  }
  switch (kind) {
    case kCmpLt: return Vm::MakeBool(o == Ord::kLess);
    case kCmpLe: return Vm::MakeBool(o == Ord::kLess || o == Ord::kEqual);
    case kCmpGt: return Vm::MakeBool(o == Ord::kGreater);
    case kCmpGe: return Vm::MakeBool(o == Ord::kGreater || o == Ord::kEqual);
    default: return Vm::MakeError(kNoOverload, pos);
  }
}

template <typename X>
inline bool CmpOrdered(uint8_t kind, X a, X b) {
  // Branch-free: bit (order + 1) of the kind's truth table (less, equal,
  // greater). A switch here cost a jump per comparison on the hot path. Only
  // for totally ordered types (integers, bools, StrCmp's result): never NaN.
  static_assert(std::is_integral_v<X>);
  static constexpr uint8_t kTruth[] = {/*eq*/ 0b010, /*ne*/ 0b101, /*lt*/ 0b001,
                                       /*le*/ 0b011, /*gt*/ 0b100, /*ge*/ 0b110};
  static_assert(kCmpEq == 0 && kCmpNe == 1 && kCmpLt == 2 && kCmpLe == 3 && kCmpGt == 4 &&
                kCmpGe == 5);
  int order = (a > b) - (a < b);
  return (kTruth[kind] >> (order + 1)) & 1;
}

// Whether a list of strings holds `s`; inlined into the interpreter's fused
// `in` tests, which targeting runs on every request.
[[gnu::always_inline]] inline bool StringListHas(const Value& list, std::string_view s) {
  const std::string_view* data = Vm::StringListData(list);
  for (uint32_t i = 0, n = Vm::Aux32(list); i < n; ++i) {
    if (StrEq(data[i], s)) return true;
  }
  return false;
}

// `needle in list`: a bool, or an error.
Value In(const Value& needle, const Value& list, uint32_t pos) {
  if (Vm::T(needle) == T::kError) return needle;
  if (Vm::T(list) == T::kError) return list;
  if (Vm::T(list) == T::kStringList) {
    return Vm::MakeBool(Vm::T(needle) == T::kString && StringListHas(list, Vm::S(needle)));
  }
  if (Vm::T(list) == T::kMap) return Vm::MakeBool(MapFind(list, needle) != nullptr);
  if (Vm::T(list) != T::kList) return Vm::MakeError(kNoOverload, pos);
  const Value* data = Vm::ListData(list);
  uint32_t n = Vm::Aux32(list);
  if (Vm::T(needle) == T::kString) {
    std::string_view s = Vm::S(needle);
    for (uint32_t i = 0; i < n; ++i) {
      if (Vm::T(data[i]) == T::kString && StrEq(Vm::S(data[i]), s)) return Vm::MakeBool(true);
    }
    // Only strings equal strings (heterogeneous equality).
    return Vm::MakeBool(false);
  }
  bool error = false;
  for (uint32_t i = 0; i < n; ++i) {
    Ord o = Order(needle, data[i]);
    if (o == Ord::kEqual) return Vm::MakeBool(true);
    if (o == Ord::kError) error = true;
  }
  if (error) return Vm::MakeError(kCurrencyMismatch, pos);
  return Vm::MakeBool(false);
}

Value TimestampPlus(const Value& ts, __int128 nanos, uint32_t pos) {
  __int128 total = static_cast<__int128>(Vm::I(ts)) * kNanosPerSecond + Vm::Aux32(ts) + nanos;
  __int128 seconds = total / kNanosPerSecond;
  __int128 rem = total % kNanosPerSecond;
  if (rem < 0) {
    rem += kNanosPerSecond;
    seconds -= 1;
  }
  if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) {
    return Vm::MakeError(kTimestampRange, pos);
  }
  return Vm::MakeTimestamp(static_cast<int64_t>(seconds), static_cast<uint32_t>(rem));
}

Value DurationFrom(__int128 nanos, uint32_t pos) {
  if (nanos > INT64_MAX || nanos < INT64_MIN) return Vm::MakeError(kDurationRange, pos);
  return Vm::MakeDuration(static_cast<int64_t>(nanos));
}

// Aligns two decimals to the finer scale; false on overflow.
bool AlignDecimals(int64_t a, int sa, int64_t b, int sb, __int128* x, __int128* y, int* scale) {
  *x = a;
  *y = b;
  if (sa < sb) {
    *x *= kPow10[sb - sa];
  } else if (sb < sa) {
    *y *= kPow10[sa - sb];
  }
  *scale = std::max(sa, sb);
  return true;
}

Value MoneyFrom(__int128 units, int scale, uint32_t currency, int min_scale, uint32_t pos) {
  while (scale > min_scale && units % 10 == 0 && scale > 0) {
    units /= 10;
    --scale;
  }
  while (scale > 18) {
    if (units % 10 != 0) return Vm::MakeError(kMoneyPrecision, pos);
    units /= 10;
    --scale;
  }
  if (units > INT64_MAX || units < INT64_MIN) return Vm::MakeError(kMoneyOverflow, pos);
  return Vm::MakeMoney(static_cast<int64_t>(units), scale, currency);
}

// Money arithmetic: money +- money, money * int, money * decimal.
Value MoneyArith(const Value& a, const Value& b, uint8_t op, uint32_t pos) {
  auto as_decimal = [](const Value& v, int64_t* units, int* scale, uint32_t* currency) {
    if (Vm::T(v) == T::kMoney) {
      *units = Vm::I(v);
      *scale = Vm::Scale(v);
      *currency = Vm::Aux32(v);
      return true;
    }
    if (Vm::T(v) == T::kInt) {
      *units = Vm::I(v);
      *scale = 0;
      *currency = 0;
      return true;
    }
    return false;
  };
  int64_t ua, ub;
  int sa, sb;
  uint32_t ca, cb;
  if (!as_decimal(a, &ua, &sa, &ca) || !as_decimal(b, &ub, &sb, &cb)) {
    return Vm::MakeError(kNoOverload, pos);
  }
  if (ca != 0 && cb != 0 && ca != cb) return Vm::MakeError(kCurrencyMismatch, pos);
  uint32_t currency = ca != 0 ? ca : cb;
  switch (op) {
    case kArithAdd:
    case kArithSub: {
      __int128 x, y;
      int scale;
      AlignDecimals(ua, sa, ub, sb, &x, &y, &scale);
      __int128 r = op == kArithAdd ? x + y : x - y;
      if (r > INT64_MAX || r < INT64_MIN) return Vm::MakeError(kMoneyOverflow, pos);
      return Vm::MakeMoney(static_cast<int64_t>(r), scale, currency);
    }
    case kArithMul: {
      if (ca != 0 && cb != 0) return Vm::MakeError(kMoneyTimesMoney, pos);
      __int128 r = static_cast<__int128>(ua) * ub;
      // Keep at least the scale of the amount (19.99 * 2 = 39.98, not 39.980).
      int keep = ca != 0 ? sa : (cb != 0 ? sb : std::max(sa, sb));
      return MoneyFrom(r, sa + sb, currency, keep, pos);
    }
    default:
      return Vm::MakeError(kNoOverload, pos);
  }
}

// int op int, with CEL's overflow and division errors.
Value IntArith(int64_t x, int64_t y, uint8_t op, uint32_t pos) {
  int64_t r;
  switch (op) {
    case kArithAdd:
      if (__builtin_add_overflow(x, y, &r)) return Vm::MakeError(kIntOverflow, pos);
      return Vm::MakeInt(r);
    case kArithSub:
      if (__builtin_sub_overflow(x, y, &r)) return Vm::MakeError(kIntOverflow, pos);
      return Vm::MakeInt(r);
    case kArithMul:
      if (__builtin_mul_overflow(x, y, &r)) return Vm::MakeError(kIntOverflow, pos);
      return Vm::MakeInt(r);
    case kArithDiv:
      if (y == 0) return Vm::MakeError(kDivByZero, pos);
      if (x == INT64_MIN && y == -1) return Vm::MakeError(kIntOverflow, pos);
      return Vm::MakeInt(x / y);
    case kArithMod:
      if (y == 0) return Vm::MakeError(kModByZero, pos);
      if (x == INT64_MIN && y == -1) return Vm::MakeError(kIntOverflow, pos);
      return Vm::MakeInt(x % y);
  }
  return Vm::MakeError(kNoOverload, pos);
}

// uint op uint, with CEL's overflow and division errors.
Value UintArith(uint64_t x, uint64_t y, uint8_t op, uint32_t pos) {
  uint64_t r;
  switch (op) {
    case kArithAdd:
      if (__builtin_add_overflow(x, y, &r)) return Vm::MakeError(kUintOverflow, pos);
      return Vm::MakeUint(r);
    case kArithSub:
      if (__builtin_sub_overflow(x, y, &r)) return Vm::MakeError(kUintOverflow, pos);
      return Vm::MakeUint(r);
    case kArithMul:
      if (__builtin_mul_overflow(x, y, &r)) return Vm::MakeError(kUintOverflow, pos);
      return Vm::MakeUint(r);
    case kArithDiv:
      if (y == 0) return Vm::MakeError(kDivByZero, pos);
      return Vm::MakeUint(x / y);
    case kArithMod:
      if (y == 0) return Vm::MakeError(kModByZero, pos);
      return Vm::MakeUint(x % y);
  }
  return Vm::MakeError(kNoOverload, pos);
}

// list + list, in scratch space (a string list's elements become strings).
Value ConcatLists(const Value& a, const Value& b, uint32_t pos, Activation::Scratch& scratch) {
  size_t na = Vm::Aux32(a);
  size_t nb = Vm::Aux32(b);
  if (nb == 0) return a;
  if (na == 0) return b;
  if (na + nb >= 0xffffffffu) return Vm::MakeError(kTooLarge, pos);
  Value* out = scratch.AllocateValues(na + nb);
  if (out == nullptr) return Vm::MakeError(kScratchFull, pos);
  size_t k = 0;
  for (const Value* list : {&a, &b}) {
    for (size_t i = 0, n = Vm::Aux32(*list); i < n; ++i) {
      if (Vm::T(*list) == T::kList) {
        out[k++] = Vm::ListData(*list)[i];
      } else {
        std::string_view e = Vm::StringListData(*list)[i];
        out[k++] = Vm::MakeString(e.data(), e.size());
      }
    }
  }
  return Vm::MakeList(out, k);
}

// string + string or bytes + bytes, in scratch space.
Value ConcatStrings(const Value& a, const Value& b, uint32_t pos, Activation::Scratch& scratch) {
  std::string_view x = Vm::S(a);
  std::string_view y = Vm::S(b);
  size_t n = x.size() + y.size();
  if (n >= 0xffffffffu) return Vm::MakeError(kScratchFull, pos);
  char* out = scratch.Allocate(n);
  if (out == nullptr) return Vm::MakeError(kScratchFull, pos);
  if (!x.empty()) std::memcpy(out, x.data(), x.size());
  if (!y.empty()) std::memcpy(out + x.size(), y.data(), y.size());
  return Vm::T(a) == T::kBytes ? Vm::MakeBytes(out, n) : Vm::MakeString(out, n);
}

Value Arith(const Value& a, const Value& b, uint8_t op, uint32_t pos, Activation::Scratch& scratch) {
  if (Vm::T(a) == T::kError) return a;
  if (Vm::T(b) == T::kError) return b;
  T ta = Vm::T(a);
  T tb = Vm::T(b);
  if (ta == T::kInt && tb == T::kInt) return IntArith(Vm::I(a), Vm::I(b), op, pos);
  if (ta == T::kUint && tb == T::kUint) return UintArith(Vm::U(a), Vm::U(b), op, pos);
  if (IsListType(ta) && IsListType(tb) && op == kArithAdd) return ConcatLists(a, b, pos, scratch);
  if (ta == T::kDouble && tb == T::kDouble) {
    double x = Vm::D(a);
    double y = Vm::D(b);
    switch (op) {
      case kArithAdd: return Vm::MakeDouble(x + y);
      case kArithSub: return Vm::MakeDouble(x - y);
      case kArithMul: return Vm::MakeDouble(x * y);
      case kArithDiv: return Vm::MakeDouble(x / y);  // IEEE: x/0 is +-inf or NaN
      default: return Vm::MakeError(kNoOverload, pos);
    }
  }
  if (ta == T::kMoney || tb == T::kMoney) {
    return MoneyArith(a, b, op, pos);
  }
  if (((ta == T::kString && tb == T::kString) || (ta == T::kBytes && tb == T::kBytes)) &&
      op == kArithAdd) {
    return ConcatStrings(a, b, pos, scratch);
  }
  if (ta == T::kTimestamp && tb == T::kDuration && (op == kArithAdd || op == kArithSub)) {
    __int128 d = Vm::I(b);
    return TimestampPlus(a, op == kArithAdd ? d : -d, pos);
  }
  if (ta == T::kDuration && tb == T::kTimestamp && op == kArithAdd) {
    return TimestampPlus(b, Vm::I(a), pos);
  }
  if (ta == T::kTimestamp && tb == T::kTimestamp && op == kArithSub) {
    __int128 x = static_cast<__int128>(Vm::I(a)) * kNanosPerSecond + Vm::Aux32(a);
    __int128 y = static_cast<__int128>(Vm::I(b)) * kNanosPerSecond + Vm::Aux32(b);
    return DurationFrom(x - y, pos);
  }
  if (ta == T::kDuration && tb == T::kDuration && (op == kArithAdd || op == kArithSub)) {
    __int128 x = Vm::I(a);
    __int128 y = Vm::I(b);
    return DurationFrom(op == kArithAdd ? x + y : x - y, pos);
  }
  return Vm::MakeError(kNoOverload, pos);
}

Value Negate(const Value& v, uint32_t pos) {
  switch (Vm::T(v)) {
    case T::kError: return v;
    case T::kInt:
      if (Vm::I(v) == INT64_MIN) return Vm::MakeError(kIntOverflow, pos);
      return Vm::MakeInt(-Vm::I(v));
    case T::kDouble: return Vm::MakeDouble(-Vm::D(v));
    case T::kMoney:
      if (Vm::I(v) == INT64_MIN) return Vm::MakeError(kMoneyOverflow, pos);
      return Vm::MakeMoney(-Vm::I(v), Vm::Scale(v), Vm::Aux32(v));
    case T::kDuration:
      if (Vm::I(v) == INT64_MIN) return Vm::MakeError(kDurationRange, pos);
      return Vm::MakeDuration(-Vm::I(v));
    default: return Vm::MakeError(kNoOverload, pos);
  }
}

int64_t CodePoints(std::string_view s) {
  int64_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

Value Size(const Value& v, uint32_t pos) {
  switch (Vm::T(v)) {
    case T::kError: return v;
    case T::kString: return Vm::MakeInt(CodePoints(Vm::S(v)));
    case T::kBytes:
    case T::kStringList:
    case T::kMap:
    case T::kList: return Vm::MakeInt(Vm::Aux32(v));
    default: return Vm::MakeError(kNoOverload, pos);
  }
}

Value StringTest(const Value& s, const Value& arg, Opcode op, uint32_t pos) {
  if (Vm::T(s) == T::kError) return s;
  if (Vm::T(arg) == T::kError) return arg;
  if (Vm::T(s) != T::kString || Vm::T(arg) != T::kString) return Vm::MakeError(kNoOverload, pos);
  std::string_view x = Vm::S(s);
  std::string_view y = Vm::S(arg);
  switch (op) {
    case Opcode::kStartsWith: return Vm::MakeBool(x.substr(0, y.size()) == y);
    case Opcode::kEndsWith:
      return Vm::MakeBool(x.size() >= y.size() && x.substr(x.size() - y.size()) == y);
    default: return Vm::MakeBool(x.find(y) != std::string_view::npos);
  }
}

Value ChangeCase(const Value& v, bool upper, uint32_t pos, Activation::Scratch& scratch) {
  if (Vm::T(v) == T::kError) return v;
  if (Vm::T(v) != T::kString) return Vm::MakeError(kNoOverload, pos);
  std::string_view s = Vm::S(v);
  char* out = scratch.Allocate(s.size());
  if (out == nullptr) return Vm::MakeError(kScratchFull, pos);
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out[i] = c;
  }
  return Vm::MakeString(out, s.size());
}

Value TimePartOf(const Value& v, uint8_t part, const absl::TimeZone& zone, uint32_t pos) {
  if (Vm::T(v) == T::kError) return v;
  if (Vm::T(v) != T::kTimestamp) return Vm::MakeError(kNoOverload, pos);
  absl::Time t = absl::FromUnixSeconds(Vm::I(v)) + absl::Nanoseconds(Vm::Aux32(v));
  absl::TimeZone::CivilInfo ci = zone.At(t);
  const absl::CivilSecond& cs = ci.cs;
  switch (part) {
    case kPartHours: return Vm::MakeInt(cs.hour());
    case kPartMinutes: return Vm::MakeInt(cs.minute());
    case kPartSeconds: return Vm::MakeInt(cs.second());
    case kPartMilliseconds:
      return Vm::MakeInt(absl::ToInt64Milliseconds(ci.subsecond));
    case kPartDayOfWeek: {
      // absl: Monday = 0 ... Sunday = 6; CEL: Sunday = 0.
      int wd = static_cast<int>(absl::GetWeekday(absl::CivilDay(cs)));
      return Vm::MakeInt((wd + 1) % 7);
    }
    case kPartDate: return Vm::MakeInt(cs.day());
    case kPartDayOfMonth: return Vm::MakeInt(cs.day() - 1);
    case kPartMonth: return Vm::MakeInt(cs.month() - 1);
    case kPartFullYear: return Vm::MakeInt(cs.year());
    case kPartDayOfYear: return Vm::MakeInt(absl::GetYearDay(absl::CivilDay(cs)) - 1);
    default: return Vm::MakeError(kNoOverload, pos);
  }
}

Value DurationPartOf(const Value& v, uint8_t part, uint32_t pos) {
  if (Vm::T(v) == T::kError) return v;
  if (Vm::T(v) != T::kDuration) return Vm::MakeError(kNoOverload, pos);
  int64_t n = Vm::I(v);
  switch (part) {
    case kPartHours: return Vm::MakeInt(n / (3600 * kNanosPerSecond));
    case kPartMinutes: return Vm::MakeInt(n / (60 * kNanosPerSecond));
    case kPartSeconds: return Vm::MakeInt(n / kNanosPerSecond);
    case kPartMilliseconds: return Vm::MakeInt((n % kNanosPerSecond) / 1000000);
    default: return Vm::MakeError(kNoOverload, pos);
  }
}

// CEL reads numbers from strings as Go's strconv does: no surrounding spaces.
bool Unpadded(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  return !s.empty() && !space(s.front()) && !space(s.back());
}

Value ToInt(const Value& v, uint32_t pos) {
  switch (Vm::T(v)) {
    case T::kError:
    case T::kInt: return v;
    case T::kUint:
      if (Vm::U(v) > static_cast<uint64_t>(INT64_MAX)) return Vm::MakeError(kIntOverflow, pos);
      return Vm::MakeInt(static_cast<int64_t>(Vm::U(v)));
    case T::kDouble: {
      double d = Vm::D(v);
      // CEL: the open range (minInt, maxInt).
      if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0)) {
        return Vm::MakeError(kIntRange, pos);
      }
      return Vm::MakeInt(static_cast<int64_t>(d));
    }
    case T::kString: {
      int64_t out;
      std::string_view s = Vm::S(v);
      if (!Unpadded(s) || !absl::SimpleAtoi(AbslView(s), &out)) {
        return Vm::MakeError(kBadConversion, pos);
      }
      return Vm::MakeInt(out);
    }
    case T::kTimestamp: return Vm::MakeInt(Vm::I(v));
    default: return Vm::MakeError(kNoOverload, pos);
  }
}

Value ToUint(const Value& v, uint32_t pos) {
  switch (Vm::T(v)) {
    case T::kError:
    case T::kUint: return v;
    case T::kInt:
      if (Vm::I(v) < 0) return Vm::MakeError(kUintRange, pos);
      return Vm::MakeUint(static_cast<uint64_t>(Vm::I(v)));
    case T::kDouble: {
      double d = Vm::D(v);
      if (!(d > -1.0 && d < 18446744073709551616.0)) return Vm::MakeError(kUintRange, pos);
      return Vm::MakeUint(static_cast<uint64_t>(d));
    }
    case T::kString: {
      uint64_t out;
      std::string_view s = Vm::S(v);
      if (!Unpadded(s) || s[0] == '+' || s[0] == '-' || !absl::SimpleAtoi(AbslView(s), &out)) {
        return Vm::MakeError(kBadConversion, pos);
      }
      return Vm::MakeUint(out);
    }
    default: return Vm::MakeError(kNoOverload, pos);
  }
}

Value ToDouble(const Value& v, uint32_t pos) {
  switch (Vm::T(v)) {
    case T::kError:
    case T::kDouble: return v;
    case T::kInt: return Vm::MakeDouble(static_cast<double>(Vm::I(v)));
    case T::kUint: return Vm::MakeDouble(static_cast<double>(Vm::U(v)));
    case T::kString: {
      double out;
      std::string_view s = Vm::S(v);
      if (!Unpadded(s) || !absl::SimpleAtod(AbslView(s), &out)) {
        return Vm::MakeError(kBadConversion, pos);
      }
      return Vm::MakeDouble(out);
    }
    default: return Vm::MakeError(kNoOverload, pos);
  }
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (n < 0) return false;
    uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += static_cast<size_t>(n) + 1;
  }
  return true;
}

// Text made on the C stack, then copied to the scratch space.
Value ScratchString(std::string_view text, uint32_t pos, Activation::Scratch& scratch) {
  char* out = scratch.Allocate(text.size());
  if (out == nullptr) return Vm::MakeError(kScratchFull, pos);
  if (!text.empty()) std::memcpy(out, text.data(), text.size());
  return Vm::MakeString(out, text.size());
}

Value ToString(const Value& v, uint32_t pos, Activation::Scratch& scratch) {
  char buf[64];
  switch (Vm::T(v)) {
    case T::kError:
    case T::kString: return v;
    case T::kBool: return Vm::B(v) ? Vm::MakeString("true", 4) : Vm::MakeString("false", 5);
    case T::kInt: {
      auto r = fmt::format_to_n(buf, sizeof(buf), "{}", Vm::I(v));
      return ScratchString(std::string_view(buf, r.size), pos, scratch);
    }
    case T::kUint: {
      auto r = fmt::format_to_n(buf, sizeof(buf), "{}", Vm::U(v));
      return ScratchString(std::string_view(buf, r.size), pos, scratch);
    }
    case T::kDouble: {
      double d = Vm::D(v);
      if (std::isnan(d)) return Vm::MakeString("NaN", 3);
      if (std::isinf(d)) return d > 0 ? Vm::MakeString("+Inf", 4) : Vm::MakeString("-Inf", 4);
      auto r = fmt::format_to_n(buf, sizeof(buf), "{}", d);
      return ScratchString(std::string_view(buf, r.size), pos, scratch);
    }
    case T::kBytes:
      if (!ValidUtf8(Vm::S(v))) return Vm::MakeError(kInvalidUtf8, pos);
      return Vm::MakeString(Vm::S(v).data(), Vm::S(v).size());
    case T::kTimestamp: {
      size_t n = FormatRfc3339(Vm::I(v), Vm::Aux32(v), buf);
      return ScratchString(std::string_view(buf, n), pos, scratch);
    }
    case T::kDuration: {
      int64_t nanos = Vm::I(v);
      unsigned __int128 mag = nanos < 0 ? -static_cast<__int128>(nanos) : nanos;
      uint64_t secs = static_cast<uint64_t>(mag / kNanosPerSecond);
      uint64_t frac = static_cast<uint64_t>(mag % kNanosPerSecond);
      auto r = fmt::format_to_n(buf, sizeof(buf), "{}{}", nanos < 0 ? "-" : "", secs);
      size_t n = r.size;
      if (frac != 0) {
        auto f = fmt::format_to_n(buf + n, sizeof(buf) - n, ".{:09d}", frac);
        n += f.size;
        while (buf[n - 1] == '0') --n;
      }
      buf[n++] = 's';
      return ScratchString(std::string_view(buf, n), pos, scratch);
    }
    default: return Vm::MakeError(kNoOverload, pos);
  }
}

Value ToBool(const Value& v, uint32_t pos) {
  if (Vm::T(v) == T::kError || Vm::T(v) == T::kBool) return v;
  if (Vm::T(v) != T::kString) return Vm::MakeError(kNoOverload, pos);
  std::string_view s = Vm::S(v);
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") {
    return Vm::MakeBool(true);
  }
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    return Vm::MakeBool(false);
  }
  return Vm::MakeError(kBadConversion, pos);
}

Value ToTimestamp(const Value& v, uint32_t pos) {
  switch (Vm::T(v)) {
    case T::kError:
    case T::kTimestamp: return v;
    case T::kInt:
      if (Vm::I(v) < kMinTimestampSeconds || Vm::I(v) > kMaxTimestampSeconds) {
        return Vm::MakeError(kTimestampRange, pos);
      }
      return Vm::MakeTimestamp(Vm::I(v), 0);
    case T::kString: {
      int64_t seconds;
      int32_t nanos;
      if (!ParseRfc3339(Vm::S(v), &seconds, &nanos)) return Vm::MakeError(kBadConversion, pos);
      return Vm::MakeTimestamp(seconds, static_cast<uint32_t>(nanos));
    }
    default: return Vm::MakeError(kNoOverload, pos);
  }
}

Value ToDuration(const Value& v, uint32_t pos) {
  switch (Vm::T(v)) {
    case T::kError:
    case T::kDuration: return v;
    case T::kString: {
      int64_t nanos;
      if (!ParseCelDuration(Vm::S(v), &nanos)) return Vm::MakeError(kBadConversion, pos);
      return Vm::MakeDuration(nanos);
    }
    default: return Vm::MakeError(kNoOverload, pos);
  }
}

Value TypeOf(const Value& v) {
  switch (Vm::T(v)) {
    case T::kError: return v;
    case T::kNull: return Vm::MakeType("null_type");
    case T::kStringList:
    case T::kList: return Vm::MakeType("list");
    case T::kTimestamp: return Vm::MakeType("google.protobuf.Timestamp");
    case T::kDuration: return Vm::MakeType("google.protobuf.Duration");
    default: return Vm::MakeType(TypeName(Vm::T(v)));
  }
}

[[gnu::noinline, gnu::cold]] Value Convert(const Value& v, uint8_t kind, uint32_t pos, Activation::Scratch& scratch) {
  switch (kind) {
    case kConvInt: return ToInt(v, pos);
    case kConvUint: return ToUint(v, pos);
    case kConvDouble: return ToDouble(v, pos);
    case kConvString: return ToString(v, pos, scratch);
    case kConvBytes:
      if (Vm::T(v) == T::kError || Vm::T(v) == T::kBytes) return v;
      if (Vm::T(v) != T::kString) return Vm::MakeError(kNoOverload, pos);
      return Vm::MakeBytes(Vm::S(v).data(), Vm::S(v).size());
    case kConvBool: return ToBool(v, pos);
    case kConvTimestamp: return ToTimestamp(v, pos);
    case kConvDuration: return ToDuration(v, pos);
    default: return TypeOf(v);
  }
}

Value Index(const Value& list, const Value& index, uint32_t pos) {
  if (Vm::T(list) == T::kError) return list;
  if (Vm::T(index) == T::kError) return index;
  if (Vm::T(list) == T::kMap) {
    const Value* found = MapFind(list, index);
    return found != nullptr ? *found : Vm::MakeError(kNoSuchKey, pos);
  }
  int64_t i;
  if (Vm::T(index) == T::kInt) {
    i = Vm::I(index);
  } else if (Vm::T(index) == T::kUint) {
    i = Vm::U(index) > UINT32_MAX ? -1 : static_cast<int64_t>(Vm::U(index));
  } else if (Vm::T(index) == T::kDouble) {
    double d = Vm::D(index);
    if (!(d >= 0 && d < 4294967296.0) || d != std::floor(d)) return Vm::MakeError(kIndexRange, pos);
    i = static_cast<int64_t>(d);
  } else {
    return Vm::MakeError(kNoOverload, pos);
  }
  if (!IsListType(Vm::T(list))) return Vm::MakeError(kNoOverload, pos);
  if (i < 0 || i >= static_cast<int64_t>(Vm::Aux32(list))) return Vm::MakeError(kIndexRange, pos);
  if (Vm::T(list) == T::kList) return Vm::ListData(list)[i];
  std::string_view s = Vm::StringListData(list)[i];
  return Vm::MakeString(s.data(), s.size());
}

inline Value LoadSlot(const Value* slots, uint32_t slot, const ProgramImpl& p, uint32_t message,
                      uint32_t pos) {
  const Value& v = slots[slot];
  if (Vm::IsAbsent(v)) return Vm::MakeError(p.message_text[message], pos);
  return v;
}

// The i-th element of a list (or list of strings).
inline Value ElementAt(const Value& list, uint32_t i) {
  if (Vm::T(list) == T::kList) return Vm::ListData(list)[i];
  std::string_view s = Vm::StringListData(list)[i];
  return Vm::MakeString(s.data(), s.size());
}

// Builds a list or map from the n stack values at `first` (errors propagate).
[[gnu::noinline, gnu::cold]] Value MakeContainer(const Value* first, uint32_t n, bool map, uint32_t pos,
                    Activation::Scratch& scratch) {
  for (uint32_t i = 0; i < n; ++i) {
    if (Vm::T(first[i]) == T::kError) return first[i];
  }
  if (map) {
    for (uint32_t i = 0; i < n; i += 2) {
      T t = Vm::T(first[i]);
      if (t != T::kString && t != T::kInt && t != T::kUint && t != T::kBool) {
        return Vm::MakeError(kBadKey, pos);
      }
      for (uint32_t j = 0; j < i; j += 2) {
        if (Order(first[i], first[j]) == Ord::kEqual) return Vm::MakeError(kRepeatedKey, pos);
      }
    }
  }
  Value* out = scratch.AllocateValues(n);
  if (out == nullptr) return Vm::MakeError(kScratchFull, pos);
  for (uint32_t i = 0; i < n; ++i) out[i] = first[i];
  return map ? Vm::MakeMap(out, n / 2) : Vm::MakeList(out, n);
}

// The accumulator a comprehension starts from; an error when the range is
// not iterable.
[[gnu::noinline, gnu::cold]] Value IterStart(const Value& range, uint8_t kind, uint32_t pos, Activation::Scratch& scratch) {
  T t = Vm::T(range);
  if (t == T::kError) return range;
  if (t != T::kList && t != T::kStringList && t != T::kMap) return Vm::MakeError(kNoOverload, pos);
  switch (kind) {
    case kIterAll: return Vm::MakeBool(true);
    case kIterExists: return Vm::MakeBool(false);
    case kIterExistsOne: return Vm::MakeInt(0);
    default: {
      size_t n = Vm::Aux32(range) * (kind == kIterTransformMap ? 2u : 1u);
      Value* out = scratch.AllocateValues(n);
      if (out == nullptr) return Vm::MakeError(kScratchFull, pos);
      return kind == kIterTransformMap ? Vm::MakeMap(out, 0) : Vm::MakeList(out, 0);
    }
  }
}

// Folds one value of a comprehension's body into its accumulator; true when
// the result is decided (stop iterating).
bool IterFold(Value& acc, const Value& v, uint8_t kind, const Value& var1, uint32_t pos) {
  bool is_bool = Vm::T(v) == T::kBool;
  switch (kind) {
    case kIterAll:
    case kIterExists: {
      bool decisive = kind == kIterExists;  // exists: true decides; all: false
      if (is_bool) {
        if (Vm::B(v) == decisive) {
          acc = v;
          return true;
        }
        return false;
      }
      // An error is kept unless another element decides (CEL's && / ||).
      if (Vm::T(acc) != T::kError) acc = Vm::T(v) == T::kError ? v : Vm::MakeError(kNoOverload, pos);
      return false;
    }
    case kIterExistsOne:
      if (!is_bool) {
        acc = Vm::T(v) == T::kError ? v : Vm::MakeError(kNoOverload, pos);
        return true;
      }
      if (Vm::B(v)) acc = Vm::MakeInt(Vm::I(acc) + 1);
      return false;
    case kIterFilter:
      if (!is_bool) {
        acc = Vm::T(v) == T::kError ? v : Vm::MakeError(kNoOverload, pos);
        return true;
      }
      if (Vm::B(v)) {
        Vm::MutableData(acc)[Vm::Aux32(acc)] = var1;
        Vm::SetCount(acc, Vm::Aux32(acc) + 1);
      }
      return false;
    case kIterMap:
      if (Vm::T(v) == T::kError) {
        acc = v;
        return true;
      }
      Vm::MutableData(acc)[Vm::Aux32(acc)] = v;
      Vm::SetCount(acc, Vm::Aux32(acc) + 1);
      return false;
    default: {  // kIterTransformMap
      if (Vm::T(v) == T::kError) {
        acc = v;
        return true;
      }
      Value* kv = Vm::MutableData(acc) + 2 * Vm::Aux32(acc);
      kv[0] = var1;
      kv[1] = v;
      Vm::SetCount(acc, Vm::Aux32(acc) + 1);
      return false;
    }
  }
}

}  // namespace

Vm::Step Vm::RunContainerOp(const Instr& in, Value* top, const Instr* ip, const Instr* code,
                            const Value* consts, Value* locals, Activation::Scratch& scratch) {
  switch (in.op) {
      case Opcode::kMakeList:
      case Opcode::kMakeMap: {
        uint32_t n = in.op == Opcode::kMakeMap ? 2 * in.a : in.a;
        Value* first = top - n + 1;
        Value made = MakeContainer(first, n, in.op == Opcode::kMakeMap, in.pos, scratch);
        top = first;
        *top = made;
        break;
      }
      case Opcode::kSelectField:
      case Opcode::kHasField: {
        Value& v = *top;
        if (T(v) == Type::kError) break;
        if (T(v) != Type::kMap) {
          v = MakeError(kNoOverload, in.pos);
          break;
        }
        const Value* found = MapFind(v, consts[in.a]);
        if (in.op == Opcode::kHasField) {
          v = MakeBool(found != nullptr);
        } else {
          v = found != nullptr ? *found : MakeError(kNoSuchKey, in.pos);
        }
        break;
      }
      case Opcode::kLoadLocal:
        *++top = locals[in.a];
        break;
      case Opcode::kConvert:
        *top = Convert(*top, in.sub, in.pos, scratch);
        break;
      case Opcode::kIterInit: {
        Value acc = IterStart(*top, in.sub, in.pos, scratch);
        if (T(acc) == Type::kError) {
          *top = acc;
          ip = code + in.a;
          break;
        }
        *++top = MakeInt(0);
        *++top = acc;
        break;
      }
      case Opcode::kIterNext: {
        const Value& range = top[-2];
        Value& position = top[-1];
        uint32_t i = static_cast<uint32_t>(I(position));
        if (i >= Aux32(range)) {
          ip = code + in.jump;
          break;
        }
        if (T(range) == Type::kMap) {
          const Value* kv = ListData(range) + 2 * i;
          locals[in.a] = kv[0];
          if (in.b != kNoLocal) locals[in.b] = kv[1];
        } else if (in.b != kNoLocal) {
          locals[in.a] = MakeInt(i);
          locals[in.b] = ElementAt(range, i);
        } else {
          locals[in.a] = ElementAt(range, i);
        }
        position = MakeInt(i + 1);
        break;
      }
      case Opcode::kIterFilter: {
        Value keep = *top--;
        if (T(keep) == Type::kBool) {
          if (!B(keep)) ip = code + in.a;
          break;
        }
        *top = T(keep) == Type::kError ? keep : MakeError(kNoOverload, in.pos);
        ip = code + in.b;
        break;
      }
      case Opcode::kIterStep: {
        Value v = *top--;
        bool done = IterFold(*top, v, in.sub, locals[in.c], in.pos);
        ip = code + (done ? in.b : in.a);
        break;
      }
      case Opcode::kIterEnd: {
        Value acc = *top;
        if (in.sub == kIterExistsOne && T(acc) == Type::kInt) acc = MakeBool(I(acc) == 1);
        top -= 2;
        *top = acc;
        break;
      }
    default:
      break;
  }
  return Step{top, ip};
}

namespace {

// The interpreter loop's opcode groups, always inlined into Vm::Run: they are
// named parts of the one loop, not calls (the loop is the targeting
// expressions' hot path).

// Delivers the bool-or-error result `r` of a fused test per in.logic: pushed,
// or the next operand of the && / || chain the test is part of, jumping past
// the chain once `r` decides it.
[[gnu::always_inline]] inline void Deliver(const Instr& in, const Value r, Value*& top,
                                           const Instr*& ip, const Instr* code) {
  switch (in.logic) {
    case kLogicPush:
      *++top = r;
      break;
    case kLogicAndFirst:
      *++top = r;
      if (Vm::T(r) == T::kBool && !Vm::B(r)) ip = code + in.jump;
      break;
    case kLogicOrFirst:
      *++top = r;
      if (Vm::T(r) == T::kBool && Vm::B(r)) ip = code + in.jump;
      break;
    case kLogicAndNext:
      if (Vm::T(r) == T::kBool) {
        if (!Vm::B(r)) {
          *top = r;
          ip = code + in.jump;
        }
      } else if (Vm::T(*top) != T::kError) {
        *top = r;
      }
      break;
    default:  // kLogicOrNext
      if (Vm::T(r) == T::kBool) {
        if (Vm::B(r)) {
          *top = r;
          ip = code + in.jump;
        }
      } else if (Vm::T(*top) != T::kError) {
        *top = r;
      }
      break;
  }
}

// The fused tests: each delivers its bool-or-error result where it is known,
// so that Deliver folds for the common, bool, results.

// kHas: whether the slot holds a value (an error in it is the result).
[[gnu::always_inline]] inline void FusedHas(const Instr& in, const Value* slots, Value*& top,
                                            const Instr*& ip, const Instr* code) {
  const Value& v = slots[in.a];
  if (Vm::IsAbsent(v)) {
    Deliver(in, Vm::MakeBool(false), top, ip, code);
  } else if (Vm::T(v) == T::kError) {
    Deliver(in, v, top, ip, code);
  } else {
    Deliver(in, Vm::MakeBool(true), top, ip, code);
  }
}

// kCmpConst: the top compared with a constant; int with int inline.
[[gnu::always_inline]] inline Value CmpConst(const Instr& in, const Value& v, const Value& c) {
  if (Vm::T(v) == T::kInt && Vm::T(c) == T::kInt) {
    return Vm::MakeBool(CmpOrdered(in.sub, Vm::I(v), Vm::I(c)));
  }
  return Compare(v, c, in.sub, in.pos);
}

// kCmpSlotConst: slot in.a compared with constant in.b. Same-typed ints,
// strings, bools and amounts of one scale inline; an absent slot is the
// program's message for it; the rest is Compare's.
[[gnu::always_inline]] inline void FusedCmpSlotConst(const Instr& in, const Value* slots,
                                                     const Value* consts, const ProgramImpl& p,
                                                     Value*& top, const Instr*& ip,
                                                     const Instr* code) {
  const Value& v = slots[in.a];
  const Value& c = consts[in.b];
  Type tv = Vm::T(v);
  if (tv == Vm::T(c)) {
    if (tv == T::kInt) {
      Deliver(in, Vm::MakeBool(CmpOrdered(in.sub, Vm::I(v), Vm::I(c))), top, ip, code);
      return;
    }
    if (tv == T::kString) {
      std::string_view x = Vm::S(v);
      std::string_view y = Vm::S(c);
      bool r;
      if (in.sub == kCmpEq) {
        r = StrEq(x, y);
      } else if (in.sub == kCmpNe) {
        r = !StrEq(x, y);
      } else {
        r = CmpOrdered(in.sub, StrCmp(x, y), 0);
      }
      Deliver(in, Vm::MakeBool(r), top, ip, code);
      return;
    }
    if (tv == T::kBool) {
      Deliver(in, Vm::MakeBool(CmpOrdered(in.sub, Vm::B(v), Vm::B(c))), top, ip, code);
      return;
    }
    if (tv == T::kMoney && Vm::Aux32(c) == 0 && Vm::Scale(v) == Vm::Scale(c)) {
      Deliver(in, Vm::MakeBool(CmpOrdered(in.sub, Vm::I(v), Vm::I(c))), top, ip, code);
      return;
    }
  }
  if (Vm::IsAbsent(v)) {
    Deliver(in, Vm::MakeError(p.message_text[in.c], in.pos), top, ip, code);
    return;
  }
  Deliver(in, Compare(v, c, in.sub, in.pos), top, ip, code);
}

// kInSlotConstList: slot in.a in constant list in.b; a string in a list of
// strings inline.
[[gnu::always_inline]] inline void FusedInSlotConstList(const Instr& in, const Value* slots,
                                                        const Value* consts, const ProgramImpl& p,
                                                        Value*& top, const Instr*& ip,
                                                        const Instr* code) {
  const Value& v = slots[in.a];
  const Value& list = consts[in.b];
  if (Vm::T(v) == T::kString && Vm::T(list) == T::kStringList) {
    Deliver(in, Vm::MakeBool(StringListHas(list, Vm::S(v))), top, ip, code);
    return;
  }
  if (Vm::IsAbsent(v)) {
    Deliver(in, Vm::MakeError(p.message_text[in.c], in.pos), top, ip, code);
  } else {
    Deliver(in, In(v, consts[in.b], in.pos), top, ip, code);
  }
}

// kConstInSlot: constant in.b in the list of slot in.a; a string in a list of
// strings inline.
[[gnu::always_inline]] inline void FusedConstInSlot(const Instr& in, const Value* slots,
                                                    const Value* consts, const ProgramImpl& p,
                                                    Value*& top, const Instr*& ip,
                                                    const Instr* code) {
  const Value& v = slots[in.a];
  const Value& needle = consts[in.b];
  if (Vm::T(v) == T::kStringList && Vm::T(needle) == T::kString) {
    Deliver(in, Vm::MakeBool(StringListHas(v, Vm::S(needle))), top, ip, code);
    return;
  }
  if (Vm::IsAbsent(v)) {
    Deliver(in, Vm::MakeError(p.message_text[in.c], in.pos), top, ip, code);
  } else {
    Deliver(in, In(consts[in.b], v, in.pos), top, ip, code);
  }
}

// kInElem: folds one element of an `x in [a, b, ...]` list into the
// accumulator below it (the first error, or true once an element equals x).
[[gnu::always_inline]] inline void InElem(const Instr& in, Value*& top) {
  Value element = *top--;
  Value& acc = *top;
  const Value& needle = top[-1];
  if (Vm::T(acc) == T::kError) return;
  if (Vm::T(element) == T::kError) {
    acc = element;
    return;
  }
  if (Vm::B(acc) || Vm::T(needle) == T::kError) return;
  Value eq = Compare(needle, element, kCmpEq, in.pos);
  if (Vm::T(eq) == T::kError || Vm::B(eq)) acc = eq;
}

// kAndFirst (`decides` false) / kOrFirst (true): the chain's first operand
// ends it when it decides it; a non-bool that is no error becomes one.
[[gnu::always_inline]] inline void LogicFirst(bool decides, const Instr& in, Value* top,
                                              const Instr*& ip, const Instr* code) {
  if (Vm::T(*top) == T::kBool) {
    if (Vm::B(*top) == decides) ip = code + in.a;
  } else if (Vm::T(*top) != T::kError) {
    *top = Vm::MakeError(kNotBool, in.pos);
  }
}

// kAndNext (`decides` false) / kOrNext (true): the chain's next operand, which
// ends it when it decides it; otherwise the first error stays the result.
[[gnu::always_inline]] inline void LogicNext(bool decides, const Instr& in, Value*& top,
                                             const Instr*& ip, const Instr* code) {
  Value b = *top--;
  if (Vm::T(b) == T::kBool) {
    if (Vm::B(b) == decides) {
      *top = b;
      ip = code + in.a;
    }
  } else if (Vm::T(*top) != T::kError) {
    *top = Vm::T(b) == T::kError ? b : Vm::MakeError(kNotBool, in.pos);
  }
}

// kCond: jumps to the else branch (in.a) on false; a non-bool condition is
// the result (jump to in.b, past both branches).
[[gnu::always_inline]] inline void Cond(const Instr& in, Value*& top, const Instr*& ip,
                                        const Instr* code) {
  Value c = *top--;
  if (Vm::T(c) == T::kBool) {
    if (!Vm::B(c)) ip = code + in.a;
  } else {
    *++top = Vm::T(c) == T::kError ? c : Vm::MakeError(kNotBool, in.pos);
    ip = code + in.b;
  }
}

// kMatches: whether the string matches the program's regex; errors pass.
[[gnu::always_inline]] inline Value Matches(const Value& v, const re2::RE2& regex, uint32_t pos) {
  if (Vm::T(v) == T::kError) return v;
  if (Vm::T(v) != T::kString) return Vm::MakeError(kNoOverload, pos);
  std::string_view s = Vm::S(v);
  return Vm::MakeBool(re2::RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), regex));
}

// The operators and functions over the values on the stack: arithmetic,
// strings, time parts, int and double conversions, indexing. A level below
// the loop's own dispatch (inlined), which keeps the targeting expressions'
// tests and logic together in Run.
[[gnu::always_inline]] inline Vm::Step RunValueOp(const Instr& in, Value* top, const Instr* ip,
                                                  const Instr* code, const ProgramImpl& p,
                                                  const Value* consts, Value* locals,
                                                  Activation::Scratch& scratch) {
  switch (in.op) {
    case Opcode::kArith: {
      Value rhs = *top--;
      *top = Arith(*top, rhs, in.sub, in.pos, scratch);
      break;
    }
    case Opcode::kNeg:
      *top = Negate(*top, in.pos);
      break;
    case Opcode::kSize:
      *top = Size(*top, in.pos);
      break;
    case Opcode::kStartsWith:
    case Opcode::kEndsWith:
    case Opcode::kContains: {
      Value arg = *top--;
      *top = StringTest(*top, arg, in.op, in.pos);
      break;
    }
    case Opcode::kMatches:
      *top = Matches(*top, *p.regexes[in.a], in.pos);
      break;
    case Opcode::kLowerAscii:
    case Opcode::kUpperAscii:
      *top = ChangeCase(*top, in.op == Opcode::kUpperAscii, in.pos, scratch);
      break;
    case Opcode::kTimePart:
      *top = TimePartOf(*top, in.sub, p.zones[in.a], in.pos);
      break;
    case Opcode::kDurationPart:
      *top = DurationPartOf(*top, in.sub, in.pos);
      break;
    case Opcode::kToInt:
      *top = ToInt(*top, in.pos);
      break;
    case Opcode::kToDouble:
      *top = ToDouble(*top, in.pos);
      break;
    case Opcode::kIndex: {
      Value index = *top--;
      *top = Index(*top, index, in.pos);
      break;
    }
    default:
      // Containers, macros and conversions: out of line, so that the loop
      // the targeting expressions run stays as small as before them.
      return Vm::RunContainerOp(in, top, ip, code, consts, locals, scratch);
  }
  return Vm::Step{top, ip};
}

}  // namespace

Value Vm::Run(const ProgramImpl& p, Activation& activation) {
  if (activation.slots_.size() < p.min_slots) return MakeError(kSmallActivation, 0);
  Activation::Scratch& scratch = *activation.scratch_;
  scratch.Reset();
  const Value* slots = activation.slots_.data();
  const Value* consts = p.consts.data();
  const Instr* code = p.code.data();
  // The stack is never read before it is written; skip initialising it.
  alignas(Value) unsigned char storage[sizeof(Value) * kMaxStack];
  Value* stack = reinterpret_cast<Value*>(storage);
  Value* top = stack - 1;
  const Instr* ip = code;
  // Macro variables live in the activation, keeping this frame small.
  Value* locals = scratch.locals;
  for (;;) {
    const Instr& in = *ip++;
    switch (in.op) {
      case Opcode::kConst:
        *++top = consts[in.a];
        break;
      case Opcode::kLoad:
        *++top = LoadSlot(slots, in.a, p, in.b, in.pos);
        break;
      case Opcode::kHas:
        FusedHas(in, slots, top, ip, code);
        break;
      case Opcode::kCmp: {
        Value rhs = *top--;
        *top = Compare(*top, rhs, in.sub, in.pos);
        break;
      }
      case Opcode::kCmpConst:
        *top = CmpConst(in, *top, consts[in.a]);
        break;
      case Opcode::kCmpSlotConst:
        FusedCmpSlotConst(in, slots, consts, p, top, ip, code);
        break;
      case Opcode::kInSlotConstList:
        FusedInSlotConstList(in, slots, consts, p, top, ip, code);
        break;
      case Opcode::kConstInSlot:
        FusedConstInSlot(in, slots, consts, p, top, ip, code);
        break;
      case Opcode::kIn: {
        Value list = *top--;
        *top = In(*top, list, in.pos);
        break;
      }
      case Opcode::kInBegin:
        *++top = MakeBool(false);
        break;
      case Opcode::kInElem:
        InElem(in, top);
        break;
      case Opcode::kInEnd: {
        Value acc = *top--;
        if (T(*top) != Type::kError) *top = acc;
        break;
      }
      case Opcode::kNot:
        if (T(*top) == Type::kBool) {
          *top = MakeBool(!B(*top));
        } else if (T(*top) != Type::kError) {
          *top = MakeError(kNoOverload, in.pos);
        }
        break;
      case Opcode::kAndFirst:
        LogicFirst(false, in, top, ip, code);
        break;
      case Opcode::kAndNext:
        LogicNext(false, in, top, ip, code);
        break;
      case Opcode::kOrFirst:
        LogicFirst(true, in, top, ip, code);
        break;
      case Opcode::kOrNext:
        LogicNext(true, in, top, ip, code);
        break;
      case Opcode::kCond:
        Cond(in, top, ip, code);
        break;
      case Opcode::kJump:
        ip = code + in.a;
        break;
      default: {
        // Operators and functions over values; below them, out of line,
        // containers, macros and conversions.
        Vm::Step next = RunValueOp(in, top, ip, code, p, consts, locals, scratch);
        top = next.top;
        ip = next.ip;
        break;
      }
      case Opcode::kReturn:
        return *top;
    }
  }
}

}  // namespace internal

// --- Program --------------------------------------------------------------------

namespace {

const std::string& EmptyString() {
  static const std::string* const kEmpty = new std::string();
  return *kEmpty;
}

const std::vector<Slot>& EmptySlots() {
  static const std::vector<Slot>* const kEmpty = new std::vector<Slot>();
  return *kEmpty;
}

}  // namespace

Value Program::Evaluate(Activation& activation) const {
  if (impl_ == nullptr) return internal::Vm::MakeError(internal::kEmptyProgram, 0);
  return internal::Vm::Run(*impl_, activation);
}

bool Program::Matches(Activation& activation, Value* error) const {
  Value v = Evaluate(activation);
  if (v.type() == Type::kBool) {
    if (error != nullptr) *error = Value::Null();
    return v.bool_value();
  }
  if (error != nullptr) {
    *error = v.is_error() ? v : internal::Vm::MakeError(internal::kNotBool, 0);
  }
  return false;
}

std::string Program::DescribeError(const Value& error, bool with_excerpt) const {
  if (!error.is_error()) return "";
  std::string_view src = impl_ == nullptr ? std::string_view() : std::string_view(impl_->source);
  return internal::FormatDiagnostic(src, error.error_offset(), error.error_reason(),
                                    with_excerpt);
}

Type Program::result_type() const {
  return impl_ == nullptr ? Type::kError : impl_->result_type;
}

const std::string& Program::source() const {
  return impl_ == nullptr ? EmptyString() : impl_->source;
}

const std::vector<Slot>& Program::slots() const {
  return impl_ == nullptr ? EmptySlots() : impl_->slots;
}

}  // namespace herald::expr

namespace herald::expr {

std::string Program::Disassemble() const {
  if (impl_ == nullptr) return "";
  static constexpr const char* kNames[] = {
      "const",      "load",       "has",         "cmp",        "cmp_const",
      "cmp_slot_const", "in_slot_const_list", "const_in_slot", "in", "in_begin", "in_elem",
      "in_end",     "arith",      "neg",         "not",        "and_first",
      "and_next",   "or_first",   "or_next",     "cond",       "jump",
      "size",       "starts_with", "ends_with",  "contains",   "matches",
      "lower_ascii", "upper_ascii", "time_part", "duration_part", "to_int",
      "to_double",  "index",      "make_list", "make_map",  "select_field",
      "has_field",  "load_local", "convert",   "iter_init", "iter_next",
      "iter_filter", "iter_step", "iter_end",  "return"};
  std::string out;
  for (size_t i = 0; i < impl_->code.size(); ++i) {
    const internal::Instr& in = impl_->code[i];
    Append(&out, i, ": ", kNames[static_cast<int>(in.op)], " a=", in.a, " b=", in.b,
           " sub=", static_cast<int>(in.sub), " logic=", static_cast<int>(in.logic),
           " jump=", in.jump, "\n");
  }
  return out;
}

}  // namespace herald::expr
