// Value, Money, Schema and Activation.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "expr/diagnostics.h"
#include "expr/strings.h"
#include "expr/time_text.h"
#include "expr/vm.h"
#include "fmt/format.h"
#include "herald/expr.h"
#include "herald/model/catalog.pb.h"

namespace herald::expr {

using internal::AbslView;
using internal::Append;
using internal::Cat;

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kError: return "error";
    case Type::kNull: return "null";
    case Type::kBool: return "bool";
    case Type::kInt: return "int";
    case Type::kDouble: return "double";
    case Type::kString: return "string";
    case Type::kMoney: return "money";
    case Type::kTimestamp: return "timestamp";
    case Type::kDuration: return "duration";
    case Type::kStringList: return "list(string)";
    case Type::kList: return "list";
    case Type::kUint: return "uint";
    case Type::kBytes: return "bytes";
    case Type::kMap: return "map";
    case Type::kType: return "type";
    case Type::kDyn: return "dyn";
  }
  return "unknown";
}

// --- Currency ---------------------------------------------------------------

Currency Currency::Of(std::string_view code) {
  Currency c;
  uint32_t packed = 0;
  for (size_t i = 0; i < 3 && i < code.size(); ++i) {
    packed |= static_cast<uint32_t>(static_cast<unsigned char>(
                  absl::ascii_toupper(static_cast<unsigned char>(code[i]))))
              << (8 * i);
  }
  c.packed_ = packed;
  return c;
}

std::string Currency::code() const {
  std::string out;
  for (int i = 0; i < 4; ++i) {
    char ch = static_cast<char>((packed_ >> (8 * i)) & 0xff);
    if (ch == 0) break;
    out.push_back(ch);
  }
  return out;
}

// --- Decimal text -------------------------------------------------------------

absl::StatusOr<Money> ParseDecimal(std::string_view text) {
  auto not_a_number = [&] {
    return absl::InvalidArgumentError(Cat("not a number: \"", text, "\""));
  };
  auto out_of_range = [&] {
    return absl::InvalidArgumentError(Cat("number out of range: \"", text, "\""));
  };
  absl::string_view stripped = absl::StripAsciiWhitespace(AbslView(text));
  std::string_view s(stripped.data(), stripped.size());
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  constexpr __int128 kLimit = static_cast<__int128>(1) << 100;
  __int128 mantissa = 0;
  int scale = 0;
  size_t i = 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    for (i = 2; i < s.size(); ++i) {
      char c = s[i];
      int v;
      if (c >= '0' && c <= '9') v = c - '0';
      else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
      else return not_a_number();
      mantissa = mantissa * 16 + v;
      if (mantissa > kLimit) return out_of_range();
    }
  } else {
    int digits = 0;
    bool seen_point = false;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (c >= '0' && c <= '9') {
        mantissa = mantissa * 10 + (c - '0');
        if (mantissa > kLimit) return out_of_range();
        ++digits;
        if (seen_point) ++scale;
      } else if (c == '.' && !seen_point) {
        seen_point = true;
      } else {
        break;
      }
    }
    if (digits == 0) return not_a_number();
    if (i < s.size()) {
      if (s[i] != 'e' && s[i] != 'E') return not_a_number();
      ++i;
      bool exp_negative = false;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        exp_negative = s[i] == '-';
        ++i;
      }
      if (i >= s.size()) return not_a_number();
      int exponent = 0;
      for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return not_a_number();
        exponent = exponent * 10 + (s[i] - '0');
        if (exponent > 1000) return out_of_range();
      }
      scale += exp_negative ? exponent : -exponent;
    }
  }
  while (scale < 0) {
    mantissa *= 10;
    ++scale;
    if (mantissa > kLimit) return out_of_range();
  }
  // Keep the written scale ("20.00" stays 2000 at scale 2) unless it is finer
  // than 18 digits and the extra digits are zeros.
  while (scale > 18 && (mantissa == 0 || mantissa % 10 == 0)) {
    mantissa /= 10;
    --scale;
  }
  if (scale > 18) {
    return absl::InvalidArgumentError(
        Cat("number has more than 18 decimals: \"", text, "\""));
  }
  if (mantissa > INT64_MAX) return out_of_range();
  Money m;
  m.minor_units = static_cast<int64_t>(negative ? -mantissa : mantissa);
  m.scale = scale;
  return m;
}

