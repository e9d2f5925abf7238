// herald/expr.h: Herald's expression language, a typed and compiled subset of
// Google's Common Expression Language (CEL).
//
// Target groups, discount conditions, awards, eligibility and happy hours are
// expressions over the user's profile (`user.*`), the request context
// (`context.*`), the product (`product.*`), the basket (`basket.*`) and the
// time (`now`). A Schema declares which variables exist and their types; each
// declared variable gets a dense Slot. Compile() parses an expression,
// type-checks it against the schema and produces a Program: flat bytecode whose
// evaluation does no string lookups and allocates nothing. The caller fills an
// Activation by slot (strings and lists are borrowed, an unset slot is absent)
// and evaluates the program against it. See docs/expressions.md for the
// language itself.
//
//   expr::Schema schema = expr::Schema::WithBuiltins();
//   expr::Slot age = *schema.Declare("user.age", expr::Type::kInt);
//   absl::StatusOr<expr::Program> program =
//       expr::CompileFilter("user.age >= 21 && product.price > 20.00", schema);
//   if (!program.ok()) return program.status();   // "1:6: unknown field ..."
//   expr::Activation activation(schema);           // once per thread
//   activation.Set(age, expr::Value::Int(30));     // per request, no allocation
//   expr::Value why;
//   bool hit = program->Matches(activation, &why); // an error value is false
//
// Errors: Compile returns InvalidArgument for syntax and type errors and
// ResourceExhausted beyond the limits of CompileOptions; the message starts
// with "line:column: ", then a newline, the source line and a caret under the
// column. Evaluation never fails with a Status: like CEL it yields an error
// Value (overflow, division by zero, an absent attribute...) whose reason
// Program::DescribeError() turns into "1:1: user.age is not set".
//
// Lifetime: a Program is self-contained (it copies what it needs from the
// Schema) and cheap to copy (it shares immutable state). Values are borrowed
// views: a string or list Value points into memory owned by the caller, by the
// Program (literals, error reasons) or by the Activation's scratch space
// (strings computed by lowerAscii or `+`, valid until the next Evaluate on that
// Activation).
// Thread-safety: Schema and Program are immutable once built and safe to share
// between threads; Compile is thread-safe. An Activation is not: give each
// thread its own and reuse it across evaluations.
#ifndef HERALD_EXPR_H_
#define HERALD_EXPR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace herald::v1 {
class AttributeDecl;
}  // namespace herald::v1

namespace herald::expr {

namespace internal {
struct ProgramImpl;
struct Vm;
}  // namespace internal

// The static and dynamic types of the language. kError is the type of an error
// value only: no expression is declared with it.
enum class Type : uint8_t {
  kError = 0,
  kNull,
  kBool,
  kInt,         // int64; overflow is an error
  kDouble,      // IEEE 754 binary64
  kString,      // UTF-8
  kMoney,       // exact decimal amount with a currency (see Money)
  kTimestamp,   // an instant, nanosecond precision
  kDuration,    // signed, nanosecond precision, about +-292 years
  kStringList,  // a list of strings supplied by the caller (user.interests)
  kList,        // a list of values (literals, computed lists, list(T) variables)
  kUint,        // uint64; overflow is an error
  kBytes,       // a byte string
  kMap,         // a map of values (literals, map(K, V) variables)
  kType,        // a type as a value: type(1) == int
  kDyn,         // static only: a type decided at run time (dyn(), mixed lists)
};

// "int", "money", "list(string)"...
std::string_view TypeName(Type type);

// An ISO 4217 currency code ("USD"), or empty for a plain decimal (a numeric
// literal used as an amount). Trivially copyable.
class Currency {
 public:
  constexpr Currency() = default;
  // The first three characters of `code`, upper-cased; empty code = empty.
  static Currency Of(std::string_view code);
  bool empty() const { return packed_ == 0; }
  std::string code() const;
  uint32_t packed() const { return packed_; }
  static constexpr Currency FromPacked(uint32_t packed) {
    Currency c;
    c.packed_ = packed;
    return c;
  }
  friend bool operator==(Currency a, Currency b) { return a.packed_ == b.packed_; }
  friend bool operator!=(Currency a, Currency b) { return a.packed_ != b.packed_; }

