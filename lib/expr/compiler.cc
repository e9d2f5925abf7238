// Type checking and code generation: from the parse tree to a ProgramImpl.
//
// The checker assigns every node a static type against the Schema, resolves
// variable paths to slots, converts numeric literals used as amounts to exact
// decimals, and resolves literal arguments (regular expressions, time zones,
// timestamp() and duration()) once. The code generator then emits postfix
// bytecode, fusing the common "variable <op> literal" and "variable in [list]"
// shapes into single instructions.
#include <algorithm>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "expr/ast.h"
#include "expr/diagnostics.h"
#include "expr/parser.h"
#include "expr/program.h"
#include "expr/strings.h"
#include "expr/time_text.h"
#include "expr/vm.h"
#include "herald/expr.h"
#include "re2/re2.h"

namespace herald::expr {
namespace internal {
namespace {

struct CType {
  Type type = Type::kError;
  Type elem = Type::kDyn;  // kList: the elements' type; kMap: the values' type
  Type key = Type::kDyn;   // kMap: the keys' type
};

enum class CallKind : uint8_t {
  kNone,
  kHas,
  kSize,
  kStartsWith,
  kEndsWith,
  kContains,
  kMatches,
  kLowerAscii,
  kUpperAscii,
  kTimePart,
  kDurationPart,
  kTimestampLiteral,
  kDurationLiteral,
  kIdentity,  // timestamp(ts), duration(d), int(i), double(d)
  kToInt,
  kToDouble,
  kConvert,   // sub = ConvertKind
  kMacro,     // all, exists, exists_one, map, filter, transformList, transformMap
  kHasField,  // has(m.key) on a map or dyn value
};

// A comprehension macro: receiver.name(var[, var2], [predicate,] body).
struct MacroInfo {
  IterKind kind = kIterAll;
  int var1 = -1;          // local index of the first variable
  int var2 = -1;          // the second (two-variable forms), or -1
  int predicate = -1;     // node of the filter argument of map/transformList/transformMap
  int body = -1;          // node of the predicate or the transform
};

struct NodeInfo {
  CType type;
  int slot = -1;                // a variable path resolved to this slot
  bool money_literal = false;   // a numeric literal emitted as a plain decimal
  Money decimal;
  bool has_const = false;       // timestamp()/duration() literal
  Value const_value;
  CallKind call = CallKind::kNone;
  uint8_t part = 0;             // kTimePart / kDurationPart
  int zone = -1;                // kTimePart
  int regex = -1;               // kMatches
  int local = -1;               // a macro variable
  bool field = false;           // a selection on a computed map or dyn value
  bool duplicate_keys = false;  // kMap literal with a repeated literal key
  int macro = -1;               // kMacro: index in macros_
};

// Names of types usable as values: `type(1) == int`.
constexpr std::string_view kTypeNames[] = {
    "int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type",
    "google.protobuf.Timestamp", "google.protobuf.Duration"};

std::string_view TypeNameValue(std::string_view name) {
  for (std::string_view t : kTypeNames) {
    if (t == name) return t;
  }
  return {};
}

struct MacroName {
  std::string_view name;
  IterKind kind;
  int vars;       // 1 or 2
  bool filtered;  // the form with a predicate before the transform
  int args;       // arguments after the receiver
};

constexpr MacroName kMacros[] = {
    {"all", kIterAll, 1, false, 2},
    {"all", kIterAll, 2, false, 3},
    {"exists", kIterExists, 1, false, 2},
    {"exists", kIterExists, 2, false, 3},
    {"exists_one", kIterExistsOne, 1, false, 2},
    {"existsOne", kIterExistsOne, 2, false, 3},
    {"map", kIterMap, 1, false, 2},
    {"map", kIterMap, 1, true, 3},
    {"filter", kIterFilter, 1, false, 2},
    {"transformList", kIterMap, 2, false, 3},
    {"transformList", kIterMap, 2, true, 4},
    {"transformMap", kIterTransformMap, 2, false, 3},
    {"transformMap", kIterTransformMap, 2, true, 4},
};

bool IsMacroName(std::string_view name) {
  for (const MacroName& m : kMacros) {
    if (m.name == name) return true;
  }
  return false;
}

struct TimePartName {
  std::string_view name;
  TimePart part;
  bool on_duration;
};

constexpr TimePartName kTimeParts[] = {
    {"getHours", kPartHours, true},
    {"getMinutes", kPartMinutes, true},
    {"getSeconds", kPartSeconds, true},
    {"getMilliseconds", kPartMilliseconds, true},
    {"getDayOfWeek", kPartDayOfWeek, false},
    {"getDate", kPartDate, false},
    {"getDayOfMonth", kPartDayOfMonth, false},
    {"getMonth", kPartMonth, false},
    {"getFullYear", kPartFullYear, false},
    {"getDayOfYear", kPartDayOfYear, false},
};

constexpr std::string_view kFunctionNames[] = {
    "has", "size", "matches", "timestamp", "duration", "int", "double", "uint",
    "string", "bytes", "bool", "dyn", "type"};
constexpr std::string_view kMethodNames[] = {
    "size",     "startsWith", "endsWith",   "contains",        "matches",
    "lowerAscii", "upperAscii", "getHours", "getMinutes",      "getSeconds",
    "getMilliseconds", "getDayOfWeek", "getDate", "getDayOfMonth", "getMonth",
    "getFullYear", "getDayOfYear", "all", "exists", "exists_one", "existsOne", "map",
    "filter", "transformList", "transformMap"};

bool IsNumeric(Type t) { return t == Type::kInt || t == Type::kDouble || t == Type::kUint; }
bool IsListType(Type t) { return t == Type::kList || t == Type::kStringList; }
bool IsDyn(const CType& t) { return t.type == Type::kDyn; }

// The type of a list's elements (kDyn when unknown or mixed).
Type ElemOf(const CType& t) {
  if (t.type == Type::kStringList) return Type::kString;
  if (t.type == Type::kList || t.type == Type::kMap) return t.elem;
  return Type::kDyn;
}

std::string TypeString(const CType& t) {
  if (t.type == Type::kList) return Cat("list(", TypeName(t.elem), ")");
  if (t.type == Type::kMap) return Cat("map(", TypeName(t.key), ", ", TypeName(t.elem), ")");
  return std::string(TypeName(t.type));
}

// A value's static type from a single Type (container element types unknown).
CType Of(Type t) {
  CType c{t};
  if (t == Type::kStringList) c.elem = Type::kString;
  return c;
}

CmpKind CmpOf(Op op) {
  switch (op) {
    case Op::kEq: return kCmpEq;
    case Op::kNe: return kCmpNe;
    case Op::kLt: return kCmpLt;
    case Op::kLe: return kCmpLe;
    case Op::kGt: return kCmpGt;
    default: return kCmpGe;
  }
}

CmpKind Mirror(CmpKind k) {
  switch (k) {
    case kCmpLt: return kCmpGt;
    case kCmpLe: return kCmpGe;
    case kCmpGt: return kCmpLt;
    case kCmpGe: return kCmpLe;
    default: return k;
  }
}

ArithKind ArithOf(Op op) {
  switch (op) {
    case Op::kAdd: return kArithAdd;
    case Op::kSub: return kArithSub;
    case Op::kMul: return kArithMul;
    case Op::kDiv: return kArithDiv;
    default: return kArithMod;
  }
}

absl::StatusOr<absl::TimeZone> LoadZone(std::string_view name) {
  if (name == "UTC" || name == "Z") return absl::UTCTimeZone();
  // A fixed offset: "+05:30", "-08:00", or unsigned as CEL's tests write it ("02:00").
  std::string signed_name;
  if (name.size() == 5 && name[2] == ':') {
    signed_name = Cat("+", name);
    name = signed_name;
  }
  if (name.size() == 6 && (name[0] == '+' || name[0] == '-') && name[3] == ':') {
    auto digit = [&](size_t i) { return name[i] >= '0' && name[i] <= '9'; };
    if (digit(1) && digit(2) && digit(4) && digit(5)) {
      int hours = (name[1] - '0') * 10 + (name[2] - '0');
      int minutes = (name[4] - '0') * 10 + (name[5] - '0');
      if (hours <= 23 && minutes <= 59) {
        int seconds = (hours * 60 + minutes) * 60;
        return absl::FixedTimeZone(name[0] == '-' ? -seconds : seconds);
      }
    }
  }
  absl::TimeZone zone;
  bool plausible = !name.empty() && name.size() < 64 && name.find("..") == std::string_view::npos &&
                   name[0] != '/' && name.find('\0') == std::string_view::npos;
  if (plausible && absl::LoadTimeZone(std::string(name), &zone)) return zone;
  return absl::InvalidArgumentError(Cat("unknown time zone \"", name, "\""));
}

class Compiler {
 public:
  Compiler(const Ast& ast, const Schema& schema, const CompileOptions& options,
           ProgramImpl* out)
      : ast_(ast), schema_(schema), options_(options), out_(out), info_(ast.nodes.size()) {
    for (const Schema::Variable& v : schema_.variables()) {
      std::vector<std::string_view> parts = Split(v.path, '.');
      roots_.insert(std::string(parts[0]));
      std::string prefix;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        if (i > 0) prefix.push_back('.');
        prefix.append(parts[i]);
        namespaces_.insert(prefix);
      }
    }
  }