std::string FormatDecimal(const Money& amount) {
  int scale = std::clamp(amount.scale, 0, 18);
  __int128 v = amount.minor_units;
  bool negative = v < 0;
  if (negative) v = -v;
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  while (static_cast<int>(digits.size()) <= scale) digits.push_back('0');
  std::reverse(digits.begin(), digits.end());
  if (scale > 0) digits.insert(digits.end() - scale, '.');
  if (negative) digits.insert(digits.begin(), '-');
  return digits;
}

// --- Value --------------------------------------------------------------------

Value Value::Bool(bool v) {
  Value out;
  out.type_ = Type::kBool;
  out.i_ = 0;
  out.b_ = v;
  return out;
}
Value Value::Int(int64_t v) {
  Value out;
  out.type_ = Type::kInt;
  out.i_ = v;
  return out;
}
Value Value::Double(double v) {
  Value out;
  out.type_ = Type::kDouble;
  out.d_ = v;
  return out;
}
Value Value::String(std::string_view v) {
  Value out;
  out.type_ = Type::kString;
  out.s_ = v.data();
  out.aux32_ = static_cast<uint32_t>(std::min<size_t>(v.size(), 0xffffffffu));
  return out;
}
Value Value::FromMoney(Money v) {
  Value out;
  out.type_ = Type::kMoney;
  out.i_ = v.minor_units;
  out.aux8_ = static_cast<uint8_t>(std::clamp(v.scale, 0, 18));
  out.aux32_ = v.currency.packed();
  return out;
}
Value Value::Timestamp(absl::Time v) {
  Value out;
  out.type_ = Type::kTimestamp;
  int64_t seconds = absl::ToUnixSeconds(v);  // floors
  out.i_ = seconds;
  out.aux32_ = static_cast<uint32_t>(
      absl::ToInt64Nanoseconds(v - absl::FromUnixSeconds(seconds)));
  return out;
}
Value Value::Duration(absl::Duration v) {
  Value out;
  out.type_ = Type::kDuration;
  out.i_ = absl::ToInt64Nanoseconds(v);  // saturates
  return out;
}
Value Value::StringList(absl::Span<const std::string_view> v) {
  Value out;
  out.type_ = Type::kStringList;
  out.sl_ = v.data();
  out.aux32_ = static_cast<uint32_t>(std::min<size_t>(v.size(), 0xffffffffu));
  return out;
}
Value Value::List(absl::Span<const Value> v) {
  Value out;
  out.type_ = Type::kList;
  out.l_ = v.data();
  out.aux32_ = static_cast<uint32_t>(std::min<size_t>(v.size(), 0xffffffffu));
  return out;
}
Value Value::Uint(uint64_t v) {
  Value out;
  out.type_ = Type::kUint;
  out.i_ = static_cast<int64_t>(v);
  return out;
}
Value Value::Bytes(std::string_view v) {
  Value out = String(v);
  out.type_ = Type::kBytes;
  return out;
}
Value Value::Map(absl::Span<const Value> key_value_pairs) {
  Value out;
  out.type_ = Type::kMap;
  out.l_ = key_value_pairs.data();
  out.aux32_ = static_cast<uint32_t>(std::min<size_t>(key_value_pairs.size() / 2, 0x7fffffffu));
  return out;
}
Value Value::TypeValue(std::string_view name) {
  Value out = String(name);
  out.type_ = Type::kType;
  return out;
}
Value Value::Error(const char* reason, uint32_t source_offset) {
  Value out;
  out.type_ = Type::kError;
  out.s_ = reason;
  out.aux32_ = source_offset;
  return out;
}

std::string_view Value::string_value() const {
  if (type_ != Type::kString) return {};
  return std::string_view(s_, aux32_);
}
Money Value::money_value() const {
  if (type_ != Type::kMoney) return Money{0, 0, Currency()};
  Money m;
  m.minor_units = i_;
  m.scale = aux8_;
  m.currency = Currency::FromPacked(aux32_);
  return m;
}
absl::Time Value::timestamp_value() const {
  if (type_ != Type::kTimestamp) return absl::UnixEpoch();
  return absl::FromUnixSeconds(i_) + absl::Nanoseconds(aux32_);
}
absl::Duration Value::duration_value() const {
  if (type_ != Type::kDuration) return absl::ZeroDuration();
  return absl::Nanoseconds(i_);
}
absl::Span<const std::string_view> Value::string_list() const {
  if (type_ != Type::kStringList) return {};
  return absl::Span<const std::string_view>(sl_, aux32_);
}
absl::Span<const Value> Value::list_values() const {
  if (type_ != Type::kList) return {};
  return absl::Span<const Value>(l_, aux32_);
}
std::string_view Value::bytes_value() const {
  if (type_ != Type::kBytes) return {};
  return std::string_view(s_, aux32_);
}
absl::Span<const Value> Value::map_entries() const {
  if (type_ != Type::kMap) return {};
  return absl::Span<const Value>(l_, size_t{aux32_} * 2);
}
std::string_view Value::type_name() const {
  if (type_ != Type::kType) return {};
  return std::string_view(s_, aux32_);
}
std::string_view Value::error_reason() const {
  if (type_ != Type::kError) return {};
  if (s_ == nullptr) return aux16_ == 1 ? "absent" : "error";
  return s_;
}