 private:
  uint32_t packed_ = 0;
};

// An exact amount: minor_units * 10^-scale in `currency`. 19.99 USD is
// {1999, 2, USD}; 500 JPY is {500, 0, JPY}. Amounts of different scales
// compare exactly; amounts of two different non-empty currencies do not
// compare (an error value).
struct Money {
  int64_t minor_units = 0;
  int32_t scale = 2;  // decimal digits after the point, 0..18
  Currency currency;  // empty = a plain decimal
};

// A value of the language: what a slot holds and what evaluation yields.
// A small trivially copyable tagged union (16 bytes). Strings and lists are
// borrowed, never owned (see the lifetime notes above). Accessors of another
// type than type() return a zero value.
class Value {
 public:
  constexpr Value() : type_(Type::kNull), aux8_(0), aux16_(0), aux32_(0), i_(0) {}

  static Value Null() { return Value(); }
  static Value Bool(bool v);
  static Value Int(int64_t v);
  static Value Double(double v);
  static Value String(std::string_view v);  // borrowed; at most 4 GiB - 1
  static Value FromMoney(Money v);
  static Value Timestamp(absl::Time v);
  static Value Duration(absl::Duration v);
  // Borrowed: the span's array and the strings must outlive every use.
  static Value StringList(absl::Span<const std::string_view> v);
  // Borrowed: a list of values (list literals of a program, list(T) variables).
  static Value List(absl::Span<const Value> v);
  static Value Uint(uint64_t v);
  static Value Bytes(std::string_view v);  // borrowed; at most 4 GiB - 1
  // Borrowed: a map as its entries laid out key, value, key, value... (keys
  // distinct; looked up linearly: maps of a request are small).
  static Value Map(absl::Span<const Value> key_value_pairs);
  // The type named `name` ("int", "list", "google.protobuf.Timestamp"); the
  // name must outlive the value (a literal).
  static Value TypeValue(std::string_view name);
  // An error with a reason that outlives the value (a literal, or a string
  // owned by a Program) and the byte offset in the source it refers to.
  static Value Error(const char* reason, uint32_t source_offset = 0);

  Type type() const { return type_; }
  bool is_error() const { return type_ == Type::kError; }
  bool is_bool() const { return type_ == Type::kBool; }

  bool bool_value() const { return type_ == Type::kBool && b_; }
  int64_t int_value() const { return type_ == Type::kInt ? i_ : 0; }
  double double_value() const { return type_ == Type::kDouble ? d_ : 0.0; }
  std::string_view string_value() const;
  Money money_value() const;
  absl::Time timestamp_value() const;
  absl::Duration duration_value() const;
  absl::Span<const std::string_view> string_list() const;
  absl::Span<const Value> list_values() const;
  uint64_t uint_value() const { return type_ == Type::kUint ? static_cast<uint64_t>(i_) : 0; }
  std::string_view bytes_value() const;
  // key, value, key, value...
  absl::Span<const Value> map_entries() const;
  std::string_view type_name() const;
  // The error's reason ("integer overflow", "user.age is not set").
  std::string_view error_reason() const;
  uint32_t error_offset() const { return type_ == Type::kError ? aux32_ : 0; }

  // A readable rendering: 42, 3.5, "text", 19.99 USD, timestamp("..."),
  // duration("5400s"), ["a", "b"], null, error(reason).
  std::string DebugString() const;
  // The same as JSON: numbers, strings, booleans, null, arrays; money as
  // {"amount":"19.99","currency":"USD"}; timestamps RFC 3339 strings;
  // durations "5400s"; errors {"error":"reason"}.
  std::string JsonString() const;

 private:
  friend struct internal::Vm;
  friend class Activation;

  Type type_;
  uint8_t aux8_;    // money: scale
  uint16_t aux16_;  // error: 1 = absent slot (reason filled in by the program)
  uint32_t aux32_;  // string/bytes/list/type name: size; map: entries; money: currency;
                    // timestamp: nanos; error: offset
  union {
    bool b_;
    int64_t i_;  // int, money units, timestamp seconds, duration nanos
    double d_;
    const char* s_;
    const std::string_view* sl_;
    const Value* l_;
  };
};

// A dense index of a declared variable, valid for the Schema that made it and
// for Activations built from that schema.
struct Slot {
  static constexpr uint32_t kInvalid = 0xffffffffu;
  uint32_t index = kInvalid;
  bool valid() const { return index != kInvalid; }
  friend bool operator==(Slot a, Slot b) { return a.index == b.index; }
};

// The variables an expression may name, with their types: a closed set, so
// that typos and type mismatches are found at compile time. Paths are dotted
// identifiers: "user.age", "context.page_group", "now". Each variable gets
// the next slot index, in declaration order.
class Schema {
 public:
  struct Variable {
    std::string path;
    Type type;
    Type key = Type::kDyn;   // kMap: the keys' type
    Type elem = Type::kDyn;  // kList / kMap: the elements' / values' type
  };