  absl::Status Run(bool require_bool) {
    absl::StatusOr<absl::TimeZone> zone = LoadZone(options_.default_time_zone);
    if (!zone.ok()) {
      return absl::InvalidArgumentError(
          Cat("CompileOptions.default_time_zone: ", zone.status().message()));
    }
    default_zone_ = *zone;
    if (absl::Status s = Check(ast_.root); !s.ok()) return s;
    const CType& result = info_[ast_.root].type;
    if (require_bool && result.type != Type::kBool) {
      return Error(ast_.node(ast_.root).pos,
                   Cat("expression must be a condition (bool), not ",
                                TypeString(result)));
    }
    if (absl::Status s = Emit(ast_.root); !s.ok()) return s;
    Instr ret;
    ret.op = Opcode::kReturn;
    out_->code.push_back(ret);
    out_->result_type = result.type;
    for (const std::string& m : out_->messages) out_->message_text.push_back(m.c_str());
    std::sort(slots_read_.begin(), slots_read_.end());
    slots_read_.erase(std::unique(slots_read_.begin(), slots_read_.end()), slots_read_.end());
    for (uint32_t s : slots_read_) out_->slots.push_back(Slot{s});
    out_->min_slots = slots_read_.empty() ? 0 : slots_read_.back() + 1;
    out_->max_stack = static_cast<uint32_t>(max_depth_);
    if (max_depth_ > static_cast<int>(kMaxStack)) {
      return LimitError(ast_.source, 0, "expression needs too deep an evaluation stack");
    }
    return absl::OkStatus();
  }

 private:
  // --- diagnostics -----------------------------------------------------------
  // Every type error of the checker comes from here; the last one's message
  // is kept for DeferToRuntime.
  absl::Status Error(uint32_t pos, std::string_view message) const {
    last_error_.assign(message.data(), message.size());
    return SyntaxError(ast_.source, pos, message);
  }

  const Node& N(int id) const { return ast_.node(id); }

  // Where the text of a sub-expression begins (its leftmost token).
  uint32_t StartOf(int id) const {
    const Node& n = N(id);
    switch (n.kind) {
      case NodeKind::kSelect:
      case NodeKind::kBinary:
      case NodeKind::kAnd:
      case NodeKind::kOr:
      case NodeKind::kCond:
      case NodeKind::kIndex:
        return std::min(n.pos, StartOf(n.children[0]));
      case NodeKind::kCall:
        return n.is_method ? StartOf(n.children[0]) : n.pos;
      default:
        return n.pos;
    }
  }
  NodeInfo& I(int id) { return info_[static_cast<size_t>(id)]; }

  // --- paths -------------------------------------------------------------------
  // The chain of an identifier followed by selections, innermost first.
  bool PathChain(int id, std::vector<int>* chain) const {
    chain->clear();
    int cur = id;
    while (N(cur).kind == NodeKind::kSelect) {
      chain->push_back(cur);
      cur = N(cur).children[0];
    }
    if (N(cur).kind != NodeKind::kIdent) return false;
    chain->push_back(cur);
    std::reverse(chain->begin(), chain->end());
    return true;
  }

  std::string_view Suggest(std::string_view name, const std::vector<std::string>& pool) const {
    std::vector<std::string_view> candidates(pool.begin(), pool.end());
    return NearestName(name, candidates);
  }

  // A macro variable in scope, innermost first; -1 when `name` is not one.
  int FindLocal(std::string_view name) const {
    for (size_t i = scopes_.size(); i-- > 0;) {
      if (scopes_[i].first == name) return static_cast<int>(i);
    }
    return -1;
  }

  // m.key on a computed value: a map with string keys (or dyn).
  absl::Status SelectField(int id) {
    const Node& n = N(id);
    const CType& recv = I(n.children[0]).type;
    NodeInfo& info = I(id);
    info.field = true;
    if (IsDyn(recv)) {
      info.type = CType{Type::kDyn};
      return absl::OkStatus();
    }
    if (recv.type == Type::kMap && (recv.key == Type::kString || recv.key == Type::kDyn)) {
      info.type = Of(recv.elem);
      return absl::OkStatus();
    }
    return Error(n.name_pos, Cat(TypeString(recv), " has no field ", n.name));
  }

  // The index of the last node of the longest declared path along `chain`
  // that starts with the declared `*path` ending at chain[k]; *path becomes it.
  size_t LongestDeclared(const std::vector<int>& chain, size_t k, std::string* path) const {
    if (schema_.rules() != Schema::NameRules::kCel) return k;
    size_t best = k;
    std::string longer = *path;
    for (size_t j = k + 1; j < chain.size(); ++j) {
      longer.push_back('.');
      longer.append(N(chain[j]).name);
      if (schema_.Find(longer).valid()) {
        best = j;
        *path = longer;
      }
    }
    return best;
  }

  absl::Status ResolvePath(int id) {
    std::vector<int> chain;
    if (!PathChain(id, &chain) || FindLocal(N(chain[0]).name) >= 0) {
      // A selection on a computed value: a map's key, or an error such as
      // ("x").size, which is not a field.
      const Node& n = N(id);
      if (n.kind == NodeKind::kIdent) return CheckLocal(id);
      if (absl::Status s = Check(n.children[0]); !s.ok()) return s;
      return SelectField(id);
    }
    std::string path;
    for (size_t k = 0; k < chain.size(); ++k) {
      const Node& n = N(chain[k]);
      if (k > 0) path.push_back('.');
      path.append(n.name);
      uint32_t at = k == 0 ? n.pos : n.name_pos;
      Slot slot = schema_.Find(path);
      if (slot.valid()) {
        // Under CEL's rules paths may overlap: the longest declared one wins.
        if (size_t longer = LongestDeclared(chain, k, &path); longer != k) {
          k = longer;
          slot = schema_.Find(path);
        }
        const Schema::Variable& var = schema_.variable(slot);
        NodeInfo& info = I(chain[k]);
        info.slot = static_cast<int>(slot.index);
        info.type = CType{var.type, var.elem, var.key};
        if (k + 1 < chain.size() && var.type != Type::kMap && var.type != Type::kDyn) {
          const Node& next = N(chain[k + 1]);
          return Error(next.name_pos,
                       Cat(path, " is a ", TypeName(var.type),
                                    " and has no field ", next.name));
        }
        for (size_t j = k + 1; j < chain.size(); ++j) {
          if (absl::Status s = SelectField(chain[j]); !s.ok()) return s;
        }
        return absl::OkStatus();
      }
      if (std::string_view type_name = TypeNameValue(path);
          !type_name.empty() && k + 1 == chain.size()) {
        NodeInfo& info = I(id);
        info.has_const = true;
        info.const_value = Value::TypeValue(type_name);
        info.type = CType{Type::kType};
        return absl::OkStatus();
      }
      if (namespaces_.contains(path) || path == "google" || path == "google.protobuf") continue;
      if (k == 0) {
        std::vector<std::string> pool(roots_.begin(), roots_.end());
        std::sort(pool.begin(), pool.end());
        std::string_view near = Suggest(path, pool);
        return Error(at, near.empty()
                             ? Cat("unknown variable ", path)
                             : Cat("unknown variable ", path, "; did you mean ",
                                            near, "?"));
      }
      std::vector<std::string> pool;
      for (const Schema::Variable& v : schema_.variables()) pool.push_back(v.path);
      for (const std::string& ns : namespaces_) pool.push_back(ns);
      std::sort(pool.begin(), pool.end());
      std::string_view near = Suggest(path, pool);
      return Error(at, near.empty()
                           ? Cat("unknown field ", path)
                           : Cat("unknown field ", path, "; did you mean ", near,
                                          "?"));
    }
    // The whole chain names a group of variables, not a value.
    if (!namespaces_.contains(path)) {
      return Error(N(chain.front()).pos, Cat("unknown variable ", path));
    }
    std::string example;
    for (const Schema::Variable& v : schema_.variables()) {
      if (v.path.starts_with(Cat(path, "."))) {
        example = v.path;
        break;
      }
    }
    return Error(N(chain.front()).pos,
                 Cat(path, " is not a value; name one of its attributes, such as ",
                              example));
  }

  // --- literals --------------------------------------------------------------
  bool IsNumericLiteral(int id) const {
    NodeKind k = N(id).kind;
    return k == NodeKind::kInt || k == NodeKind::kDouble;
  }

  absl::Status MakeDecimal(int id) {
    NodeInfo& info = I(id);
    if (info.money_literal) return absl::OkStatus();
    absl::StatusOr<Money> d = ParseDecimal(N(id).text);
    if (!d.ok()) {
      return Error(N(id).pos, Cat("cannot use ", N(id).text,
                                           " as an amount: ", d.status().message()));
    }
    info.money_literal = true;
    info.decimal = *d;
    info.type = CType{Type::kMoney};
    return absl::OkStatus();
  }