namespace {

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string FormatTimestamp(absl::Time t) {
  char buf[internal::kMaxRfc3339Size];
  int64_t seconds = absl::ToUnixSeconds(t);
  uint32_t nanos = static_cast<uint32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds)));
  return std::string(buf, internal::FormatRfc3339(seconds, nanos, buf));
}

std::string FormatDurationSeconds(int64_t nanos) {
  // CEL renders durations in seconds with a fraction: "5400s", "1.5s".
  bool negative = nanos < 0;
  unsigned __int128 v = negative ? -static_cast<__int128>(nanos) : nanos;
  uint64_t seconds = static_cast<uint64_t>(v / 1000000000);
  uint64_t frac = static_cast<uint64_t>(v % 1000000000);
  std::string out = Cat(negative ? "-" : "", seconds);
  if (frac != 0) {
    std::string f = fmt::format("{:09d}", frac);
    while (!f.empty() && f.back() == '0') f.pop_back();
    Append(&out, ".", f);
  }
  out.push_back('s');
  return out;
}

std::string Render(const Value& v, bool json) {
  switch (v.type()) {
    case Type::kError:
      return json ? Cat("{\"error\":", Quote(v.error_reason()), "}")
                  : Cat("error(", v.error_reason(), ")");
    case Type::kNull: return "null";
    case Type::kBool: return v.bool_value() ? "true" : "false";
    case Type::kInt: return Cat(v.int_value());
    case Type::kDouble: {
      std::string s = FormatDouble(v.double_value());
      if (json && (std::isnan(v.double_value()) || std::isinf(v.double_value()))) {
        return Quote(s);
      }
      return s;
    }
    case Type::kString: return Quote(v.string_value());
    case Type::kMoney: {
      Money m = v.money_value();
      std::string amount = FormatDecimal(m);
      if (json) {
        return Cat("{\"amount\":", Quote(amount), ",\"currency\":",
                            Quote(m.currency.code()), "}");
      }
      return m.currency.empty() ? amount : Cat(amount, " ", m.currency.code());
    }
    case Type::kTimestamp: {
      std::string s = FormatTimestamp(v.timestamp_value());
      return json ? Quote(s) : Cat("timestamp(\"", s, "\")");
    }
    case Type::kDuration: {
      std::string s = FormatDurationSeconds(absl::ToInt64Nanoseconds(v.duration_value()));
      return json ? Quote(s) : Cat("duration(\"", s, "\")");
    }
    case Type::kStringList: {
      std::vector<std::string> parts;
      for (std::string_view s : v.string_list()) parts.push_back(Quote(s));
      return Cat("[", absl::StrJoin(parts, json ? "," : ", "), "]");
    }
    case Type::kList: {
      std::vector<std::string> parts;
      for (const Value& e : v.list_values()) parts.push_back(Render(e, json));
      return Cat("[", absl::StrJoin(parts, json ? "," : ", "), "]");
    }
    case Type::kUint: return json ? Cat(v.uint_value()) : Cat(v.uint_value(), "u");
    case Type::kBytes: {
      if (json) return Quote(v.bytes_value());
      std::string out = "b\"";
      for (unsigned char c : v.bytes_value()) {
        if (c == '"' || c == '\\') {
          Append(&out, "\\", static_cast<char>(c));
        } else if (c >= 0x20 && c < 0x7f) {
          out.push_back(static_cast<char>(c));
        } else {
          out += fmt::format("\\x{:02x}", c);
        }
      }
      out.push_back('"');
      return out;
    }
    case Type::kMap: {
      std::vector<std::string> parts;
      absl::Span<const Value> kv = v.map_entries();
      for (size_t i = 0; i + 1 < kv.size(); i += 2) {
        std::string key = Render(kv[i], json);
        if (json && kv[i].type() != Type::kString) key = Quote(key);
        parts.push_back(Cat(key, json ? ":" : ": ", Render(kv[i + 1], json)));
      }
      return Cat("{", absl::StrJoin(parts, json ? "," : ", "), "}");
    }
    case Type::kType: return json ? Quote(v.type_name()) : std::string(v.type_name());
    case Type::kDyn: return "dyn";
  }
  return "?";
}

}  // namespace

