// CEL's own conformance suite (google/cel-spec, tests/simple/testdata) run
// through Herald's compiler and evaluator.
//
// Every test of the files in kFiles is compiled against a Schema made from the
// test's declarations, evaluated with the test's bindings, and classified:
//   passed         Herald's value (or error) is what CEL expects; an expected
//                  evaluation error that Herald's type checker already rejects
//                  also counts (the expression never yields a value);
//   wrong          Herald yields a different value, or a value where CEL
//                  expects an error: always a failure;
//   rejected       Herald does not compile an expression CEL gives a value.
// A rejected test must be listed, with its reason, in one of two files next
// to this test: cel_conformance/not_applicable.txt (it needs protobuf message
// types or extensions, which Herald deliberately does not have) or
// cel_conformance/not_yet_supported.txt (language Herald does not have yet).
// A listed test that passes fails the run too, so the lists only shrink.
// The run prints a per-file table: passed, failed, not applicable, not yet.
//
// The suite is found through HERALD_CEL_SPEC_DIR, else ../shared/cel-spec
// beside the source tree; without it the test is reported skipped.
// HERALD_CEL_WRITE_NOT_YET=<file> writes the rejected, unlisted tests (with
// Herald's message) to <file>, to refresh the not-yet list while developing.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "pg_test.h"

#ifdef HERALD_CEL_SPEC_PROTOS
#include <cmath>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "cel/expr/conformance/test/simple.pb.h"
#include "fmt/format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/wrappers.pb.h"
#include "herald/expr.h"
#endif