  // Numeric literals beside money become exact decimals: 19.99 is 1999 cents.
  absl::Status CoerceToMoney(int id) {
    if (IsNumericLiteral(id)) return MakeDecimal(id);
    const Node& n = N(id);
    if (n.kind == NodeKind::kList) {
      for (int child : n.children) {
        if (IsNumericLiteral(child)) {
          if (absl::Status s = MakeDecimal(child); !s.ok()) return s;
        }
      }
      RecomputeListType(id);
    }
    return absl::OkStatus();
  }

  // The common type of `types`, or kDyn when they differ (or are none).
  static Type Common(const std::vector<Type>& types) {
    if (types.empty()) return Type::kDyn;
    for (Type t : types) {
      if (t != types[0]) return Type::kDyn;
    }
    return types[0] == Type::kStringList ? Type::kList : types[0];
  }

  void RecomputeListType(int id) {
    std::vector<Type> elems;
    for (int child : N(id).children) elems.push_back(I(child).type.type);
    I(id).type = CType{Type::kList, Common(elems)};
  }

  absl::Status CheckMapLiteral(int id) {
    const Node& n = N(id);
    std::vector<Type> keys;
    std::vector<Type> values;
    for (size_t i = 0; i < n.children.size(); ++i) {
      int child = n.children[i];
      if (absl::Status s = Check(child); !s.ok()) return s;
      Type t = I(child).type.type;
      if (i % 2 == 1) {
        values.push_back(t);
        continue;
      }
      if (t != Type::kString && t != Type::kInt && t != Type::kUint && t != Type::kBool &&
          t != Type::kDyn) {
        return Error(StartOf(child), Cat("a map key must be a bool, int, uint or string, not ",
                                         TypeString(I(child).type)));
      }
      keys.push_back(t);
      // Repeated literal keys are an error at run time, as in CEL.
      for (size_t j = 0; j < i; j += 2) {
        const Node& a = N(n.children[j]);
        const Node& b = N(child);
        auto numeric = [](const Node& x) {
          return x.kind == NodeKind::kInt || x.kind == NodeKind::kUint;
        };
        bool same_number = numeric(a) && numeric(b) && a.int_value == b.int_value &&
                           (a.kind == b.kind || a.int_value >= 0);
        bool same_other = a.kind == b.kind && a.text == b.text && a.bool_value == b.bool_value &&
                          (a.kind == NodeKind::kString || a.kind == NodeKind::kBool);
        if (same_number || same_other) {
          I(id).duplicate_keys = true;
        }
      }
    }
    I(id).type = CType{Type::kMap, Common(values), Common(keys)};
    return absl::OkStatus();
  }

  // --- type rules ------------------------------------------------------------
  absl::Status CheckComparable(uint32_t pos, Op op, int lhs, int rhs) {
    // Literals beside money become decimals first.
    if (I(lhs).type.type == Type::kMoney) {
      if (absl::Status s = CoerceToMoney(rhs); !s.ok()) return s;
    }
    if (I(rhs).type.type == Type::kMoney) {
      if (absl::Status s = CoerceToMoney(lhs); !s.ok()) return s;
    }
    const CType& l = I(lhs).type;
    const CType& r = I(rhs).type;
    bool equality = op == Op::kEq || op == Op::kNe;
    auto fail = [&] {
      return Error(pos, Cat("cannot compare ", TypeString(l), " with ",
                                     TypeString(r)));
    };
    if (IsDyn(l) || IsDyn(r)) return absl::OkStatus();
    if (l.type == Type::kNull || r.type == Type::kNull) {
      if (equality) return absl::OkStatus();
      return fail();
    }
    bool unordered = IsListType(l.type) || l.type == Type::kMap || l.type == Type::kType;
    if (l.type == r.type) {
      if (unordered && !equality) return fail();
      return absl::OkStatus();
    }
    if (IsNumeric(l.type) && IsNumeric(r.type)) return absl::OkStatus();
    if ((l.type == Type::kMoney && r.type == Type::kInt) ||
        (l.type == Type::kInt && r.type == Type::kMoney)) {
      return absl::OkStatus();
    }
    if ((l.type == Type::kMoney && r.type == Type::kDouble) ||
        (l.type == Type::kDouble && r.type == Type::kMoney)) {
      return Error(pos, "cannot compare money with double: amounts compare exactly; "
                        "use a decimal literal such as 20.00");
    }
    if (IsListType(l.type) && IsListType(r.type) && equality) return absl::OkStatus();
    return fail();
  }

  // Whether a value of static type `a` may equal one of type `b`.
  static bool MayEqual(Type a, Type b) {
    return a == b || a == Type::kDyn || b == Type::kDyn || a == Type::kNull || b == Type::kNull ||
           (IsNumeric(a) && IsNumeric(b)) || (IsListType(a) && IsListType(b)) ||
           (a == Type::kMoney && b == Type::kInt) || (a == Type::kInt && b == Type::kMoney);
  }

  absl::Status CheckIn(uint32_t pos, int lhs, int rhs) {
    const CType& r = I(rhs).type;
    if (IsDyn(r) || IsDyn(I(lhs).type)) return absl::OkStatus();
    if (r.type == Type::kMap) {
      if (!MayEqual(I(lhs).type.type, r.key)) {
        return Error(pos, Cat("cannot look for ", TypeString(I(lhs).type), " in the keys of ",
                              TypeString(r)));
      }
      return absl::OkStatus();
    }
    if (!IsListType(r.type)) {
      return Error(pos, Cat("'in' needs a list or a map on the right, not ", TypeString(r)));
    }
    if (I(lhs).type.type == Type::kMoney) {
      if (absl::Status s = CoerceToMoney(rhs); !s.ok()) return s;
    }
    const CType& l = I(lhs).type;
    const CType& list = I(rhs).type;
    Type elem = ElemOf(list);
    if (!MayEqual(l.type, elem)) {
      return Error(pos, Cat("cannot look for ", TypeString(l), " in ",
                                     TypeString(list)));
    }
    return absl::OkStatus();
  }

  absl::Status CheckArith(int id) {
    const Node& n = N(id);
    int lhs = n.children[0];
    int rhs = n.children[1];
    if (I(lhs).type.type == Type::kMoney) {
      if (absl::Status s = CoerceToMoney(rhs); !s.ok()) return s;
    }
    if (I(rhs).type.type == Type::kMoney) {
      if (absl::Status s = CoerceToMoney(lhs); !s.ok()) return s;
    }
    Type l = I(lhs).type.type;
    Type r = I(rhs).type.type;
    Op op = n.op;
    auto result = [&](Type t) {
      I(id).type = CType{t};
      return absl::OkStatus();
    };
    auto fail = [&] {
      return Error(n.pos, Cat("no operator ", OpSymbol(op), " for ",
                                       TypeString(I(lhs).type), " and ",
                                       TypeString(I(rhs).type)));
    };
    if (l == Type::kDyn || r == Type::kDyn) return result(Type::kDyn);
    if (l == Type::kInt && r == Type::kInt) return result(Type::kInt);
    if (l == Type::kUint && r == Type::kUint) return result(Type::kUint);
    if (l == Type::kBytes && r == Type::kBytes && op == Op::kAdd) return result(Type::kBytes);
    if (IsListType(l) && IsListType(r) && op == Op::kAdd) {
      Type a = ElemOf(I(lhs).type);
      Type b = ElemOf(I(rhs).type);
      bool a_empty = N(lhs).kind == NodeKind::kList && N(lhs).children.empty();
      bool b_empty = N(rhs).kind == NodeKind::kList && N(rhs).children.empty();
      I(id).type = CType{Type::kList, a_empty ? b : (b_empty || a == b) ? a : Type::kDyn};
      return absl::OkStatus();
    }
    if (l == Type::kDouble && r == Type::kDouble) {
      if (op == Op::kMod) return fail();
      return result(Type::kDouble);
    }
    if (IsNumeric(l) && IsNumeric(r)) {
      return Error(n.pos, Cat("no operator ", OpSymbol(op), " for ", TypeName(l),
                                       " and ", TypeName(r),
                                       "; convert one side with int() or double()"));
    }
    if (l == Type::kMoney || r == Type::kMoney) {
      Type other = l == Type::kMoney ? r : l;
      if (other != Type::kMoney && other != Type::kInt) return fail();
      if (op == Op::kDiv || op == Op::kMod) {
        return Error(n.pos, Cat("no operator ", OpSymbol(op),
                                         " for money; multiply by a decimal such as 0.5"));
      }
      if (op == Op::kMul && l == Type::kMoney && r == Type::kMoney &&
          !I(lhs).money_literal && !I(rhs).money_literal) {
        return Error(n.pos, "cannot multiply two amounts of money");
      }
      return result(Type::kMoney);
    }
    if (l == Type::kString && r == Type::kString && op == Op::kAdd) return result(Type::kString);
    if (l == Type::kTimestamp && r == Type::kDuration && (op == Op::kAdd || op == Op::kSub)) {
      return result(Type::kTimestamp);
    }
    if (l == Type::kDuration && r == Type::kTimestamp && op == Op::kAdd) {
      return result(Type::kTimestamp);
    }
    if (l == Type::kTimestamp && r == Type::kTimestamp && op == Op::kSub) {
      return result(Type::kDuration);
    }
    if (l == Type::kDuration && r == Type::kDuration && (op == Op::kAdd || op == Op::kSub)) {
      return result(Type::kDuration);
    }
    return fail();
  }

