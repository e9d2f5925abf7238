// The compiled form of an expression (internal): postfix bytecode over a
// fixed-size value stack, with constants, regular expressions and time zones
// resolved at compile time.
#ifndef HERALD_LIB_EXPR_PROGRAM_H_
#define HERALD_LIB_EXPR_PROGRAM_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "herald/expr.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace herald::expr::internal {

// The deepest value stack a program may need; Compile rejects deeper ones.
inline constexpr uint32_t kMaxStack = 512;
// Scratch space one evaluation may use for computed strings.
inline constexpr size_t kMaxScratchBytes = size_t{64} << 20;

enum class Opcode : uint8_t {
  kConst,            // push consts[a]
  kLoad,             // push slot a; absent -> error messages[b]
  kHas,              // push has(slot a)
  kCmp,              // sub = CmpKind; pop rhs, lhs; push lhs <sub> rhs
  kCmpConst,         // sub = CmpKind; top = top <sub> consts[a]
  kCmpSlotConst,     // sub = CmpKind; push slot a <sub> consts[b] (absent -> messages[c])
  kInSlotConstList,  // push slot a in consts[b] (absent -> messages[c])
  kConstInSlot,      // push consts[b] in slot a (a list; absent -> messages[c])
  kIn,               // pop list, needle; push needle in list
  kInBegin,          // push false: the accumulator of a non-constant list
  kInElem,           // pop element; acc = top, needle = top-1
  kInEnd,            // pop acc, needle; push result
  kArith,            // sub = ArithKind; pop rhs, lhs; push
  kNeg,
  kNot,
  kAndFirst,         // top false -> jump a; else keep as accumulator
  kAndNext,          // pop b; fold into accumulator; false -> jump a
  kOrFirst,
  kOrNext,
  kCond,             // pop cond: true -> next; false -> jump a; error -> push it, jump b
  kJump,             // jump a
  kSize,
  kStartsWith,
  kEndsWith,
  kContains,
  kMatches,          // top = top matches regexes[a]
  kLowerAscii,
  kUpperAscii,
  kTimePart,         // sub = TimePart; top = part of timestamp top in zones[a]
  kDurationPart,     // sub = TimePart (hours, minutes, seconds, millis)
  kToInt,
  kToDouble,
  kIndex,            // pop index, list (or map); push element
  kMakeList,         // pop a values; push a list of them (in scratch)
  kMakeMap,          // pop a key/value pairs; push a map of them (in scratch)
  kSelectField,      // top = top.<consts[a]> (a map's string key)
  kHasField,         // top = has(top.<consts[a]>)
  kLoadLocal,        // push locals[a] (a macro variable)
  kConvert,          // sub = ConvertKind; top = conversion of top
  // Comprehensions (macros). Stack while one runs: range, position, accumulator.
  kIterInit,         // sub = IterKind; top is the range: push position, accumulator;
                     // a range that is not a list or map: error, jump a (past kIterEnd)
  kIterNext,         // set locals a (and b) to the next element, or jump c (to kIterEnd)
  kIterFilter,       // pop the filter: true -> next; false -> jump a; error -> jump b
  kIterStep,         // sub = IterKind; pop the body's value, fold it; jump a (loop) or b (done)
  kIterEnd,          // sub = IterKind; pop accumulator, position, range; push the result
  kReturn,
};

enum IterKind : uint8_t {
  kIterAll,
  kIterExists,
  kIterExistsOne,
  kIterMap,           // map(), transformList(): a list of the body's values
  kIterFilter,        // filter(): the elements whose predicate is true
  kIterTransformMap,  // transformMap(): a map of key -> the body's value
};

enum ConvertKind : uint8_t {
  kConvInt,
  kConvUint,
  kConvDouble,
  kConvString,
  kConvBytes,
  kConvBool,
  kConvTimestamp,
  kConvDuration,
  kConvType,
};

// Most macro variables alive at once (nested macros, two per macro).
inline constexpr uint32_t kMaxLocals = 32;

enum CmpKind : uint8_t { kCmpEq, kCmpNe, kCmpLt, kCmpLe, kCmpGt, kCmpGe };
enum ArithKind : uint8_t { kArithAdd, kArithSub, kArithMul, kArithDiv, kArithMod };
enum TimePart : uint8_t {
  kPartHours,
  kPartMinutes,
  kPartSeconds,
  kPartMilliseconds,
  kPartDayOfWeek,
  kPartDate,        // day of month, 1-based
  kPartDayOfMonth,  // 0-based
  kPartMonth,       // 0-based
  kPartFullYear,
  kPartDayOfYear,   // 0-based
};

// How a fused test delivers its bool (or error) result: pushed, or folded into
// the && / || chain it is an operand of (saving one dispatch per operand).
enum Logic : uint8_t { kLogicPush, kLogicAndFirst, kLogicAndNext, kLogicOrFirst, kLogicOrNext };

struct Instr {
  Opcode op = Opcode::kReturn;
  uint8_t sub = 0;
  uint16_t c = 0;  // kCmpSlotConst / kInSlotConstList: messages index (< 65536)
  uint32_t a = 0;
  uint32_t b = 0;
  uint32_t pos = 0;  // source offset for error values
  uint8_t logic = kLogicPush;  // kCmpSlotConst, kInSlotConstList, kHas, kCmpConst
  uint8_t pad[3] = {0, 0, 0};
  uint32_t jump = 0;           // target when `logic` short-circuits
};
static_assert(sizeof(Instr) == 24);
// kIterNext keeps its exit target in `jump`; the second variable in `b`
// (kNoLocal when there is none).
inline constexpr uint32_t kNoLocal = 0xffffffffu;

struct ProgramImpl {
  ProgramImpl();
  ~ProgramImpl();

  std::string source;
  Type result_type = Type::kNull;
  std::vector<Instr> code;
  std::vector<Value> consts;
  std::deque<std::vector<Value>> lists;       // storage of list constants
  std::deque<std::vector<std::string_view>> string_lists;
  std::deque<std::string> strings;            // storage of string constants
  std::deque<std::string> messages;           // "user.age is not set"
  std::vector<const char*> message_text;      // messages[i].c_str(), indexed on the hot path
  std::vector<std::unique_ptr<re2::RE2>> regexes;
  std::vector<absl::TimeZone> zones;
  std::vector<Slot> slots;                    // slots read, ascending
  uint32_t min_slots = 0;                     // activation size needed
  uint32_t max_stack = 0;
};

}  // namespace herald::expr::internal

#endif  // HERALD_LIB_EXPR_PROGRAM_H_