std::string Value::DebugString() const { return Render(*this, false); }
std::string Value::JsonString() const { return Render(*this, true); }

// --- Schema -------------------------------------------------------------------

namespace {

bool IsIdentifier(std::string_view s, bool allow_reserved) {
  if (s.empty()) return false;
  if (!(absl::ascii_isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  if (allow_reserved) return true;
  static constexpr std::string_view kReserved[] = {
      "true", "false", "null", "in", "as", "break", "const", "continue", "else",
      "for", "function", "if", "import", "let", "loop", "package", "namespace",
      "return", "var", "void", "while"};
  for (std::string_view r : kReserved) {
    if (s == r) return false;
  }
  return true;
}

}  // namespace

Schema Schema::WithBuiltins() {
  Schema s;
  static constexpr std::pair<std::string_view, Type> kBuiltins[] = {
      {"product.id", Type::kString},      {"product.category", Type::kString},
      {"product.price", Type::kMoney},    {"product.quantity", Type::kInt},
      {"basket.subtotal", Type::kMoney},  {"basket.currency", Type::kString},
      {"basket.item_count", Type::kInt},  {"basket.quantity", Type::kInt},
      {"now", Type::kTimestamp},
  };
  for (const auto& [path, type] : kBuiltins) (void)s.Declare(path, type);
  return s;
}

absl::StatusOr<Schema> Schema::FromPairs(
    absl::Span<const std::pair<std::string_view, Type>> pairs) {
  Schema s;
  for (const auto& [path, type] : pairs) {
    absl::StatusOr<Slot> slot = s.Declare(path, type);
    if (!slot.ok()) return slot.status();
  }
  return s;
}

absl::StatusOr<Slot> Schema::Declare(std::string_view path, Type type) {
  Type elem = Type::kDyn;
  if (type == Type::kStringList) elem = Type::kString;
  return DeclareVariable(Variable{std::string(path), type, Type::kDyn, elem});
}

absl::StatusOr<Slot> Schema::DeclareList(std::string_view path, Type elem) {
  if (elem == Type::kError || elem == Type::kNull) {
    return absl::InvalidArgumentError(
        Cat("variable ", path, " cannot be a list of ", TypeName(elem)));
  }
  // A list of strings supplied by the caller is the borrowed kStringList.
  if (elem == Type::kString) return Declare(path, Type::kStringList);
  return DeclareVariable(Variable{std::string(path), Type::kList, Type::kDyn, elem});
}

absl::StatusOr<Slot> Schema::DeclareMap(std::string_view path, Type key, Type value) {
  if (key != Type::kString && key != Type::kInt && key != Type::kUint && key != Type::kBool &&
      key != Type::kDyn) {
    return absl::InvalidArgumentError(Cat("variable ", path, ": a map key cannot be ",
                                          TypeName(key), " (bool, int, uint or string)"));
  }
  if (value == Type::kError || value == Type::kNull) {
    return absl::InvalidArgumentError(
        Cat("variable ", path, ": a map value cannot be ", TypeName(value)));
  }
  return DeclareVariable(Variable{std::string(path), Type::kMap, key, value});
}

absl::StatusOr<Slot> Schema::DeclareVariable(Variable variable) {
  std::string_view path = variable.path;
  Type type = variable.type;
  if (type == Type::kError || type == Type::kNull || type == Type::kType) {
    return absl::InvalidArgumentError(
        Cat("variable ", path, " cannot be declared with type ", TypeName(type)));
  }
  std::vector<std::string_view> parts = internal::Split(path, '.');
  const bool cel = rules_ == NameRules::kCel;
  for (std::string_view part : parts) {
    if (!IsIdentifier(part, /*allow_reserved=*/cel)) {
      return absl::InvalidArgumentError(Cat(
          "invalid variable path \"", path,
          "\": each dotted part must be an identifier (not a reserved word)"));
    }
  }
  if (auto it = index_.find(std::string(path)); it != index_.end()) {
    const Variable& existing = variables_[it->second];
    if (existing.type != type || existing.key != variable.key || existing.elem != variable.elem) {
      return absl::AlreadyExistsError(Cat("variable ", path, " is already declared as ",
                                                   TypeName(existing.type), ", not ",
                                                   TypeName(type)));
    }
    return Slot{it->second};
  }
  if (!cel) {
    if (absl::Status s = CheckNoOverlap(path, parts); !s.ok()) return s;
  }
  if (variables_.size() >= 0xfffffffe) {
    return absl::ResourceExhaustedError("too many variables");
  }
  uint32_t index = static_cast<uint32_t>(variables_.size());
  index_.emplace(std::string(path), index);
  variables_.push_back(std::move(variable));
  return Slot{index};
}

// Herald's rule: no declared path is a prefix of another, so that "user" and
// "user.age" cannot both be values and every path reads one way.
absl::Status Schema::CheckNoOverlap(std::string_view path,
                                    const std::vector<std::string_view>& parts) const {
  std::string prefix;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (i > 0) prefix.push_back('.');
    prefix.append(parts[i]);
    if (index_.contains(prefix)) {
      return absl::InvalidArgumentError(Cat(
          "variable ", path, " is inside ", prefix, ", which is declared as a value"));
    }
  }
  std::string as_prefix = Cat(path, ".");
  for (const Variable& v : variables_) {
    if (v.path.starts_with(as_prefix)) {
      return absl::InvalidArgumentError(Cat(
          "variable ", path, " would hide the declared ", v.path));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Slot> Schema::DeclareAttribute(std::string_view root,
                                              const herald::v1::AttributeDecl& decl) {
  Type type;
  switch (decl.type()) {
    case herald::v1::VALUE_TYPE_STRING: type = Type::kString; break;
    case herald::v1::VALUE_TYPE_INT: type = Type::kInt; break;
    case herald::v1::VALUE_TYPE_DOUBLE: type = Type::kDouble; break;
    case herald::v1::VALUE_TYPE_BOOL: type = Type::kBool; break;
    case herald::v1::VALUE_TYPE_MONEY: type = Type::kMoney; break;
    case herald::v1::VALUE_TYPE_TIMESTAMP: type = Type::kTimestamp; break;
    case herald::v1::VALUE_TYPE_STRING_LIST: type = Type::kStringList; break;
    case herald::v1::VALUE_TYPE_MAP: {
      Type value;
      switch (decl.map_value_type()) {
        case herald::v1::VALUE_TYPE_STRING: value = Type::kString; break;
        case herald::v1::VALUE_TYPE_INT: value = Type::kInt; break;
        case herald::v1::VALUE_TYPE_DOUBLE: value = Type::kDouble; break;
        case herald::v1::VALUE_TYPE_BOOL: value = Type::kBool; break;
        default:
          return absl::InvalidArgumentError(
              Cat("attribute ", root, ".", decl.name(),
                  ": a map needs map_value_type VALUE_TYPE_STRING, _INT, _DOUBLE or _BOOL"));
      }
      return DeclareMap(Cat(root, ".", decl.name()), Type::kString, value);
    }
    default:
      return absl::InvalidArgumentError(Cat(
          "attribute ", root, ".", decl.name(), " has no type (set type: VALUE_TYPE_...)"));
  }
  return Declare(Cat(root, ".", decl.name()), type);
}

Slot Schema::Find(std::string_view path) const {
  auto it = index_.find(std::string(path));
  if (it == index_.end()) return Slot{};
  return Slot{it->second};
}

absl::StatusOr<Slot> Schema::Resolve(std::string_view path) const {
  Slot slot = Find(path);
  if (slot.valid()) return slot;
  std::vector<std::string_view> names;
  names.reserve(variables_.size());
  for (const Variable& v : variables_) names.push_back(v.path);
  std::string_view near = internal::NearestName(path, names);
  if (near.empty()) return absl::NotFoundError(Cat("unknown variable ", path));
  return absl::NotFoundError(
      Cat("unknown variable ", path, "; did you mean ", near, "?"));
}

// --- Activation ---------------------------------------------------------------

Activation::Activation(const Schema& schema) : Activation(schema.size()) {}

Activation::Activation(size_t slot_count)
    : slots_(slot_count, internal::Vm::Absent()),
      scratch_(std::make_unique<Scratch>()) {}

Activation::Activation(Activation&&) noexcept = default;
Activation& Activation::operator=(Activation&&) noexcept = default;
Activation::~Activation() = default;

void Activation::Unset(Slot slot) {
  if (slot.index < slots_.size()) slots_[slot.index] = internal::Vm::Absent();
}

void Activation::Clear() {
  std::fill(slots_.begin(), slots_.end(), internal::Vm::Absent());
}

bool Activation::has(Slot slot) const {
  return slot.index < slots_.size() && !internal::Vm::IsAbsent(slots_[slot.index]);
}

Value Activation::Get(Slot slot) const {
  if (slot.index >= slots_.size()) return internal::Vm::Absent();
  return slots_[slot.index];
}

}  // namespace herald::expr