  // How declared names may relate to each other.
  //  - kHerald (the default, and what catalogs use): no name is a reserved
  //    word and no declared path is a prefix of another ("user" and
  //    "user.age" clash), so every path reads exactly one way.
  //  - kCel: CEL's own rules, for hosts that share declarations with other
  //    CEL implementations. Overlapping paths are allowed and `a.b.c`
  //    resolves to the longest declared prefix (the variable a.b.c before
  //    the key "c" of a map a.b); a variable may be named true, false or null
  //    or another reserved word, though no expression can read it (the
  //    literal always wins).
  enum class NameRules { kHerald, kCel };

  Schema() = default;  // no variables, kHerald rules
  explicit Schema(NameRules rules) : rules_(rules) {}
  // The standard built-ins (see docs/expressions.md): product.id (string),
  // product.category (string), product.price (money), product.quantity (int),
  // basket.subtotal (money), basket.currency (string), basket.item_count (int),
  // basket.quantity (int), now (timestamp).
  static Schema WithBuiltins();
  // A schema from (path, type) pairs; the first invalid pair fails.
  static absl::StatusOr<Schema> FromPairs(
      absl::Span<const std::pair<std::string_view, Type>> pairs);

  // Declares `path` with `type` and returns its slot. Declaring a path again
  // with the same type returns the existing slot; with another type fails
  // (AlreadyExists). Invalid paths, types kError/kNull/kType, and (under
  // kHerald rules) a reserved word or a path that is a prefix of another
  // ("user" vs "user.age") fail with InvalidArgument.
  // kList and kMap declared this way hold values of any type (dyn); kDyn
  // declares a variable whose type is decided at run time.
  absl::StatusOr<Slot> Declare(std::string_view path, Type type);
  // A list(elem) variable (its value a Value::List, or a Value::StringList
  // when elem is kString), and a map(key, value) variable (a Value::Map).
  // Keys are bool, int, uint or string (or dyn).
  absl::StatusOr<Slot> DeclareList(std::string_view path, Type elem);
  absl::StatusOr<Slot> DeclareMap(std::string_view path, Type key, Type value);
  // Declares `<root>.<decl.name>` with the type of decl.type (a catalog's
  // user_attributes / context_attributes / product_attributes).
  absl::StatusOr<Slot> DeclareAttribute(std::string_view root,
                                        const herald::v1::AttributeDecl& decl);

  // The slot of `path`, or an invalid Slot when it is not declared.
  Slot Find(std::string_view path) const;
  // Like Find, but NotFound with a suggestion ("did you mean user.age?").
  absl::StatusOr<Slot> Resolve(std::string_view path) const;

  size_t size() const { return variables_.size(); }
  NameRules rules() const { return rules_; }
  const Variable& variable(Slot slot) const { return variables_[slot.index]; }
  const std::vector<Variable>& variables() const { return variables_; }

 private:
  absl::StatusOr<Slot> DeclareVariable(Variable variable);
  absl::Status CheckNoOverlap(std::string_view path,
                              const std::vector<std::string_view>& parts) const;

  NameRules rules_ = NameRules::kHerald;
  std::vector<Variable> variables_;
  absl::flat_hash_map<std::string, uint32_t> index_;
};

// The values of one evaluation's variables, filled by slot. Construction
// allocates once (one Value per declared variable); Set, Clear and evaluation
// do not allocate. Strings and lists set here are borrowed and must outlive
// the evaluations that read them. Not thread-safe; reuse one per thread.
class Activation {
 public:
  explicit Activation(const Schema& schema);
  explicit Activation(size_t slot_count);
  Activation(const Activation&) = delete;
  Activation& operator=(const Activation&) = delete;
  Activation(Activation&&) noexcept;
  Activation& operator=(Activation&&) noexcept;
  ~Activation();

  // Sets a slot; a slot outside the activation is ignored. Setting an error
  // Value makes every read of the slot that error.
  void Set(Slot slot, Value value) {
    if (slot.index < slots_.size()) slots_[slot.index] = value;
  }
  void Unset(Slot slot);
  // Makes every slot absent.
  void Clear();
  bool has(Slot slot) const;
  // The slot's value; an absent slot reads as an error "absent".
  Value Get(Slot slot) const;
  size_t slot_count() const { return slots_.size(); }

  struct Scratch;  // internal: reusable space for computed strings

 private:
  friend struct internal::Vm;