  absl::Status ExpectArgs(const Node& n, size_t want_min, size_t want_max) {
    size_t have = n.children.size() - (n.is_method ? 1 : 0);
    if (have < want_min || have > want_max) {
      std::string want = want_min == want_max ? Cat(want_min)
                                              : Cat(want_min, " or ", want_max);
      return Error(n.name_pos, Cat(n.name, "() takes ", want, " argument",
                                            want_max == 1 && want_min == 1 ? "" : "s", ", not ",
                                            have));
    }
    return absl::OkStatus();
  }

  // The value of a string literal argument, or an error naming the function.
  absl::StatusOr<std::string> LiteralString(const Node& call, int arg, std::string_view what) {
    const Node& a = N(arg);
    if (a.kind != NodeKind::kString) {
      return Error(StartOf(arg), Cat(call.name, "() needs ", what,
                                       " as a string literal here"));
    }
    return a.text;
  }

  absl::Status CheckCall(int id) {
    const Node& n = N(id);
    if (!n.is_method && n.name == "has") return CheckHas(id);
    if (n.is_method && IsMacroName(n.name)) {
      if (absl::StatusOr<bool> macro = CheckMacro(id); !macro.ok() || *macro) {
        return macro.ok() ? absl::OkStatus() : macro.status();
      }
    }
    for (int child : n.children) {
      if (absl::Status s = Check(child); !s.ok()) return s;
    }
    if (n.is_method) return CheckMethod(id);
    if (std::optional<absl::Status> conversion = CheckConversion(id); conversion) {
      return *conversion;
    }
    return CheckFunction(id);
  }

  // has(a.b): a macro, its argument is not evaluated.
  absl::Status CheckHas(int id) {
    const Node& n = N(id);
    NodeInfo& info = I(id);
    if (absl::Status s = ExpectArgs(n, 1, 1); !s.ok()) return s;
    int arg = n.children[0];
    if (N(arg).kind != NodeKind::kSelect) {
      return Error(StartOf(arg), "has() needs a field selection such as has(user.age)");
    }
    if (absl::Status s = ResolvePath(arg); !s.ok()) return s;
    info.type = CType{Type::kBool};
    if (I(arg).field) {
      info.call = CallKind::kHasField;  // has(m.key): is the key present
      return absl::OkStatus();
    }
    info.call = CallKind::kHas;
    info.slot = I(arg).slot;
    return absl::OkStatus();
  }

  // A global function other than has() and the conversions: size(),
  // matches(), or an unknown name.
  absl::Status CheckFunction(int id) {
    const Node& n = N(id);
    const std::string& f = n.name;
    if (f == "size") {
      if (absl::Status s = ExpectArgs(n, 1, 1); !s.ok()) return s;
      Type t = ArgType(n, 0).type;
      if (t != Type::kString && !IsListType(t) && t != Type::kMap && t != Type::kBytes &&
          t != Type::kDyn) {
        return Error(n.name_pos, Cat("size() takes a string, bytes, a list or a map, not ",
                                              TypeString(ArgType(n, 0))));
      }
      return Result(id, CallKind::kSize, Type::kInt);
    }
    if (f == "matches") {
      if (absl::Status s = ExpectArgs(n, 2, 2); !s.ok()) return s;
      if (ArgType(n, 0).type != Type::kString) {
        return Error(n.name_pos, Cat("matches() takes a string, not ",
                                              TypeString(ArgType(n, 0))));
      }
      if (absl::Status s = CompileRegex(id, n.children[1]); !s.ok()) return s;
      return Result(id, CallKind::kMatches, Type::kBool);
    }
    std::string_view near = NearestName(f, kFunctionNames);
    bool is_method_name = std::find(std::begin(kMethodNames), std::end(kMethodNames), f) !=
                          std::end(kMethodNames);
    if (is_method_name) {
      return Error(n.name_pos, Cat(f, "() is a method: call it as x.", f, "(...)"));
    }
    return Error(n.name_pos, near.empty()
                                 ? Cat("unknown function ", f)
                                 : Cat("unknown function ", f, "; did you mean ",
                                                near, "?"));
  }

  // A method call: children[0] is the receiver.
  absl::Status CheckMethod(int id) {
    const Node& n = N(id);
    const std::string& m = n.name;
    CType recv = ArgType(n, 0);
    if (m == "size") {
      if (absl::Status s = ExpectArgs(n, 0, 0); !s.ok()) return s;
      if (recv.type != Type::kString && !IsListType(recv.type) && recv.type != Type::kMap &&
          recv.type != Type::kBytes && recv.type != Type::kDyn) {
        return BadReceiver(n, recv);
      }
      return Result(id, CallKind::kSize, Type::kInt);
    }
    if (m == "startsWith" || m == "endsWith" || m == "contains") {
      if (absl::Status s = ExpectArgs(n, 1, 1); !s.ok()) return s;
      if (recv.type != Type::kString && !IsDyn(recv)) return BadReceiver(n, recv);
      if (ArgType(n, 1).type != Type::kString && !IsDyn(ArgType(n, 1))) {
        return Error(StartOf(n.children[1]), Cat(m, "() takes a string, not ",
                                                        TypeString(ArgType(n, 1))));
      }
      CallKind k = m == "startsWith" ? CallKind::kStartsWith
                   : m == "endsWith" ? CallKind::kEndsWith
                                     : CallKind::kContains;
      return Result(id, k, Type::kBool);
    }
    if (m == "matches") {
      if (absl::Status s = ExpectArgs(n, 1, 1); !s.ok()) return s;
      if (recv.type != Type::kString) return BadReceiver(n, recv);
      if (absl::Status s = CompileRegex(id, n.children[1]); !s.ok()) return s;
      return Result(id, CallKind::kMatches, Type::kBool);
    }
    if (m == "lowerAscii" || m == "upperAscii") {
      if (absl::Status s = ExpectArgs(n, 0, 0); !s.ok()) return s;
      if (recv.type != Type::kString) return BadReceiver(n, recv);
      return Result(id, m == "lowerAscii" ? CallKind::kLowerAscii : CallKind::kUpperAscii,
                    Type::kString);
    }
    for (const TimePartName& tp : kTimeParts) {
      if (m == tp.name) return CheckTimePart(id, tp);
    }
    std::string_view near = NearestName(m, kMethodNames);
    return Error(n.name_pos, near.empty()
                                 ? Cat("unknown method ", m)
                                 : Cat("unknown method ", m, "; did you mean ", near,
                                                "?"));
  }

  // getHours() and the other parts of a timestamp (in a zone) or a duration.
  absl::Status CheckTimePart(int id, const TimePartName& tp) {
    const Node& n = N(id);
    NodeInfo& info = I(id);
    CType recv = ArgType(n, 0);
    if (recv.type == Type::kDuration && tp.on_duration) {
      if (absl::Status s = ExpectArgs(n, 0, 0); !s.ok()) return s;
      info.part = tp.part;
      return Result(id, CallKind::kDurationPart, Type::kInt);
    }
    if (recv.type != Type::kTimestamp) return BadReceiver(n, recv);
    if (absl::Status s = ExpectArgs(n, 0, 1); !s.ok()) return s;
    absl::TimeZone zone = default_zone_;
    std::string zone_name = options_.default_time_zone;
    if (n.children.size() == 2) {
      absl::StatusOr<std::string> text = LiteralString(n, n.children[1], "the time zone");
      if (!text.ok()) return text.status();
      absl::StatusOr<absl::TimeZone> z = LoadZone(*text);
      if (!z.ok()) {
        return Error(N(n.children[1]).pos,
                     Cat(z.status().message(),
                                  "; use an IANA name such as America/Los_Angeles, "
                                  "UTC, or a fixed offset such as +05:30"));
      }
      zone = *z;
      zone_name = *text;
    }
    auto it = zone_index_.find(zone_name);
    if (it == zone_index_.end()) {
      it = zone_index_.emplace(zone_name, static_cast<int>(out_->zones.size())).first;
      out_->zones.push_back(zone);
    }
    info.zone = it->second;
    info.part = tp.part;
    return Result(id, CallKind::kTimePart, Type::kInt);
  }

  CType ArgType(const Node& n, size_t i) { return I(n.children[i]).type; }

  absl::Status Result(int id, CallKind kind, Type t) {
    I(id).call = kind;
    I(id).type = Of(t);
    return absl::OkStatus();
  }

  absl::Status BadReceiver(const Node& n, const CType& t) const {
    return Error(n.name_pos, Cat(TypeString(t), " has no method ", n.name, "()"));
  }

  absl::Status CheckLocal(int id) {
    int local = FindLocal(N(id).name);
    I(id).local = local;
    I(id).type = scopes_[static_cast<size_t>(local)].second;
    return absl::OkStatus();
  }

