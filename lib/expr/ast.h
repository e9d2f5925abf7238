// The parse tree of a Herald expression (internal). Nodes live in one vector
// and refer to their children by index, so that no pass needs unbounded
// recursion to destroy a tree; the parser bounds the tree's height by
// CompileOptions::max_depth, so recursive passes are bounded too.
#ifndef HERALD_LIB_EXPR_AST_H_
#define HERALD_LIB_EXPR_AST_H_

#include <cstdint>
#include <string>
#include <vector>

namespace herald::expr::internal {

enum class NodeKind : uint8_t {
  kNull,
  kBool,
  kInt,
  kDouble,
  kString,
  kIdent,   // name
  kSelect,  // children[0].name
  kCall,    // name(children...) or, when is_method, children[0].name(children[1..])
  kList,    // [children...]
  kUnary,   // op children[0]
  kBinary,  // children[0] op children[1]
  kAnd,     // children[0] && children[1] && ... (flattened)
  kOr,      // children[0] || children[1] || ... (flattened)
  kCond,    // children[0] ? children[1] : children[2]
  kIndex,   // children[0][children[1]]
  kUint,    // int_value holds the uint64's bits
  kBytes,   // text: the decoded bytes
  kMap,     // {children[0]: children[1], children[2]: children[3], ...}
};

enum class Op : uint8_t {
  kNone,
  kNot,
  kNeg,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,
};

const char* OpSymbol(Op op);

struct Node {
  NodeKind kind = NodeKind::kNull;
  Op op = Op::kNone;
  bool is_method = false;
  uint32_t pos = 0;       // byte offset of the node's token (operator, name, literal)
  uint32_t name_pos = 0;  // kSelect / method kCall: offset of the field or method name
  bool bool_value = false;
  int64_t int_value = 0;
  double double_value = 0;
  std::string text;  // kString: the decoded value; kInt/kDouble: the source text
  std::string name;  // kIdent, kSelect, kCall
  std::vector<int> children;
};

struct Ast {
  std::string source;
  std::vector<Node> nodes;
  int root = -1;

  const Node& node(int i) const { return nodes[static_cast<size_t>(i)]; }
};

}  // namespace herald::expr::internal

#endif  // HERALD_LIB_EXPR_AST_H_