  std::vector<Value> slots_;
  std::unique_ptr<Scratch> scratch_;  // space for computed strings, reused
};

struct CompileOptions {
  // Deepest nesting of sub-expressions (parentheses, calls, operands, list
  // elements, chains of the same operator except && and ||). Beyond it
  // Compile fails with ResourceExhausted, never by overflowing the C stack.
  // At most 200.
  int max_depth = 64;
  // Longest source accepted, in bytes.
  size_t max_source_bytes = 16 * 1024;
  // Most syntax-tree nodes accepted (literals, names, operators, calls).
  int max_nodes = 4096;
  // Time zone of getHours() and friends when called without one. CEL says
  // UTC; a catalog may set its own zone (IANA name or "+05:30").
  std::string default_time_zone = "UTC";
  // CEL's unchecked evaluation (cel-spec's `disable_check`): a sub-expression
  // that fails type checking (an undeclared variable, an unknown function or
  // method, an operand of the wrong type, ?: branches of different types)
  // compiles to an error raised only if evaluation reaches it, so that &&, ||
  // and ?: can absorb it: `x || true` is true with no `x` declared. Off by
  // default, and never used for catalogs: there every such mistake stays a
  // compile error with its position. Syntax errors and limits always fail.
  bool unchecked = false;
};

// A compiled expression. Cheap to copy; immutable; safe to evaluate from many
// threads at once, each with its own Activation.
class Program {
 public:
  Program() = default;  // evaluates to an error "empty program"

  // Evaluates against `activation`, which must come from the schema the
  // program was compiled against (or a later extension of it). Never
  // allocates; never fails other than by returning an error Value.
  Value Evaluate(Activation& activation) const;
  // Evaluate() for a boolean filter: true only for the value true. An error
  // (or a non-bool value) is false; when `error` is given it receives the
  // error value (or an error "not a bool") for the trace, else Null.
  bool Matches(Activation& activation, Value* error = nullptr) const;

  // "1:1: user.age is not set" for an error Value produced by this program;
  // with `with_excerpt`, followed by the source line and a caret. Allocates:
  // meant for traces and messages, not the hot path.
  std::string DescribeError(const Value& error, bool with_excerpt = false) const;

  Type result_type() const;
  const std::string& source() const;
  // The slots the expression reads, in slot order.
  const std::vector<Slot>& slots() const;
  // A listing of the bytecode, one instruction a line (for tests and tools).
  std::string Disassemble() const;

 private:
  friend absl::StatusOr<Program> Compile(std::string_view, const Schema&,
                                         const CompileOptions&);
  friend absl::StatusOr<Program> CompileFilter(std::string_view, const Schema&,
                                               const CompileOptions&);
  std::shared_ptr<const internal::ProgramImpl> impl_;
};

// Parses, type-checks and compiles `source` against `schema`.
absl::StatusOr<Program> Compile(std::string_view source, const Schema& schema,
                                const CompileOptions& options = {});
// Compile() for expressions that must yield a bool (target groups,
// conditions, awards, eligibility): any other result type is a compile error.
absl::StatusOr<Program> CompileFilter(std::string_view source,
                                      const Schema& schema,
                                      const CompileOptions& options = {});

// A top-level conjunct of an expression that compares one field with string
// constants: `var.field == 'v'`, `'v' == var.field` or `var.field in ['v',
// 'w']`. Where the field holds none of the values, the conjunct is false and
// so is the whole expression, so a caller may index expressions by their
// guards' values and evaluate only those a value can satisfy.
struct EqualityGuard {
  std::string path;                 // "product.category": a variable and one of its fields
  std::vector<std::string> values;  // the constants (decoded), as written
};
struct EqualityGuards {
  std::vector<EqualityGuard> guards;  // in source order
  int conjuncts = 0;                  // the expression's top-level && operands (1 without &&; 0 unparsable)
};
// The guards of `source`, found on its syntax (no schema: the caller checks
// the path's type). Unparsable source has none. Allocates; for compiling
// catalogs, not the hot path. Thread-safe.
EqualityGuards FindEqualityGuards(std::string_view source);

// Exact decimal of a numeric literal's text ("19.99" -> {1999, 2}, "2e1" ->
// {20, 0}), with an empty currency. InvalidArgument when it is not a number
// or needs more than 18 decimals or int64 units. For money-typed --var values
// and configuration.
absl::StatusOr<Money> ParseDecimal(std::string_view text);
// "19.99", "-0.50", "500": the amount without currency.
std::string FormatDecimal(const Money& amount);

}  // namespace herald::expr

#endif  // HERALD_EXPR_H_