  // The type conversions and dyn(): int(x), uint(x), double(x), string(x),
  // bytes(x), bool(x), timestamp(x), duration(x), type(x), dyn(x). nullopt
  // when `id` calls another function.
  std::optional<absl::Status> CheckConversion(int id) {
    const Node& n = N(id);
    NodeInfo& info = I(id);
    struct Target {
      std::string_view name;
      Type type;
      ConvertKind kind;
      std::initializer_list<Type> from;
    };
    static const Target kTargets[] = {
        {"int", Type::kInt, kConvInt, {Type::kDouble, Type::kString, Type::kTimestamp, Type::kUint}},
        {"uint", Type::kUint, kConvUint, {Type::kInt, Type::kDouble, Type::kString}},
        {"double", Type::kDouble, kConvDouble, {Type::kInt, Type::kString, Type::kUint}},
        {"string", Type::kString, kConvString,
         {Type::kInt, Type::kUint, Type::kDouble, Type::kBool, Type::kBytes, Type::kTimestamp,
          Type::kDuration}},
        {"bytes", Type::kBytes, kConvBytes, {Type::kString}},
        {"bool", Type::kBool, kConvBool, {Type::kString}},
        {"timestamp", Type::kTimestamp, kConvTimestamp, {Type::kString, Type::kInt}},
        {"duration", Type::kDuration, kConvDuration, {Type::kString}},
        {"type", Type::kType, kConvType, {}},
        {"dyn", Type::kDyn, kConvType, {}},
    };
    const Target* target = nullptr;
    for (const Target& t : kTargets) {
      if (t.name == n.name) target = &t;
    }
    if (target == nullptr) return std::nullopt;
    if (absl::Status s = ExpectArgs(n, 1, 1); !s.ok()) return s;
    int arg = n.children[0];
    const CType& from = I(arg).type;
    info.type = CType{target->type};
    if (target->name == "dyn") {
      info.call = CallKind::kIdentity;
      return absl::OkStatus();
    }
    if (target->name == "type") {
      info.call = CallKind::kConvert;
      info.part = kConvType;
      return absl::OkStatus();
    }
    if (from.type == target->type) {
      info.call = CallKind::kIdentity;
      return absl::OkStatus();
    }
    // timestamp('...') and duration('...') of a literal: parsed once, here.
    if ((target->type == Type::kTimestamp || target->type == Type::kDuration) &&
        N(arg).kind == NodeKind::kString) {
      return CheckTimeLiteral(id, N(arg).text);
    }
    bool ok = IsDyn(from);
    for (Type t : target->from) ok = ok || from.type == t;
    if (!ok) {
      return Error(n.name_pos, Cat(n.name, "() cannot convert ", TypeString(from)));
    }
    info.call = CallKind::kConvert;
    info.part = target->kind;
    return absl::OkStatus();
  }

  absl::Status CheckTimeLiteral(int id, const std::string& text) {
    const Node& n = N(id);
    NodeInfo& info = I(id);
    info.has_const = true;
    if (n.name == "timestamp") {
      int64_t seconds;
      int32_t nanos;
      if (!ParseRfc3339(text, &seconds, &nanos)) {
        return Error(N(n.children[0]).pos,
                     Cat("invalid timestamp \"", text,
                         "\": expected RFC 3339 such as 2026-06-01T17:00:00Z"));
      }
      info.const_value = Vm::MakeTimestamp(seconds, static_cast<uint32_t>(nanos));
      info.call = CallKind::kTimestampLiteral;
      return absl::OkStatus();
    }
    int64_t nanos;
    if (!ParseCelDuration(text, &nanos)) {
      return Error(N(n.children[0]).pos,
                   Cat("invalid duration \"", text,
                       "\": expected a number with h, m, s, ms, us or ns, such as 1h30m"));
    }
    info.const_value = Vm::MakeDuration(nanos);
    info.call = CallKind::kDurationLiteral;
    return absl::OkStatus();
  }

  // A comprehension macro; false when the call does not have a macro's shape
  // (then it is checked as an ordinary method, and fails as one).
  absl::StatusOr<bool> CheckMacro(int id) {
    const Node& n = N(id);
    int args = static_cast<int>(n.children.size()) - 1;
    const MacroName* form = nullptr;
    for (const MacroName& m : kMacros) {
      if (m.name != n.name || m.args != args) continue;
      bool idents = N(n.children[1]).kind == NodeKind::kIdent &&
                    (m.vars == 1 || N(n.children[2]).kind == NodeKind::kIdent);
      if (idents) form = &m;
    }
    if (form == nullptr) {
      for (const MacroName& m : kMacros) {
        if (m.name == n.name && m.args == args) {
          return Error(StartOf(n.children[1]),
                       Cat(n.name, "() needs a variable name as its first argument, such as ",
                           n.name, "(x, ...)"));
        }
      }
      return Error(n.name_pos, Cat(n.name, "() takes a variable and an expression, such as ",
                                   n.name, "(x, x > 0)"));
    }
    int range = n.children[0];
    if (absl::Status s = Check(range); !s.ok()) return s;
    const CType& r = I(range).type;
    if (!IsListType(r.type) && r.type != Type::kMap && !IsDyn(r)) {
      return Error(n.name_pos, Cat(n.name, "() needs a list or a map, not ", TypeString(r)));
    }
    if (form->kind == kIterTransformMap && r.type != Type::kMap && !IsDyn(r)) {
      return Error(n.name_pos, Cat("transformMap() needs a map, not ", TypeString(r)));
    }
    CType first;
    CType second;
    if (r.type == Type::kMap) {
      first = Of(r.key);
      second = Of(r.elem);
    } else if (IsDyn(r)) {
      first = second = CType{Type::kDyn};
    } else if (form->vars == 2) {
      first = CType{Type::kInt};
      second = Of(ElemOf(r));
    } else {
      first = Of(ElemOf(r));
    }
    MacroInfo macro;
    macro.kind = form->kind;
    size_t scope_size = scopes_.size();
    for (int v = 0; v < form->vars; ++v) {
      const Node& var = N(n.children[1 + v]);
      if (scopes_.size() >= kMaxLocals) {
        return LimitError(ast_.source, var.pos, "macros nest too deeply");
      }
      (v == 0 ? macro.var1 : macro.var2) = static_cast<int>(scopes_.size());
      scopes_.emplace_back(var.name, v == 0 ? first : second);
      max_locals_ = std::max(max_locals_, static_cast<int>(scopes_.size()));
    }
    int next = 1 + form->vars;
    if (form->filtered) macro.predicate = n.children[next++];
    macro.body = n.children[next];
    for (int part : {macro.predicate, macro.body}) {
      if (part < 0) continue;
      if (absl::Status s = Check(part); !s.ok()) return s;
    }
    scopes_.resize(scope_size);
    auto must_be_bool = [&](int part) -> absl::Status {
      const CType& t = I(part).type;
      if (t.type == Type::kBool || IsDyn(t)) return absl::OkStatus();
      return Error(StartOf(part),
                   Cat("the condition of ", n.name, "() must be a bool, not ", TypeString(t)));
    };
    if (macro.predicate >= 0) {
      if (absl::Status s = must_be_bool(macro.predicate); !s.ok()) return s;
    }
    NodeInfo& info = I(id);
    const CType& body = I(macro.body).type;
    switch (form->kind) {
      case kIterAll:
      case kIterExists:
      case kIterExistsOne:
      case kIterFilter:
        if (absl::Status s = must_be_bool(macro.body); !s.ok()) return s;
        info.type = form->kind == kIterFilter ? CType{Type::kList, ElemOf(r)} : CType{Type::kBool};
        if (form->kind == kIterFilter && r.type == Type::kMap) info.type.elem = r.key;
        if (IsDyn(r) && form->kind == kIterFilter) info.type.elem = Type::kDyn;
        break;
      case kIterMap:
        info.type = CType{Type::kList, body.type == Type::kStringList ? Type::kList : body.type};
        break;
      case kIterTransformMap:
        info.type = CType{Type::kMap, body.type, IsDyn(r) ? Type::kDyn : r.key};
        break;
    }
    info.call = CallKind::kMacro;
    info.macro = static_cast<int>(macros_.size());
    macros_.push_back(macro);
    return true;
  }

  absl::Status CompileRegex(int call, int pattern) {
    const Node& n = N(call);
    absl::StatusOr<std::string> text = LiteralString(n, pattern, "the pattern");
    if (!text.ok()) return text.status();
    re2::RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_max_mem(1 << 20);
    auto re = std::make_unique<re2::RE2>(*text, opts);
    if (!re->ok()) {
      return Error(N(pattern).pos, Cat("invalid regular expression: ", re->error()));
    }
    I(call).regex = static_cast<int>(out_->regexes.size());
    out_->regexes.push_back(std::move(re));
    return absl::OkStatus();
  }

  absl::Status Check(int id) {
    absl::Status s = CheckNode(id);
    if (s.ok() || !options_.unchecked || !absl::IsInvalidArgument(s)) return s;
    return DeferToRuntime(id);
  }

  // CompileOptions::unchecked: a sub-expression that fails type checking
  // becomes a constant error of type dyn, raised only if evaluation reaches
  // it, so &&, || and ?: may absorb it as in CEL's unchecked evaluation.
  // The error value keeps Error()'s message without the place: it carries its
  // offset, and Program::DescribeError adds line, column and excerpt.
  absl::Status DeferToRuntime(int id) {
    out_->messages.push_back(last_error_);
    NodeInfo& info = I(id);
    info = NodeInfo{};
    info.type = CType{Type::kDyn};
    info.has_const = true;
    info.const_value = Value::Error(out_->messages.back().c_str(), N(id).pos);
    return absl::OkStatus();
  }