namespace herald::expr {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFiles[] = {"basic",        "comparisons", "conversions", "fp_math",
                                  "integer_math", "lists",       "logic",       "macros",
                                  "macros2",      "parse",       "string",      "timestamps",
                                  "fields"};

std::string SpecDir() {
  if (const char* env = std::getenv("HERALD_CEL_SPEC_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  fs::path beside = fs::path(HERALD_SOURCE_DIR).parent_path() / "shared" / "cel-spec";
  if (fs::exists(beside)) return beside.string();
#ifdef HERALD_CEL_SPEC_DIR_DEFAULT
  return HERALD_CEL_SPEC_DIR_DEFAULT;
#else
  return beside.string();
#endif
}

// "name<TAB>reason" lines; '#' starts a comment line.
std::map<std::string, std::string> ReadList(const fs::path& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t tab = line.find('\t');
    std::string name = line.substr(0, tab);
    std::string reason = tab == std::string::npos ? "" : line.substr(tab + 1);
    out.emplace(name, reason);
  }
  return out;
}

#ifdef HERALD_CEL_SPEC_PROTOS

namespace cel = ::cel::expr;
namespace pb = ::google::protobuf;

// Storage for the strings and lists a test's bindings and Herald's values
// borrow.
struct Arena {
  std::deque<std::string> strings;
  std::deque<std::vector<Value>> lists;
  std::deque<std::vector<std::string_view>> string_lists;
};

// The Herald type of a declaration, or an empty optional with the reason.
std::optional<Type> HeraldType(const cel::Type& t, std::string* why) {
  switch (t.type_kind_case()) {
    case cel::Type::kPrimitive:
      switch (t.primitive()) {
        case cel::Type::BOOL: return Type::kBool;
        case cel::Type::INT64: return Type::kInt;
        case cel::Type::UINT64: return Type::kUint;
        case cel::Type::DOUBLE: return Type::kDouble;
        case cel::Type::STRING: return Type::kString;
        case cel::Type::BYTES: return Type::kBytes;
        default: break;
      }
      break;
    case cel::Type::kDyn: return Type::kDyn;
    case cel::Type::kNull: return Type::kDyn;  // null_type: only null, checked at run time
    case cel::Type::kMapType: return Type::kMap;
    case cel::Type::kWellKnown:
      if (t.well_known() == cel::Type::TIMESTAMP) return Type::kTimestamp;
      if (t.well_known() == cel::Type::DURATION) return Type::kDuration;
      break;
    case cel::Type::kMessageType:
      if (t.message_type() == "google.protobuf.Timestamp") return Type::kTimestamp;
      if (t.message_type() == "google.protobuf.Duration") return Type::kDuration;
      break;
    case cel::Type::kListType:
      if (t.list_type().elem_type().primitive() == cel::Type::STRING) return Type::kStringList;
      return Type::kList;
    default:
      break;
  }
  *why = "declaration of type " + t.ShortDebugString();
  return std::nullopt;
}

// The Herald value of a binding, or an empty optional with the reason.
std::optional<Value> HeraldValue(const cel::Value& v, Type declared, Arena* arena,
                                 std::string* why) {
  switch (v.kind_case()) {
    case cel::Value::kNullValue: return Value::Null();
    case cel::Value::kBoolValue: return Value::Bool(v.bool_value());
    case cel::Value::kInt64Value: return Value::Int(v.int64_value());
    case cel::Value::kUint64Value: return Value::Uint(v.uint64_value());
    case cel::Value::kBytesValue:
      arena->strings.push_back(v.bytes_value());
      return Value::Bytes(arena->strings.back());
    case cel::Value::kMapValue: {
      std::vector<Value> kv;
      for (const auto& entry : v.map_value().entries()) {
        for (const cel::Value* part : {&entry.key(), &entry.value()}) {
          std::optional<Value> e = HeraldValue(*part, Type::kDyn, arena, why);
          if (!e) return std::nullopt;
          kv.push_back(*e);
        }
      }
      arena->lists.push_back(std::move(kv));
      return Value::Map(arena->lists.back());
    }
    case cel::Value::kDoubleValue: return Value::Double(v.double_value());
    case cel::Value::kStringValue:
      arena->strings.push_back(v.string_value());
      return Value::String(arena->strings.back());
    case cel::Value::kListValue: {
      if (declared == Type::kStringList) {
        std::vector<std::string_view> elements;
        for (const cel::Value& e : v.list_value().values()) {
          if (e.kind_case() != cel::Value::kStringValue) break;
          arena->strings.push_back(e.string_value());
          elements.push_back(arena->strings.back());
        }
        if (elements.size() == static_cast<size_t>(v.list_value().values_size())) {
          arena->string_lists.push_back(std::move(elements));
          return Value::StringList(arena->string_lists.back());
        }
        break;
      }
      std::vector<Value> elements;
      for (const cel::Value& e : v.list_value().values()) {
        std::optional<Value> element = HeraldValue(e, Type::kDyn, arena, why);
        if (!element) return std::nullopt;
        elements.push_back(*element);
      }
      arena->lists.push_back(std::move(elements));
      return Value::List(arena->lists.back());
    }
    case cel::Value::kObjectValue: {
      const pb::Any& any = v.object_value();
      pb::Timestamp ts;
      pb::Duration d;
      if (any.UnpackTo(&ts)) {
        return Value::Timestamp(absl::FromUnixSeconds(ts.seconds()) +
                                absl::Nanoseconds(ts.nanos()));
      }
      if (any.UnpackTo(&d)) {
        return Value::Duration(absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos()));
      }
      break;
    }
    default:
      break;
  }
  *why = "binding " + v.ShortDebugString();
  return std::nullopt;
}

bool SameDouble(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b;
}

// Whether Herald's value `got` is CEL's expected value `want`.
bool Matches(const Value& got, const cel::Value& want) {
  switch (want.kind_case()) {
    case cel::Value::kNullValue: return got.type() == Type::kNull;
    case cel::Value::kBoolValue:
      return got.type() == Type::kBool && got.bool_value() == want.bool_value();
    case cel::Value::kInt64Value:
      return got.type() == Type::kInt && got.int_value() == want.int64_value();
    case cel::Value::kUint64Value:
      return got.type() == Type::kUint && got.uint_value() == want.uint64_value();
    case cel::Value::kBytesValue:
      return got.type() == Type::kBytes && got.bytes_value() == want.bytes_value();
    case cel::Value::kTypeValue:
      return got.type() == Type::kType && got.type_name() == want.type_value();
    case cel::Value::kMapValue: {
      if (got.type() != Type::kMap) return false;
      auto kv = got.map_entries();
      const auto& entries = want.map_value().entries();
      if (kv.size() != 2 * static_cast<size_t>(entries.size())) return false;
      for (const auto& entry : entries) {
        bool found = false;
        for (size_t i = 0; i < kv.size() && !found; i += 2) {
          found = Matches(kv[i], entry.key()) && Matches(kv[i + 1], entry.value());
        }
        if (!found) return false;
      }
      return true;
    }
    case cel::Value::kDoubleValue:
      return got.type() == Type::kDouble && SameDouble(got.double_value(), want.double_value());
    case cel::Value::kStringValue:
      return got.type() == Type::kString && got.string_value() == want.string_value();
    case cel::Value::kListValue: {
      const auto& values = want.list_value().values();
      if (got.type() == Type::kStringList) {
        auto list = got.string_list();
        if (list.size() != static_cast<size_t>(values.size())) return false;
        for (size_t i = 0; i < list.size(); ++i) {
          if (!Matches(Value::String(list[i]), values[static_cast<int>(i)])) return false;
        }
        return true;
      }
      if (got.type() != Type::kList) return false;
      auto list = got.list_values();
      if (list.size() != static_cast<size_t>(values.size())) return false;
      for (size_t i = 0; i < list.size(); ++i) {
        if (!Matches(list[i], values[static_cast<int>(i)])) return false;
      }
      return true;
    }
    case cel::Value::kObjectValue: {
      const pb::Any& any = want.object_value();
      pb::Timestamp ts;
      pb::Duration d;
      if (any.UnpackTo(&ts)) {
        return got.type() == Type::kTimestamp &&
               got.timestamp_value() ==
                   absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
      }
      if (any.UnpackTo(&d)) {
        return got.type() == Type::kDuration &&
               got.duration_value() == absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
      }
      return false;
    }
    default:
      return false;
  }
}

// The suite's TestAllTypes messages (proto2, its extensions, proto3), which
// tests write as Any payloads, e.g. `object_value { [type.googleapis.com/
// cel.expr.conformance.proto3.TestAllTypes] { single_int64: 1 } }`. They are
// loaded from protoc's descriptor set rather than compiled in (see
// CMakeLists.txt), and the text parser finds them through this Finder; the
// well-known types they import come from the generated pool underneath.
class SuiteMessages : public pb::TextFormat::Finder {
 public:
  // An error message, or empty once every file of the set is in the pool.
  std::string Load(const std::string& descriptor_set_path) {
    std::ifstream in(descriptor_set_path, std::ios::binary);
    pb::FileDescriptorSet set;
    if (!in || !set.ParseFromIstream(&in)) {
      return "cannot read the descriptor set " + descriptor_set_path;
    }
    for (const pb::FileDescriptorProto& file : set.file()) {  // protoc orders imports first
      if (pb::DescriptorPool::generated_pool()->FindFileByName(file.name()) != nullptr) continue;
      if (pool_.BuildFile(file) == nullptr) {
        return "cannot build " + file.name() + " from " + descriptor_set_path;
      }
    }
    return "";
  }

