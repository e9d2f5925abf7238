// The bytecode interpreter (internal). Vm is a friend of Value and Activation
// so that the hot loop reads their fields directly.
#ifndef HERALD_LIB_EXPR_VM_H_
#define HERALD_LIB_EXPR_VM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "expr/program.h"
#include "herald/expr.h"

namespace herald::expr {

// Reusable space for strings computed during one evaluation. Blocks are kept
// across evaluations, so a steady workload allocates nothing; a block is never
// moved while an evaluation runs, so earlier results stay valid.
struct Activation::Scratch {
  struct Block {
    std::unique_ptr<char[]> data;
    size_t size = 0;
  };
  std::vector<Block> blocks;
  size_t block = 0;  // current block
  size_t used = 0;   // bytes used in the current block
  size_t total = 0;  // bytes handed out in this evaluation
  Value locals[internal::kMaxLocals];  // macro variables (written before read)

  void Reset() {
    block = 0;
    used = 0;
    total = 0;
  }
  // nullptr when the evaluation exceeds internal::kMaxScratchBytes.
  char* Allocate(size_t n);
  // Space for n Values (aligned), or nullptr like Allocate.
  // (Allocate hands out multiples of 8 bytes, so every block stays aligned.)
  Value* AllocateValues(size_t n) {
    static_assert(alignof(Value) <= 8);
    return reinterpret_cast<Value*>(Allocate(n * sizeof(Value)));
  }
};

namespace internal {

struct Vm {
  static Value Absent() {
    Value v;
    v.type_ = Type::kError;
    v.s_ = nullptr;
    v.aux16_ = 1;
    return v;
  }
  static bool IsAbsent(const Value& v) { return v.type_ == Type::kError && v.aux16_ == 1; }

  static Value Run(const ProgramImpl& program, Activation& activation);
  // The stack top and next instruction after an instruction of containers,
  // macros or conversions, run out of line from Run's loop.
  struct Step {
    Value* top;
    const Instr* ip;
  };
  [[gnu::noinline]] static Step RunContainerOp(const Instr& in, Value* top, const Instr* ip,
                                               const Instr* code, const Value* consts,
                                               Value* locals, Activation::Scratch& scratch);

  // Field access for the interpreter's helpers.
  static Type T(const Value& v) { return v.type_; }
  static bool B(const Value& v) { return v.b_; }
  static int64_t I(const Value& v) { return v.i_; }
  static double D(const Value& v) { return v.d_; }
  static std::string_view S(const Value& v) { return std::string_view(v.s_, v.aux32_); }
  static const char* Reason(const Value& v) { return v.s_; }
  static uint32_t Aux32(const Value& v) { return v.aux32_; }
  static uint8_t Scale(const Value& v) { return v.aux8_; }
  static const Value* ListData(const Value& v) { return v.l_; }
  static const std::string_view* StringListData(const Value& v) { return v.sl_; }

  static Value MakeBool(bool b) {
    Value v;
    v.type_ = Type::kBool;
    v.b_ = b;
    return v;
  }
  static Value MakeInt(int64_t i) {
    Value v;
    v.type_ = Type::kInt;
    v.i_ = i;
    return v;
  }
  static Value MakeDouble(double d) {
    Value v;
    v.type_ = Type::kDouble;
    v.d_ = d;
    return v;
  }
  static Value MakeString(const char* data, size_t size) {
    Value v;
    v.type_ = Type::kString;
    v.s_ = data;
    v.aux32_ = static_cast<uint32_t>(size);
    return v;
  }
  static Value MakeMoney(int64_t units, int scale, uint32_t currency) {
    Value v;
    v.type_ = Type::kMoney;
    v.i_ = units;
    v.aux8_ = static_cast<uint8_t>(scale);
    v.aux32_ = currency;
    return v;
  }
  static Value MakeTimestamp(int64_t seconds, uint32_t nanos) {
    Value v;
    v.type_ = Type::kTimestamp;
    v.i_ = seconds;
    v.aux32_ = nanos;
    return v;
  }
  static Value MakeDuration(int64_t nanos) {
    Value v;
    v.type_ = Type::kDuration;
    v.i_ = nanos;
    return v;
  }
  static Value MakeUint(uint64_t u) {
    Value v;
    v.type_ = Type::kUint;
    v.i_ = static_cast<int64_t>(u);
    return v;
  }
  static uint64_t U(const Value& v) { return static_cast<uint64_t>(v.i_); }
  static Value MakeBytes(const char* data, size_t size) {
    Value v = MakeString(data, size);
    v.type_ = Type::kBytes;
    return v;
  }
  static Value MakeList(const Value* data, size_t size) {
    Value v;
    v.type_ = Type::kList;
    v.l_ = data;
    v.aux32_ = static_cast<uint32_t>(size);
    return v;
  }
  // `entries` key/value pairs at data[0..2*entries).
  static Value MakeMap(const Value* data, size_t entries) {
    Value v;
    v.type_ = Type::kMap;
    v.l_ = data;
    v.aux32_ = static_cast<uint32_t>(entries);
    return v;
  }
  static Value MakeType(std::string_view name) {
    Value v = MakeString(name.data(), name.size());
    v.type_ = Type::kType;
    return v;
  }
  static Value MakeError(const char* reason, uint32_t pos) {
    Value v;
    v.type_ = Type::kError;
    v.s_ = reason;
    v.aux32_ = pos;
    return v;
  }
  // A list or map under construction in scratch space (a comprehension's
  // result): its elements, and its element (entry) count.
  static Value* MutableData(const Value& v) { return const_cast<Value*>(v.l_); }
  static void SetCount(Value& v, uint32_t n) { v.aux32_ = n; }
  static Activation::Scratch& ScratchOf(Activation& a) { return *a.scratch_; }
  static const Value* SlotsOf(const Activation& a) { return a.slots_.data(); }
};

}  // namespace internal
}  // namespace herald::expr

#endif  // HERALD_LIB_EXPR_VM_H_