  // && and ||: bool operands (or dyn, checked at run time).
  absl::Status CheckLogic(int id) {
    const Node& n = N(id);
    NodeInfo& info = I(id);
    for (int child : n.children) {
      if (absl::Status s = Check(child); !s.ok()) return s;
      const CType& t = I(child).type;
      // Unchecked: a non-bool operand is an error at run time, which the
      // other operand may absorb (`false && 32` is false).
      if (t.type != Type::kBool && !IsDyn(t) && !options_.unchecked) {
        return Error(StartOf(child),
                     Cat("operand of ", n.kind == NodeKind::kAnd ? "&&" : "||",
                                  " must be a bool, not ", TypeString(t)));
      }
    }
    info.type = CType{Type::kBool};
    return absl::OkStatus();
  }

  // c ? a : b: a bool condition, branches of one type (money literals
  // coerced, null taking the other's type, dyn making the result dyn).
  absl::Status CheckConditional(int id) {
    const Node& n = N(id);
    NodeInfo& info = I(id);
    for (int child : n.children) {
      if (absl::Status s = Check(child); !s.ok()) return s;
    }
    const CType& c = I(n.children[0]).type;
    if (c.type != Type::kBool && !IsDyn(c) && !options_.unchecked) {
      return Error(StartOf(n.children[0]),
                   Cat("condition of ?: must be a bool, not ", TypeString(c)));
    }
    int a = n.children[1];
    int b = n.children[2];
    if (I(a).type.type == Type::kMoney) {
      if (absl::Status s = CoerceToMoney(b); !s.ok()) return s;
    }
    if (I(b).type.type == Type::kMoney) {
      if (absl::Status s = CoerceToMoney(a); !s.ok()) return s;
    }
    const CType& ta = I(a).type;
    const CType& tb = I(b).type;
    if (IsDyn(ta) || IsDyn(tb)) {
      info.type = CType{Type::kDyn};
      return absl::OkStatus();
    }
    if (ta.type == Type::kNull || tb.type == Type::kNull) {
      info.type = ta.type == Type::kNull ? tb : ta;
      return absl::OkStatus();
    }
    if (ta.type != tb.type) {
      if (options_.unchecked) {  // the value of whichever branch runs
        info.type = CType{Type::kDyn};
        return absl::OkStatus();
      }
      return Error(n.pos, Cat("branches of ?: have different types, ",
                                       TypeString(ta), " and ", TypeString(tb)));
    }
    info.type = ta;
    return absl::OkStatus();
  }

  absl::Status CheckNode(int id) {
    const Node& n = N(id);
    NodeInfo& info = I(id);
    switch (n.kind) {
      case NodeKind::kNull: info.type = CType{Type::kNull}; return absl::OkStatus();
      case NodeKind::kBool: info.type = CType{Type::kBool}; return absl::OkStatus();
      case NodeKind::kInt: info.type = CType{Type::kInt}; return absl::OkStatus();
      case NodeKind::kDouble: info.type = CType{Type::kDouble}; return absl::OkStatus();
      case NodeKind::kString: info.type = CType{Type::kString}; return absl::OkStatus();
      case NodeKind::kUint: info.type = CType{Type::kUint}; return absl::OkStatus();
      case NodeKind::kBytes: info.type = CType{Type::kBytes}; return absl::OkStatus();
      case NodeKind::kMap: return CheckMapLiteral(id);
      case NodeKind::kIdent:
      case NodeKind::kSelect:
        return ResolvePath(id);
      case NodeKind::kList: {
        for (int child : n.children) {
          if (absl::Status s = Check(child); !s.ok()) return s;
        }
        RecomputeListType(id);
        return absl::OkStatus();
      }
      case NodeKind::kUnary:
        return CheckUnary(id);
      case NodeKind::kBinary:
        return CheckBinary(id);
      case NodeKind::kAnd:
      case NodeKind::kOr:
        return CheckLogic(id);
      case NodeKind::kCond:
        return CheckConditional(id);
      case NodeKind::kIndex:
        return CheckIndex(id);
      case NodeKind::kCall:
        return CheckCall(id);
    }
    return Error(n.pos, "unsupported expression");
  }

  // ! needs a bool; unary - a number, money or a duration.
  absl::Status CheckUnary(int id) {
    const Node& n = N(id);
    NodeInfo& info = I(id);
    if (absl::Status s = Check(n.children[0]); !s.ok()) return s;
    const CType& t = I(n.children[0]).type;
    if (IsDyn(t)) {
      info.type = CType{n.op == Op::kNot ? Type::kBool : Type::kDyn};
    } else if (n.op == Op::kNot) {
      if (t.type != Type::kBool) {
        return Error(n.pos, Cat("no operator ! for ", TypeString(t)));
      }
      info.type = CType{Type::kBool};
    } else {
      if (t.type != Type::kInt && t.type != Type::kDouble && t.type != Type::kMoney &&
          t.type != Type::kDuration) {
        return Error(n.pos, Cat("no operator - for ", TypeString(t)));
      }
      info.type = CType{t.type};
    }
    return absl::OkStatus();
  }

  // Comparisons and `in` are bool; the arithmetic operators are CheckArith's.
  absl::Status CheckBinary(int id) {
    const Node& n = N(id);
    NodeInfo& info = I(id);
    if (absl::Status s = Check(n.children[0]); !s.ok()) return s;
    if (absl::Status s = Check(n.children[1]); !s.ok()) return s;
    switch (n.op) {
      case Op::kEq:
      case Op::kNe:
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe:
        if (absl::Status s = CheckComparable(n.pos, n.op, n.children[0], n.children[1]);
            !s.ok()) {
          return s;
        }
        info.type = CType{Type::kBool};
        return absl::OkStatus();
      case Op::kIn:
        if (absl::Status s = CheckIn(n.pos, n.children[0], n.children[1]); !s.ok()) {
          return s;
        }
        info.type = CType{Type::kBool};
        return absl::OkStatus();
      default:
        return CheckArith(id);
    }
  }

  // l[k]: a map by a key of its key type, a list by an int or uint.
  absl::Status CheckIndex(int id) {
    const Node& n = N(id);
    NodeInfo& info = I(id);
    if (absl::Status s = Check(n.children[0]); !s.ok()) return s;
    if (absl::Status s = Check(n.children[1]); !s.ok()) return s;
    const CType& l = I(n.children[0]).type;
    const CType& k = I(n.children[1]).type;
    if (IsDyn(l)) {
      info.type = CType{Type::kDyn};
      return absl::OkStatus();
    }
    if (l.type == Type::kMap) {
      if (!MayEqual(k.type, l.key)) {
        return Error(StartOf(n.children[1]), Cat("key of ", TypeString(l), " cannot be ",
                                                 TypeString(k)));
      }
      info.type = Of(l.elem);
      return absl::OkStatus();
    }
    if (!IsListType(l.type)) {
      return Error(n.pos, Cat("cannot index ", TypeString(l),
                                       ": only lists and maps can be indexed"));
    }
    if (k.type != Type::kInt && k.type != Type::kUint && !IsDyn(k)) {
      return Error(StartOf(n.children[1]),
                   Cat("list index must be an int, not ", TypeString(k)));
    }
    info.type = Of(ElemOf(l));
    return absl::OkStatus();
  }

  // --- code generation -------------------------------------------------------
  void Emit(Opcode op, int stack_delta, uint32_t pos, uint32_t a = 0, uint32_t b = 0,
            uint8_t sub = 0, uint16_t c = 0) {
    Instr in;
    in.op = op;
    in.a = a;
    in.b = b;
    in.sub = sub;
    in.c = c;
    in.pos = pos;
    out_->code.push_back(in);
    depth_ += stack_delta;
    max_depth_ = std::max(max_depth_, depth_);
  }

  uint32_t Here() const { return static_cast<uint32_t>(out_->code.size()); }

  bool IsSlot(int id) const { return info_[static_cast<size_t>(id)].slot >= 0 &&
                                     info_[static_cast<size_t>(id)].call == CallKind::kNone; }

  bool IsConst(int id) const {
    const Node& n = N(id);
    // A literal call (timestamp('...')), a type name, or a deferred error.
    if (info_[static_cast<size_t>(id)].has_const) return true;
    switch (n.kind) {
      case NodeKind::kNull:
      case NodeKind::kBool:
      case NodeKind::kInt:
      case NodeKind::kDouble:
      case NodeKind::kString:
      case NodeKind::kUint:
      case NodeKind::kBytes:
        return true;
      case NodeKind::kMap:
        if (info_[static_cast<size_t>(id)].duplicate_keys) return false;
        [[fallthrough]];
      case NodeKind::kList:
        for (int child : n.children) {
          if (!IsConst(child)) return false;
        }
        return true;
      default:  // kCall, kIdent, kSelect: has_const, tested above
        return false;
    }
  }