  const pb::Descriptor* FindAnyType(const pb::Message& message, const std::string& prefix,
                                    const std::string& name) const override {
    if (prefix != "type.googleapis.com/" && prefix != "type.googleprod.com/") return nullptr;
    return pool_.FindMessageTypeByName(name);
  }

  // Only for extensions defined in the loaded files: the parser also asks for
  // ordinary message fields, and a dynamic message placed in a generated
  // message's field would be the wrong type.
  pb::MessageFactory* FindExtensionFactory(const pb::FieldDescriptor* field) const override {
    return field->is_extension() && field->file()->pool() == &pool_ ? &factory_ : nullptr;
  }

 private:
  pb::DescriptorPool pool_{pb::DescriptorPool::generated_pool()};
  mutable pb::DynamicMessageFactory factory_{&pool_};
};

enum class Outcome { kPassed, kWrong, kRejected };

struct Result {
  Outcome outcome = Outcome::kRejected;
  std::string detail;  // why it was rejected, or what was wrong
};

// "1:5: unknown variable x" of a compile error, without its excerpt.
std::string FirstLine(absl::string_view message) {
  return std::string(message.substr(0, message.find('\n')));
}

Result RunOne(const cel::conformance::test::SimpleTest& test) {
  Result r;
  Arena arena;
  Schema schema(Schema::NameRules::kCel);  // the suite is written to CEL's naming rules
  std::vector<std::pair<Slot, Value>> bound;
  for (const cel::Decl& decl : test.type_env()) {
    if (!decl.has_ident()) {
      r.detail = "function declaration " + decl.name();
      return r;
    }
    std::optional<Type> type = HeraldType(decl.ident().type(), &r.detail);
    if (!type) return r;
    const cel::Type& ct = decl.ident().type();
    std::string ignored;
    auto inner = [&](const cel::Type& t) {
      std::optional<Type> h = HeraldType(t, &ignored);
      return h && *h != Type::kStringList ? *h : Type::kDyn;
    };
    absl::StatusOr<Slot> slot =
        *type == Type::kMap    ? schema.DeclareMap(decl.name(), inner(ct.map_type().key_type()),
                                                   inner(ct.map_type().value_type()))
        : *type == Type::kList ? schema.DeclareList(decl.name(), inner(ct.list_type().elem_type()))
                               : schema.Declare(decl.name(), *type);
    if (!slot.ok()) {
      r.detail = std::string(slot.status().message());
      return r;
    }
  }
  for (const auto& [name, expr_value] : test.bindings()) {
    Slot slot = schema.Find(name);
    if (!slot.valid()) {
      // An undeclared binding (a test without type checking): declare it from
      // its value.
      Type t;
      switch (expr_value.value().kind_case()) {
        case cel::Value::kNullValue: t = Type::kDyn; break;
        case cel::Value::kUint64Value: t = Type::kUint; break;
        case cel::Value::kBytesValue: t = Type::kBytes; break;
        case cel::Value::kBoolValue: t = Type::kBool; break;
        case cel::Value::kInt64Value: t = Type::kInt; break;
        case cel::Value::kDoubleValue: t = Type::kDouble; break;
        case cel::Value::kStringValue: t = Type::kString; break;
        default:
          r.detail = "undeclared binding " + name + " " + expr_value.ShortDebugString();
          return r;
      }
      absl::StatusOr<Slot> declared = schema.Declare(name, t);
      if (!declared.ok()) {
        r.detail = std::string(declared.status().message());
        return r;
      }
      slot = *declared;
    }
    if (!expr_value.has_value()) {
      r.detail = "binding of " + name + " is not a value";
      return r;
    }
    std::optional<Value> v =
        HeraldValue(expr_value.value(), schema.variable(slot).type, &arena, &r.detail);
    if (!v) return r;
    bound.emplace_back(slot, *v);
  }
  using Test = cel::conformance::test::SimpleTest;
  bool want_error = test.result_matcher_case() == Test::kEvalError ||
                    test.result_matcher_case() == Test::kAnyEvalErrors;
  absl::StatusOr<Program> program = Compile(test.expr(), schema);
  // A test written for CEL's unchecked evaluation (disable_check) that fails
  // type checking runs again compiled unchecked: its type errors become
  // runtime errors that &&, || and ?: may absorb.
  std::string checked_error;
  if (!program.ok() && test.disable_check() && absl::IsInvalidArgument(program.status())) {
    checked_error = FirstLine(program.status().message());
    CompileOptions unchecked;
    unchecked.unchecked = true;
    program = Compile(test.expr(), schema, unchecked);
  }
  if (!program.ok()) {
    r.outcome = want_error ? Outcome::kPassed : Outcome::kRejected;
    r.detail = FirstLine(program.status().message());
    return r;
  }
  if (test.check_only()) {
    r.outcome = Outcome::kPassed;
    return r;
  }
  Activation activation(schema);
  for (const auto& [slot, v] : bound) activation.Set(slot, v);
  Value got = program->Evaluate(activation);
  r.detail = "got " + got.DebugString();
  if (!checked_error.empty() && got.is_error() && !want_error) {
    // Evaluation reached a sub-expression Herald could not type: Herald
    // rejects this test (as when it does not compile), it does not answer it.
    r.outcome = Outcome::kRejected;
    r.detail = checked_error;
    return r;
  }
  switch (test.result_matcher_case()) {
    case Test::kEvalError:
    case Test::kAnyEvalErrors:
      r.outcome = got.is_error() ? Outcome::kPassed : Outcome::kWrong;
      r.detail += ", CEL expects an error";
      return r;
    case Test::kTypedResult:
      r.outcome = Matches(got, test.typed_result().result()) ? Outcome::kPassed : Outcome::kWrong;
      r.detail += ", CEL expects " + test.typed_result().result().ShortDebugString();
      return r;
    case Test::kValue:
      r.outcome = Matches(got, test.value()) ? Outcome::kPassed : Outcome::kWrong;
      r.detail += ", CEL expects " + test.value().ShortDebugString();
      return r;
    case Test::RESULT_MATCHER_NOT_SET:
      // No matcher: CEL expects true.
      r.outcome = got.type() == Type::kBool && got.bool_value() ? Outcome::kPassed
                                                                 : Outcome::kWrong;
      r.detail += ", CEL expects true";
      return r;
    default:
      r.outcome = Outcome::kRejected;
      r.detail = "unknowns are not part of Herald's language";
      return r;
  }
}

struct FileCounts {
  int passed = 0;
  int failed = 0;
  int not_applicable = 0;
  int not_yet = 0;
};

TEST_CASE("CEL conformance suite", "[expr][cel-spec]") {
  fs::path spec = SpecDir();
  fs::path data = spec / "tests" / "simple" / "testdata";
  if (!fs::exists(data / "basic.textproto")) {
    testing::SkipTest("the CEL conformance suite is not at " + data.string() +
                      " (set HERALD_CEL_SPEC_DIR to a google/cel-spec checkout)");
    return;
  }
  fs::path lists = fs::path(HERALD_SOURCE_DIR) / "test" / "expr" / "cel_conformance";
  std::map<std::string, std::string> not_applicable = ReadList(lists / "not_applicable.txt");
  std::map<std::string, std::string> not_yet = ReadList(lists / "not_yet_supported.txt");
  std::set<std::string> seen;
  std::vector<std::string> failures;
  std::vector<std::pair<std::string, std::string>> unlisted_rejections;
  std::map<std::string, FileCounts> table;
  SuiteMessages messages;
  std::string load_error = messages.Load(HERALD_CEL_MESSAGE_DESCRIPTORS);
  INFO(load_error);
  REQUIRE(load_error.empty());
  pb::TextFormat::Parser parser;
  parser.SetFinder(&messages);
  for (const char* file : kFiles) {
    std::ifstream in(data / (std::string(file) + ".textproto"));
    std::stringstream text;
    text << in.rdbuf();
    cel::conformance::test::SimpleTestFile suite;
    if (!parser.ParseFromString(text.str(), &suite)) {
      failures.push_back(std::string(file) + ".textproto: does not parse");
      continue;
    }
    FileCounts& counts = table[file];
    for (const auto& section : suite.section()) {
      for (const auto& test : section.test()) {
        std::string name = fmt::format("{}/{}/{}", file, section.name(), test.name());
        seen.insert(name);
        Result r = RunOne(test);
        bool is_na = not_applicable.contains(name);
        bool is_not_yet = not_yet.contains(name);
        switch (r.outcome) {
          case Outcome::kWrong:
            ++counts.failed;
            failures.push_back(fmt::format("WRONG {}: `{}`: {}", name, test.expr(), r.detail));
            break;
          case Outcome::kPassed:
            if (is_na || is_not_yet) {
              ++counts.failed;
              failures.push_back(fmt::format("{} now passes: remove it from {}", name,
                                             is_na ? "not_applicable.txt" : "not_yet_supported.txt"));
            } else {
              ++counts.passed;
            }
            break;
          case Outcome::kRejected:
            if (is_na) {
              ++counts.not_applicable;
            } else if (is_not_yet) {
              ++counts.not_yet;
            } else {
              ++counts.failed;
              failures.push_back(fmt::format("REJECTED {}: `{}`: {}", name, test.expr(), r.detail));
              unlisted_rejections.emplace_back(name, r.detail);
            }
            break;
        }
      }
    }
  }
  for (const auto* list : {&not_applicable, &not_yet}) {
    for (const auto& [name, reason] : *list) {
      if (!seen.contains(name)) failures.push_back(name + " is listed but is not in the suite");
    }
  }
  if (const char* out = std::getenv("HERALD_CEL_WRITE_NOT_YET"); out != nullptr && *out) {
    std::ofstream w(out);
    for (const auto& [name, reason] : not_yet) {
      bool passes = std::find(failures.begin(), failures.end(),
                              name + " now passes: remove it from not_yet_supported.txt") !=
                    failures.end();
      if (!passes) w << name << '\t' << reason << '\n';
    }
    for (const auto& [name, reason] : unlisted_rejections) w << name << '\t' << reason << '\n';
  }
  FileCounts total;
  std::cout << fmt::format("{:<14} {:>7} {:>7} {:>6} {:>8}\n", "file", "passed", "failed",
                           "n.a.", "not yet");
  for (const char* file : kFiles) {
    const FileCounts& c = table[file];
    std::cout << fmt::format("{:<14} {:>7} {:>7} {:>6} {:>8}\n", file, c.passed, c.failed,
                             c.not_applicable, c.not_yet);
    total.passed += c.passed;
    total.failed += c.failed;
    total.not_applicable += c.not_applicable;
    total.not_yet += c.not_yet;
  }
  std::cout << fmt::format("{:<14} {:>7} {:>7} {:>6} {:>8}\n", "total", total.passed,
                           total.failed, total.not_applicable, total.not_yet);
  for (const std::string& f : failures) UNSCOPED_INFO(f);
  CHECK(failures.empty());
}

#else  // !HERALD_CEL_SPEC_PROTOS

TEST_CASE("CEL conformance suite", "[expr][cel-spec]") {
  testing::SkipTest(std::string("the CEL conformance suite was not found when the build was "
                                "configured (looked at ") +
                    SpecDir() + "; set HERALD_CEL_SPEC_DIR and re-run cmake)");
}

#endif  // HERALD_CEL_SPEC_PROTOS

}  // namespace
}  // namespace herald::expr