  // The value of a constant node, stored in the program.
  Value ConstValue(int id) {
    const Node& n = N(id);
    const NodeInfo& info = I(id);
    if (info.money_literal) return Value::FromMoney(info.decimal);
    if (info.has_const) return info.const_value;  // a literal call, or a deferred error
    switch (n.kind) {
      case NodeKind::kNull: return Value::Null();
      case NodeKind::kBool: return Value::Bool(n.bool_value);
      case NodeKind::kInt: return Value::Int(n.int_value);
      case NodeKind::kDouble: return Value::Double(n.double_value);
      case NodeKind::kString: {
        out_->strings.push_back(n.text);
        return Value::String(out_->strings.back());
      }
      case NodeKind::kUint: return Value::Uint(static_cast<uint64_t>(n.int_value));
      case NodeKind::kBytes: {
        out_->strings.push_back(n.text);
        return Value::Bytes(out_->strings.back());
      }
      case NodeKind::kList:
      case NodeKind::kMap: {
        std::vector<Value> elements;
        elements.reserve(n.children.size());
        for (int child : n.children) elements.push_back(ConstValue(child));
        out_->lists.push_back(std::move(elements));
        if (n.kind == NodeKind::kMap) return Value::Map(out_->lists.back());
        return Value::List(out_->lists.back());
      }
      default:
        return info.const_value;
    }
  }

  uint32_t AddString(std::string_view text) {
    out_->strings.emplace_back(text);
    out_->consts.push_back(Value::String(out_->strings.back()));
    return static_cast<uint32_t>(out_->consts.size() - 1);
  }

  uint32_t AddConst(int id) {
    out_->consts.push_back(ConstValue(id));
    return static_cast<uint32_t>(out_->consts.size() - 1);
  }

  uint32_t AbsentMessage(int slot) {
    auto it = messages_.find(slot);
    if (it != messages_.end()) return it->second;
    uint32_t index = static_cast<uint32_t>(out_->messages.size());
    out_->messages.push_back(
        Cat(schema_.variable(Slot{static_cast<uint32_t>(slot)}).path, " is not set"));
    messages_.emplace(slot, index);
    return index;
  }

  uint32_t UseSlot(int id) {
    uint32_t slot = static_cast<uint32_t>(I(id).slot);
    slots_read_.push_back(slot);
    return slot;
  }

  absl::Status Emit(int id) {
    const Node& n = N(id);
    NodeInfo& info = I(id);
    if (IsConst(id)) {
      Emit(Opcode::kConst, +1, n.pos, AddConst(id));
      return absl::OkStatus();
    }
    switch (n.kind) {
      case NodeKind::kIdent:
      case NodeKind::kSelect: {
        if (info.local >= 0) {
          Emit(Opcode::kLoadLocal, +1, n.pos, static_cast<uint32_t>(info.local));
          return absl::OkStatus();
        }
        if (info.field) {
          if (absl::Status s = Emit(n.children[0]); !s.ok()) return s;
          Emit(Opcode::kSelectField, 0, n.name_pos, AddString(n.name));
          return absl::OkStatus();
        }
        uint32_t slot = UseSlot(id);
        Emit(Opcode::kLoad, +1, n.kind == NodeKind::kSelect ? ChainStart(id) : n.pos, slot,
             AbsentMessage(static_cast<int>(slot)));
        return absl::OkStatus();
      }
      case NodeKind::kList:
      case NodeKind::kMap: {
        for (int child : n.children) {
          if (absl::Status s = Emit(child); !s.ok()) return s;
        }
        int count = static_cast<int>(n.children.size());
        if (n.kind == NodeKind::kList) {
          Emit(Opcode::kMakeList, 1 - count, n.pos, static_cast<uint32_t>(count));
        } else {
          Emit(Opcode::kMakeMap, 1 - count, n.pos, static_cast<uint32_t>(count / 2));
        }
        return absl::OkStatus();
      }
      case NodeKind::kUnary:
        if (absl::Status s = Emit(n.children[0]); !s.ok()) return s;
        Emit(n.op == Op::kNot ? Opcode::kNot : Opcode::kNeg, 0, n.pos);
        return absl::OkStatus();
      case NodeKind::kBinary:
        return EmitBinary(id);
      case NodeKind::kAnd:
      case NodeKind::kOr: {
        bool is_and = n.kind == NodeKind::kAnd;
        std::vector<uint32_t> patches;
        std::vector<uint32_t> fused;
        for (size_t i = 0; i < n.children.size(); ++i) {
          uint32_t start = Here();
          if (absl::Status s = Emit(n.children[i]); !s.ok()) return s;
          Instr& last = out_->code.back();
          bool fusable = Here() == start + 1 && last.logic == kLogicPush &&
                         (last.op == Opcode::kCmpSlotConst ||
                          last.op == Opcode::kInSlotConstList ||
                          last.op == Opcode::kConstInSlot || last.op == Opcode::kHas);
          if (fusable) {
            // The test folds its own result into the chain.
            last.logic = i == 0 ? (is_and ? kLogicAndFirst : kLogicOrFirst)
                                : (is_and ? kLogicAndNext : kLogicOrNext);
            if (i > 0) --depth_;
            fused.push_back(start);
            continue;
          }
          patches.push_back(Here());
          Opcode op = i == 0 ? (is_and ? Opcode::kAndFirst : Opcode::kOrFirst)
                             : (is_and ? Opcode::kAndNext : Opcode::kOrNext);
          Emit(op, i == 0 ? 0 : -1, N(n.children[i]).pos);
        }
        for (uint32_t p : patches) out_->code[p].a = Here();
        for (uint32_t f : fused) out_->code[f].jump = Here();
        return absl::OkStatus();
      }
      case NodeKind::kCond: {
        if (absl::Status s = Emit(n.children[0]); !s.ok()) return s;
        uint32_t cond = Here();
        Emit(Opcode::kCond, -1, n.pos);
        if (absl::Status s = Emit(n.children[1]); !s.ok()) return s;
        uint32_t jump = Here();
        Emit(Opcode::kJump, -1, n.pos);
        out_->code[cond].a = Here();
        if (absl::Status s = Emit(n.children[2]); !s.ok()) return s;
        out_->code[cond].b = Here();
        out_->code[jump].a = Here();
        return absl::OkStatus();
      }
      case NodeKind::kIndex:
        if (absl::Status s = Emit(n.children[0]); !s.ok()) return s;
        if (absl::Status s = Emit(n.children[1]); !s.ok()) return s;
        Emit(Opcode::kIndex, -1, n.pos);
        return absl::OkStatus();
      case NodeKind::kCall:
        return EmitCall(id);
      default:
        break;
    }
    (void)info;
    return Error(n.pos, "unsupported expression");
  }

  uint32_t ChainStart(int id) const {
    int cur = id;
    while (N(cur).kind == NodeKind::kSelect) cur = N(cur).children[0];
    return N(cur).pos;
  }

  absl::Status EmitBinary(int id) {
    const Node& n = N(id);
    int lhs = n.children[0];
    int rhs = n.children[1];
    if (n.op == Op::kIn) {
      const Node& list = N(rhs);
      if (IsConst(rhs) && IsSlot(lhs)) {
        uint32_t slot = UseSlot(lhs);
        uint32_t message = AbsentMessage(static_cast<int>(slot));
        uint32_t c = AddConst(rhs);
        if (message > 0xffff) {
          Emit(Opcode::kLoad, +1, ChainStart(lhs), slot, message);
          Emit(Opcode::kConst, +1, n.pos, c);
          Emit(Opcode::kIn, -1, n.pos);
          return absl::OkStatus();
        }
        Emit(Opcode::kInSlotConstList, +1, ChainStart(lhs), slot, c, 0,
             static_cast<uint16_t>(message));
        return absl::OkStatus();
      }
      if (IsConst(lhs) && IsSlot(rhs)) {
        uint32_t slot = UseSlot(rhs);
        uint32_t message = AbsentMessage(static_cast<int>(slot));
        if (message <= 0xffff) {
          Emit(Opcode::kConstInSlot, +1, ChainStart(rhs), slot, AddConst(lhs), 0,
               static_cast<uint16_t>(message));
          return absl::OkStatus();
        }
      }
      if (list.kind == NodeKind::kList && !IsConst(rhs)) {
        if (absl::Status s = Emit(lhs); !s.ok()) return s;
        Emit(Opcode::kInBegin, +1, n.pos);
        for (int element : list.children) {
          if (absl::Status s = Emit(element); !s.ok()) return s;
          Emit(Opcode::kInElem, -1, n.pos);
        }
        Emit(Opcode::kInEnd, -1, n.pos);
        return absl::OkStatus();
      }
      if (absl::Status s = Emit(lhs); !s.ok()) return s;
      if (absl::Status s = Emit(rhs); !s.ok()) return s;
      Emit(Opcode::kIn, -1, n.pos);
      return absl::OkStatus();
    }
    bool comparison = n.op == Op::kEq || n.op == Op::kNe || n.op == Op::kLt ||
                      n.op == Op::kLe || n.op == Op::kGt || n.op == Op::kGe;
    if (comparison) {
      CmpKind kind = CmpOf(n.op);
      int var = -1;
      int constant = -1;
      if (IsSlot(lhs) && IsConst(rhs)) {
        var = lhs;
        constant = rhs;
      } else if (IsConst(lhs) && IsSlot(rhs)) {
        var = rhs;
        constant = lhs;
        kind = Mirror(kind);
      }
      if (var >= 0) {
        uint32_t slot = UseSlot(var);
        uint32_t message = AbsentMessage(static_cast<int>(slot));
        if (message <= 0xffff) {
          Emit(Opcode::kCmpSlotConst, +1, ChainStart(var), slot, AddConst(constant), kind,
               static_cast<uint16_t>(message));
          return absl::OkStatus();
        }
      }
      if (IsConst(rhs) || IsConst(lhs)) {
        int other = IsConst(rhs) ? lhs : rhs;
        int constant_side = IsConst(rhs) ? rhs : lhs;
        CmpKind k = IsConst(rhs) ? CmpOf(n.op) : Mirror(CmpOf(n.op));
        if (absl::Status s = Emit(other); !s.ok()) return s;
        Emit(Opcode::kCmpConst, 0, n.pos, AddConst(constant_side), 0, k);
        return absl::OkStatus();
      }
      if (absl::Status s = Emit(lhs); !s.ok()) return s;
      if (absl::Status s = Emit(rhs); !s.ok()) return s;
      Emit(Opcode::kCmp, -1, n.pos, 0, 0, kind);
      return absl::OkStatus();
    }
    if (absl::Status s = Emit(lhs); !s.ok()) return s;
    if (absl::Status s = Emit(rhs); !s.ok()) return s;
    Emit(Opcode::kArith, -1, n.pos, 0, 0, ArithOf(n.op));
    return absl::OkStatus();
  }

  absl::Status EmitCall(int id) {
    const Node& n = N(id);
    const NodeInfo& info = I(id);
    auto emit_children = [&]() -> absl::Status {
      for (int child : n.children) {
        if (absl::Status s = Emit(child); !s.ok()) return s;
      }
      return absl::OkStatus();
    };
    switch (info.call) {
      case CallKind::kHas: {
        uint32_t slot = static_cast<uint32_t>(info.slot);
        slots_read_.push_back(slot);
        Emit(Opcode::kHas, +1, n.pos, slot);
        return absl::OkStatus();
      }
      case CallKind::kSize: {
        int arg = n.children[0];
        if (IsConst(arg) && N(arg).kind == NodeKind::kList) {
          out_->consts.push_back(Value::Int(static_cast<int64_t>(N(arg).children.size())));
          Emit(Opcode::kConst, +1, n.pos, static_cast<uint32_t>(out_->consts.size() - 1));
          return absl::OkStatus();
        }
        if (absl::Status s = Emit(arg); !s.ok()) return s;
        Emit(Opcode::kSize, 0, n.name_pos);
        return absl::OkStatus();
      }
      case CallKind::kStartsWith:
      case CallKind::kEndsWith:
      case CallKind::kContains: {
        if (absl::Status s = emit_children(); !s.ok()) return s;
        Opcode op = info.call == CallKind::kStartsWith ? Opcode::kStartsWith
                    : info.call == CallKind::kEndsWith ? Opcode::kEndsWith
                                                       : Opcode::kContains;
        Emit(op, -1, n.name_pos);
        return absl::OkStatus();
      }
      case CallKind::kMatches:
        if (absl::Status s = Emit(n.children[0]); !s.ok()) return s;
        Emit(Opcode::kMatches, 0, n.name_pos, static_cast<uint32_t>(info.regex));
        return absl::OkStatus();
      case CallKind::kLowerAscii:
      case CallKind::kUpperAscii:
        if (absl::Status s = Emit(n.children[0]); !s.ok()) return s;
        Emit(info.call == CallKind::kLowerAscii ? Opcode::kLowerAscii : Opcode::kUpperAscii, 0,
             n.name_pos);
        return absl::OkStatus();
      case CallKind::kTimePart:
        if (absl::Status s = Emit(n.children[0]); !s.ok()) return s;
        Emit(Opcode::kTimePart, 0, n.name_pos, static_cast<uint32_t>(info.zone), 0, info.part);
        return absl::OkStatus();
      case CallKind::kDurationPart:
        if (absl::Status s = Emit(n.children[0]); !s.ok()) return s;
        Emit(Opcode::kDurationPart, 0, n.name_pos, 0, 0, info.part);
        return absl::OkStatus();
      case CallKind::kIdentity:
        return Emit(n.children[0]);
      case CallKind::kConvert:
        if (absl::Status s = Emit(n.children[0]); !s.ok()) return s;
        Emit(Opcode::kConvert, 0, n.name_pos, 0, 0, info.part);
        return absl::OkStatus();
      case CallKind::kHasField: {
        const Node& sel = N(n.children[0]);
        if (absl::Status s = Emit(sel.children[0]); !s.ok()) return s;
        Emit(Opcode::kHasField, 0, sel.name_pos, AddString(sel.name));
        return absl::OkStatus();
      }
      case CallKind::kMacro:
        return EmitMacro(id);
      case CallKind::kToInt:
        if (absl::Status s = Emit(n.children[0]); !s.ok()) return s;
        Emit(Opcode::kToInt, 0, n.name_pos);
        return absl::OkStatus();
      case CallKind::kToDouble:
        if (absl::Status s = Emit(n.children[0]); !s.ok()) return s;
        Emit(Opcode::kToDouble, 0, n.name_pos);
        return absl::OkStatus();
      case CallKind::kTimestampLiteral:
      case CallKind::kDurationLiteral:
      case CallKind::kNone:
        break;
    }
    return Error(n.pos, "unsupported call");
  }

  // range; init; loop: next; [filter;] body; step; done: end
  absl::Status EmitMacro(int id) {
    const Node& n = N(id);
    const MacroInfo& m = macros_[static_cast<size_t>(I(id).macro)];
    if (absl::Status s = Emit(n.children[0]); !s.ok()) return s;
    uint32_t init = Here();
    Emit(Opcode::kIterInit, +2, n.name_pos, 0, 0, m.kind);
    uint32_t loop = Here();
    Emit(Opcode::kIterNext, 0, n.name_pos, static_cast<uint32_t>(m.var1),
         m.var2 < 0 ? kNoLocal : static_cast<uint32_t>(m.var2));
    uint32_t filter = 0;
    if (m.predicate >= 0) {
      if (absl::Status s = Emit(m.predicate); !s.ok()) return s;
      filter = Here();
      Emit(Opcode::kIterFilter, -1, StartOf(m.predicate), loop);
    }
    if (absl::Status s = Emit(m.body); !s.ok()) return s;
    uint32_t step = Here();
    Emit(Opcode::kIterStep, -1, StartOf(m.body), loop, 0, m.kind,
         static_cast<uint16_t>(m.var1));
    uint32_t done = Here();
    Emit(Opcode::kIterEnd, -2, n.name_pos, 0, 0, m.kind);
    out_->code[init].a = Here();
    out_->code[loop].jump = done;
    if (m.predicate >= 0) out_->code[filter].b = done;
    out_->code[step].b = done;
    return absl::OkStatus();
  }

  const Ast& ast_;
  const Schema& schema_;
  const CompileOptions& options_;
  ProgramImpl* out_;
  std::vector<NodeInfo> info_;
  absl::flat_hash_set<std::string> roots_;
  absl::flat_hash_set<std::string> namespaces_;
  absl::flat_hash_map<std::string, int> zone_index_;
  absl::flat_hash_map<int, uint32_t> messages_;
  absl::TimeZone default_zone_;
  std::vector<uint32_t> slots_read_;
  std::vector<std::pair<std::string, CType>> scopes_;  // macro variables in scope
  mutable std::string last_error_;  // the message of the last Error()
  std::vector<MacroInfo> macros_;
  int max_locals_ = 0;
  int depth_ = 0;
  int max_depth_ = 0;
};

absl::StatusOr<Program> CompileImpl(std::string_view source, const Schema& schema,
                                    const CompileOptions& options, bool require_bool,
                                    std::shared_ptr<const ProgramImpl>* out) {
  ParseLimits limits;
  limits.max_depth = options.max_depth;
  limits.max_source_bytes = options.max_source_bytes;
  limits.max_nodes = options.max_nodes;
  absl::StatusOr<Ast> ast = Parse(source, limits);
  if (!ast.ok()) return ast.status();
  auto impl = std::make_shared<ProgramImpl>();
  impl->source = ast->source;
  Compiler compiler(*ast, schema, options, impl.get());
  if (absl::Status s = compiler.Run(require_bool); !s.ok()) return s;
  *out = std::move(impl);
  return Program();
}

}  // namespace
}  // namespace internal

absl::StatusOr<Program> Compile(std::string_view source, const Schema& schema,
                                const CompileOptions& options) {
  std::shared_ptr<const internal::ProgramImpl> impl;
  absl::StatusOr<Program> program =
      internal::CompileImpl(source, schema, options, /*require_bool=*/false, &impl);
  if (!program.ok()) return program.status();
  program->impl_ = std::move(impl);
  return program;
}

absl::StatusOr<Program> CompileFilter(std::string_view source, const Schema& schema,
                                      const CompileOptions& options) {
  std::shared_ptr<const internal::ProgramImpl> impl;
  absl::StatusOr<Program> program =
      internal::CompileImpl(source, schema, options, /*require_bool=*/true, &impl);
  if (!program.ok()) return program.status();
  program->impl_ = std::move(impl);
  return program;
}

}  // namespace herald::expr
