#include "expr/parser.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "expr/diagnostics.h"
#include "expr/strings.h"
#include "fmt/format.h"

namespace herald::expr::internal {

const char* OpSymbol(Op op) {
  switch (op) {
    case Op::kNone: return "?";
    case Op::kNot: return "!";
    case Op::kNeg: return "-";
    case Op::kAdd: return "+";
    case Op::kSub: return "-";
    case Op::kMul: return "*";
    case Op::kDiv: return "/";
    case Op::kMod: return "%";
    case Op::kEq: return "==";
    case Op::kNe: return "!=";
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
    case Op::kIn: return "in";
  }
  return "?";
}

namespace {

enum class Tok : uint8_t {
  kEnd,
  kIdent,
  kInt,
  kDouble,
  kString,
  kBytes,
  kUint,
  kQuotedIdent,  // `content-type`: a field name that is not an identifier
  kTrue,
  kFalse,
  kNull,
  kIn,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kLBrace,
  kRBrace,
  kDot,
  kComma,
  kQuestion,
  kColon,
  kNot,
  kMinus,
  kPlus,
  kStar,
  kSlash,
  kPercent,
  kEqEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAndAnd,
  kOrOr,
};

struct Token {
  Tok kind = Tok::kEnd;
  uint32_t begin = 0;
  uint32_t end = 0;
  uint64_t magnitude = 0;  // kInt: the unsigned value
  bool int_overflow = false;
  double double_value = 0;
  std::string text;  // kString: decoded value; kIdent: name
};

const char* TokName(Tok t) {
  switch (t) {
    case Tok::kEnd: return "end of expression";
    case Tok::kIdent: return "identifier";
    case Tok::kInt: return "integer";
    case Tok::kDouble: return "number";
    case Tok::kString: return "string";
    case Tok::kBytes: return "bytes";
    case Tok::kUint: return "unsigned integer";
    case Tok::kQuotedIdent: return "quoted field name";
    case Tok::kTrue: return "'true'";
    case Tok::kFalse: return "'false'";
    case Tok::kNull: return "'null'";
    case Tok::kIn: return "'in'";
    case Tok::kLParen: return "'('";
    case Tok::kRParen: return "')'";
    case Tok::kLBracket: return "'['";
    case Tok::kRBracket: return "']'";
    case Tok::kLBrace: return "'{'";
    case Tok::kRBrace: return "'}'";
    case Tok::kDot: return "'.'";
    case Tok::kComma: return "','";
    case Tok::kQuestion: return "'?'";
    case Tok::kColon: return "':'";
    case Tok::kNot: return "'!'";
    case Tok::kMinus: return "'-'";
    case Tok::kPlus: return "'+'";
    case Tok::kStar: return "'*'";
    case Tok::kSlash: return "'/'";
    case Tok::kPercent: return "'%'";
    case Tok::kEqEq: return "'=='";
    case Tok::kNe: return "'!='";
    case Tok::kLt: return "'<'";
    case Tok::kLe: return "'<='";
    case Tok::kGt: return "'>'";
    case Tok::kGe: return "'>='";
    case Tok::kAndAnd: return "'&&'";
    case Tok::kOrOr: return "'||'";
  }
  return "token";
}

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

bool IsReserved(std::string_view s) {
  static constexpr std::string_view kReserved[] = {
      "as",      "break",   "const",  "continue", "else",      "for",
      "function", "if",     "import", "let",      "loop",      "package",
      "namespace", "return", "var",   "void",     "while"};
  for (std::string_view r : kReserved) {
    if (s == r) return true;
  }
  return false;
}

// Returns the offset of the first invalid UTF-8 byte, or npos.
size_t FindInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return i;
    }
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return i;
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += n + 1;
  }
  return std::string_view::npos;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

bool DecodeStringBody(std::string_view body, bool raw, std::string* out,
                      size_t* error_at, std::string* error, bool bytes) {
  out->clear();
  if (raw) {
    out->assign(body);
    return true;
  }
  size_t i = 0;
  while (i < body.size()) {
    char c = body[i];
    if (c != '\\') {
      out->push_back(c);
      ++i;
      continue;
    }
    *error_at = i;
    if (i + 1 >= body.size()) {
      *error = "unterminated escape sequence";
      return false;
    }
    char e = body[i + 1];
    i += 2;
    switch (e) {
      case 'a': out->push_back('\a'); continue;
      case 'b': out->push_back('\b'); continue;
      case 'f': out->push_back('\f'); continue;
      case 'n': out->push_back('\n'); continue;
      case 'r': out->push_back('\r'); continue;
      case 't': out->push_back('\t'); continue;
      case 'v': out->push_back('\v'); continue;
      case '\\': out->push_back('\\'); continue;
      case '?': out->push_back('?'); continue;
      case '"': out->push_back('"'); continue;
      case '\'': out->push_back('\''); continue;
      case '`': out->push_back('`'); continue;
      default: break;
    }
    int digits = 0;
    int base = 16;
    if (e == 'x' || e == 'X') {
      digits = 2;
    } else if (e == 'u') {
      digits = 4;
    } else if (e == 'U') {
      digits = 8;
    } else if (e >= '0' && e <= '3') {
      digits = 2;
      base = 8;
    } else {
      *error = Cat("invalid escape sequence \\", std::string(1, e));
      return false;
    }
    uint32_t cp = base == 8 ? static_cast<uint32_t>(e - '0') : 0;
    for (int k = 0; k < digits; ++k) {
      if (i >= body.size()) {
        *error = "incomplete escape sequence";
        return false;
      }
      char d = body[i++];
      if (base == 8) {
        if (d < '0' || d > '7') {
          *error = "invalid octal escape sequence";
          return false;
        }
        cp = cp * 8 + static_cast<uint32_t>(d - '0');
      } else {
        if (!IsHex(d)) {
          *error = "invalid hexadecimal escape sequence";
          return false;
        }
        cp = cp * 16 + static_cast<uint32_t>(HexValue(d));
      }
    }
    if (bytes && (base == 8 || e == 'x' || e == 'X')) {
      out->push_back(static_cast<char>(cp));
      continue;
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      *error = "escape sequence is not a valid Unicode code point";
      return false;
    }
    AppendUtf8(cp, out);
  }
  return true;
}

namespace {

class Parser {
 public:
  Parser(std::string_view source, const ParseLimits& limits)
      : src_(source), limits_(limits) {}

  absl::StatusOr<Ast> Run() {
    if (src_.size() > limits_.max_source_bytes) {
      return LimitError(src_, static_cast<uint32_t>(limits_.max_source_bytes),
                        Cat("expression is longer than ",
                                     limits_.max_source_bytes, " bytes"));
    }
    size_t bad = FindInvalidUtf8(src_);
    if (bad != std::string_view::npos) {
      return SyntaxError(src_, static_cast<uint32_t>(bad), "invalid UTF-8");
    }
    ast_.source = std::string(src_);
    Advance();
    int root = ParseExpr();
    if (root >= 0 && tok_.kind != Tok::kEnd) {
      Fail(tok_.begin, Cat("unexpected ", Describe(tok_),
                                    "; expected an operator or the end"));
    }
    if (!status_.ok()) return status_;
    ast_.root = root;
    return std::move(ast_);
  }

 private:
  // --- errors -------------------------------------------------------------
  int Fail(uint32_t at, std::string_view message) {
    if (status_.ok()) status_ = SyntaxError(src_, at, message);
    tok_.kind = Tok::kEnd;  // stop consuming
    pos_ = src_.size();
    return -1;
  }
  int FailLimit(uint32_t at, std::string_view message) {
    if (status_.ok()) status_ = LimitError(src_, at, message);
    tok_.kind = Tok::kEnd;
    pos_ = src_.size();
    return -1;
  }
  std::string Describe(const Token& t) const {
    if (t.kind == Tok::kIdent) return Cat("identifier '", t.text, "'");
    if (t.kind == Tok::kEnd) return "end of expression";
    if (t.kind == Tok::kInt || t.kind == Tok::kDouble || t.kind == Tok::kString ||
        t.kind == Tok::kUint || t.kind == Tok::kBytes) {
      return Cat(TokName(t.kind), " ",
                          src_.substr(t.begin, std::min<size_t>(t.end - t.begin, 20)));
    }
    return TokName(t.kind);
  }

  // --- lexer --------------------------------------------------------------
  void Advance() {
    if (!status_.ok()) {
      tok_.kind = Tok::kEnd;
      return;
    }
    prev_end_ = tok_.end;
    Lex(&tok_);
  }

  void SkipSpaceAndComments() {
    while (pos_ < src_.size()) {
      char c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
        ++pos_;
      } else if (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '/') {
        while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  void Lex(Token* t) {
    SkipSpaceAndComments();
    t->begin = static_cast<uint32_t>(pos_);
    t->text.clear();
    t->int_overflow = false;
    if (pos_ >= src_.size()) {
      t->kind = Tok::kEnd;
      t->end = t->begin;
      return;
    }
    char c = src_[pos_];
    if (IsIdentStart(c)) {
      LexWord(t);
      return;
    }
    if (IsDigit(c) || (c == '.' && pos_ + 1 < src_.size() && IsDigit(src_[pos_ + 1]))) {
      LexNumber(t);
      return;
    }
    if (c == '"' || c == '\'') {
      LexString(t, /*raw=*/false);
      return;
    }
    if (c == '`') {
      LexQuotedIdent(t);
      return;
    }
    if (LexOperator(t, c)) return;
    FailUnexpectedCharacter(t, c);
  }

  // An identifier, a keyword, or the r/b/rb/br prefix of a string literal.
  void LexWord(Token* t) {
    size_t start = pos_;
    while (pos_ < src_.size() && IsIdentChar(src_[pos_])) ++pos_;
    std::string_view word = src_.substr(start, pos_ - start);
    if (pos_ < src_.size() && (src_[pos_] == '"' || src_[pos_] == '\'') &&
        word.size() <= 2) {
      std::string lower = absl::AsciiStrToLower(AbslView(word));
      if (lower == "r" || lower == "b" || lower == "rb" || lower == "br") {
        LexString(t, /*raw=*/lower != "b", /*bytes=*/lower != "r");
        return;
      }
    }
    t->end = static_cast<uint32_t>(pos_);
    if (word == "true") {
      t->kind = Tok::kTrue;
    } else if (word == "false") {
      t->kind = Tok::kFalse;
    } else if (word == "null") {
      t->kind = Tok::kNull;
    } else if (word == "in") {
      t->kind = Tok::kIn;
    } else {
      t->kind = Tok::kIdent;
      t->text.assign(word);
    }
  }

  // `field name`: a map key that is not an identifier.
  void LexQuotedIdent(Token* t) {
    size_t close = src_.find('`', pos_ + 1);
    if (close == std::string_view::npos || close == pos_ + 1) {
      Fail(t->begin, "unterminated or empty quoted field name");
      t->kind = Tok::kEnd;
      return;
    }
    t->kind = Tok::kQuotedIdent;
    t->text.assign(src_.substr(pos_ + 1, close - pos_ - 1));
    pos_ = close + 1;
    t->end = static_cast<uint32_t>(pos_);
  }

  // Punctuation and operators; false when `c` starts none of them. The C
  // spellings of =, & and | are errors that suggest ==, && and ||.
  bool LexOperator(Token* t, char c) {
    auto next = [&](size_t k) -> char {
      return pos_ + k < src_.size() ? src_[pos_ + k] : '\0';
    };
    auto single = [&](Tok kind, size_t len) {
      t->kind = kind;
      pos_ += len;
      t->end = static_cast<uint32_t>(pos_);
      return true;
    };
    switch (c) {
      case '(': return single(Tok::kLParen, 1);
      case ')': return single(Tok::kRParen, 1);
      case '[': return single(Tok::kLBracket, 1);
      case ']': return single(Tok::kRBracket, 1);
      case '{': return single(Tok::kLBrace, 1);
      case '}': return single(Tok::kRBrace, 1);
      case '.': return single(Tok::kDot, 1);
      case ',': return single(Tok::kComma, 1);
      case '?': return single(Tok::kQuestion, 1);
      case ':': return single(Tok::kColon, 1);
      case '+': return single(Tok::kPlus, 1);
      case '-': return single(Tok::kMinus, 1);
      case '*': return single(Tok::kStar, 1);
      case '/': return single(Tok::kSlash, 1);
      case '%': return single(Tok::kPercent, 1);
      case '!': return next(1) == '=' ? single(Tok::kNe, 2) : single(Tok::kNot, 1);
      case '<': return next(1) == '=' ? single(Tok::kLe, 2) : single(Tok::kLt, 1);
      case '>': return next(1) == '=' ? single(Tok::kGe, 2) : single(Tok::kGt, 1);
      case '=':
        if (next(1) == '=') return single(Tok::kEqEq, 2);
        Fail(t->begin, "unexpected '='; did you mean '=='?");
        t->kind = Tok::kEnd;
        return true;
      case '&':
        if (next(1) == '&') return single(Tok::kAndAnd, 2);
        Fail(t->begin, "unexpected '&'; did you mean '&&'?");
        t->kind = Tok::kEnd;
        return true;
      case '|':
        if (next(1) == '|') return single(Tok::kOrOr, 2);
        Fail(t->begin, "unexpected '|'; did you mean '||'?");
        t->kind = Tok::kEnd;
        return true;
      default:
        return false;
    }
  }

  // Names the character no token starts with: by code for a control
  // character, else the whole UTF-8 sequence.
  void FailUnexpectedCharacter(Token* t, char c) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      Fail(t->begin, Cat("unexpected control character 0x",
                          fmt::format("{:02x}", static_cast<unsigned char>(c))));
    } else {
      size_t len = 1;
      while (pos_ + len < src_.size() &&
             (static_cast<unsigned char>(src_[pos_ + len]) & 0xC0) == 0x80) {
        ++len;
      }
      Fail(t->begin,
           Cat("unexpected character '", src_.substr(pos_, len), "'"));
    }
    t->kind = Tok::kEnd;
  }

  void LexNumber(Token* t) {
    size_t start = pos_;
    auto at = [&](size_t i) -> char { return i < src_.size() ? src_[i] : '\0'; };
    if (at(pos_) == '0' && (at(pos_ + 1) == 'x' || at(pos_ + 1) == 'X')) {
      pos_ += 2;
      size_t digits_begin = pos_;
      uint64_t v = 0;
      bool overflow = false;
      while (IsHex(at(pos_))) {
        if (v > (UINT64_MAX >> 4)) overflow = true;
        v = (v << 4) | static_cast<uint64_t>(HexValue(at(pos_)));
        ++pos_;
      }
      if (pos_ == digits_begin) {
        Fail(t->begin, "hexadecimal literal needs digits after 0x");
        return;
      }
      t->kind = Tok::kInt;
      if (at(pos_) == 'u' || at(pos_) == 'U') {
        ++pos_;
        t->kind = Tok::kUint;
      }
      t->magnitude = v;
      t->int_overflow = overflow;
      t->end = static_cast<uint32_t>(pos_);
      t->text.assign(src_.substr(start, pos_ - start));
      return;
    }
    while (IsDigit(at(pos_))) ++pos_;
    bool is_double = false;
    if (at(pos_) == '.' && IsDigit(at(pos_ + 1))) {
      is_double = true;
      ++pos_;
      while (IsDigit(at(pos_))) ++pos_;
    }
    if ((at(pos_) == 'e' || at(pos_) == 'E') &&
        (IsDigit(at(pos_ + 1)) ||
         ((at(pos_ + 1) == '+' || at(pos_ + 1) == '-') && IsDigit(at(pos_ + 2))))) {
      is_double = true;
      pos_ += 2;
      while (IsDigit(at(pos_))) ++pos_;
    }
    std::string_view text = src_.substr(start, pos_ - start);
    t->text.assign(text);
    t->end = static_cast<uint32_t>(pos_);
    bool is_uint = false;
    if (!is_double && (at(pos_) == 'u' || at(pos_) == 'U')) {
      is_uint = true;
      ++pos_;
      t->end = static_cast<uint32_t>(pos_);
    }
    if (is_double) {
      double d = 0;
      if (!absl::SimpleAtod(AbslView(text), &d) || std::isinf(d)) {
        Fail(t->begin, "number literal out of range");
        return;
      }
      t->kind = Tok::kDouble;
      t->double_value = d;
      return;
    }
    uint64_t v = 0;
    bool overflow = false;
    for (char ch : text) {
      uint64_t digit = static_cast<uint64_t>(ch - '0');
      if (v > (UINT64_MAX - digit) / 10) overflow = true;
      v = v * 10 + digit;
    }
    t->kind = is_uint ? Tok::kUint : Tok::kInt;
    t->magnitude = v;
    t->int_overflow = overflow;
  }

  void LexString(Token* t, bool raw, bool bytes = false) {
    char quote = src_[pos_];
    bool triple = pos_ + 2 < src_.size() && src_[pos_ + 1] == quote &&
                  src_[pos_ + 2] == quote;
    size_t open = triple ? 3 : 1;
    pos_ += open;
    size_t body_begin = pos_;
    size_t body_end = std::string_view::npos;
    while (pos_ < src_.size()) {
      char c = src_[pos_];
      if (!raw && c == '\\') {
        pos_ += 2;
        continue;
      }
      if (triple) {
        if (c == quote && pos_ + 2 < src_.size() + 0 && src_[pos_ + 1] == quote &&
            src_[pos_ + 2] == quote) {
          body_end = pos_;
          pos_ += 3;
          break;
        }
      } else {
        if (c == '\n' || c == '\r') break;
        if (c == quote) {
          body_end = pos_;
          pos_ += 1;
          break;
        }
      }
      ++pos_;
    }
    if (body_end == std::string_view::npos) {
      Fail(t->begin, "unterminated string literal");
      t->kind = Tok::kEnd;
      return;
    }
    std::string error;
    size_t error_at = 0;
    if (!DecodeStringBody(src_.substr(body_begin, body_end - body_begin), raw,
                          &t->text, &error_at, &error, bytes)) {
      Fail(static_cast<uint32_t>(body_begin + error_at), error);
      t->kind = Tok::kEnd;
      return;
    }
    t->kind = bytes ? Tok::kBytes : Tok::kString;
    t->end = static_cast<uint32_t>(pos_);
  }

  // --- tree ---------------------------------------------------------------
  int AddNode(Node node) {
    if (static_cast<int>(ast_.nodes.size()) >= limits_.max_nodes) {
      return FailLimit(node.pos, Cat("expression has more than ",
                                              limits_.max_nodes, " nodes"));
    }
    int height = 1;
    for (int child : node.children) {
      height = std::max(height, heights_[static_cast<size_t>(child)] + 1);
    }
    if (height > limits_.max_depth) {
      return FailLimit(node.pos, Cat("expression nests deeper than ",
                                              limits_.max_depth, " levels"));
    }
    ast_.nodes.push_back(std::move(node));
    heights_.push_back(height);
    return static_cast<int>(ast_.nodes.size()) - 1;
  }

  bool Expect(Tok kind, std::string_view context) {
    if (tok_.kind == kind) {
      Advance();
      return true;
    }
    Fail(tok_.begin, Cat("expected ", TokName(kind), " ", context,
                                  ", found ", Describe(tok_)));
    return false;
  }

  struct DepthGuard {
    explicit DepthGuard(int* d) : depth(d) { ++*depth; }
    ~DepthGuard() { --*depth; }
    int* depth;
  };

  // Expr = ConditionalOr ["?" ConditionalOr ":" Expr]
  int ParseExpr() {
    DepthGuard guard(&depth_);
    if (depth_ > limits_.max_depth) {
      return FailLimit(tok_.begin, Cat("expression nests deeper than ",
                                                limits_.max_depth, " levels"));
    }
    int cond = ParseLogical(Tok::kOrOr);
    if (cond < 0 || tok_.kind != Tok::kQuestion) return cond;
    uint32_t at = tok_.begin;
    Advance();
    int then_branch;
    {
      DepthGuard inner(&depth_);
      if (depth_ > limits_.max_depth) {
        return FailLimit(tok_.begin, Cat("expression nests deeper than ",
                                                  limits_.max_depth, " levels"));
      }
      then_branch = ParseLogical(Tok::kOrOr);
    }
    if (then_branch < 0) return -1;
    if (!Expect(Tok::kColon, "in the conditional '?:'")) return -1;
    int else_branch = ParseExpr();
    if (else_branch < 0) return -1;
    Node n;
    n.kind = NodeKind::kCond;
    n.pos = at;
    n.children = {cond, then_branch, else_branch};
    return AddNode(std::move(n));
  }

  // ConditionalOr / ConditionalAnd, flattened into one n-ary node.
  int ParseLogical(Tok op) {
    int first = op == Tok::kOrOr ? ParseLogical(Tok::kAndAnd) : ParseRelation();
    if (first < 0 || tok_.kind != op) return first;
    Node n;
    n.kind = op == Tok::kOrOr ? NodeKind::kOr : NodeKind::kAnd;
    n.pos = tok_.begin;
    n.children.push_back(first);
    while (tok_.kind == op) {
      Advance();
      int next = op == Tok::kOrOr ? ParseLogical(Tok::kAndAnd) : ParseRelation();
      if (next < 0) return -1;
      n.children.push_back(next);
      if (static_cast<int>(n.children.size()) > limits_.max_nodes) {
        return FailLimit(n.pos, Cat("expression has more than ",
                                             limits_.max_nodes, " nodes"));
      }
    }
    return AddNode(std::move(n));
  }

  static Op RelOp(Tok t) {
    switch (t) {
      case Tok::kEqEq: return Op::kEq;
      case Tok::kNe: return Op::kNe;
      case Tok::kLt: return Op::kLt;
      case Tok::kLe: return Op::kLe;
      case Tok::kGt: return Op::kGt;
      case Tok::kGe: return Op::kGe;
      case Tok::kIn: return Op::kIn;
      default: return Op::kNone;
    }
  }

  int Binary(Op op, uint32_t at, int lhs, int rhs) {
    Node n;
    n.kind = NodeKind::kBinary;
    n.op = op;
    n.pos = at;
    n.children = {lhs, rhs};
    return AddNode(std::move(n));
  }

  int ParseRelation() {
    int lhs = ParseAddition();
    while (lhs >= 0 && RelOp(tok_.kind) != Op::kNone) {
      Op op = RelOp(tok_.kind);
      uint32_t at = tok_.begin;
      Advance();
      int rhs = ParseAddition();
      if (rhs < 0) return -1;
      lhs = Binary(op, at, lhs, rhs);
    }
    return lhs;
  }

  int ParseAddition() {
    int lhs = ParseMultiplication();
    while (lhs >= 0 && (tok_.kind == Tok::kPlus || tok_.kind == Tok::kMinus)) {
      Op op = tok_.kind == Tok::kPlus ? Op::kAdd : Op::kSub;
      uint32_t at = tok_.begin;
      Advance();
      int rhs = ParseMultiplication();
      if (rhs < 0) return -1;
      lhs = Binary(op, at, lhs, rhs);
    }
    return lhs;
  }

  int ParseMultiplication() {
    int lhs = ParseUnary();
    while (lhs >= 0 && (tok_.kind == Tok::kStar || tok_.kind == Tok::kSlash ||
                        tok_.kind == Tok::kPercent)) {
      Op op = tok_.kind == Tok::kStar    ? Op::kMul
              : tok_.kind == Tok::kSlash ? Op::kDiv
                                         : Op::kMod;
      uint32_t at = tok_.begin;
      Advance();
      int rhs = ParseUnary();
      if (rhs < 0) return -1;
      lhs = Binary(op, at, lhs, rhs);
    }
    return lhs;
  }

  // Unary = Member | "!" {"!"} Member | "-" {"-"} Member
  int ParseUnary() {
    if (tok_.kind != Tok::kNot && tok_.kind != Tok::kMinus) return ParseMember();
    Tok kind = tok_.kind;
    std::vector<uint32_t> ops;
    while (tok_.kind == kind) {
      ops.push_back(tok_.begin);
      if (static_cast<int>(ops.size()) > limits_.max_depth) {
        return FailLimit(tok_.begin, Cat("expression nests deeper than ",
                                                  limits_.max_depth, " levels"));
      }
      Advance();
    }
    int operand;
    if (kind == Tok::kMinus && (tok_.kind == Tok::kInt || tok_.kind == Tok::kDouble)) {
      // A negative literal: fold the innermost '-' into the literal so that
      // -9223372036854775808 is representable and -19.99 stays exact text.
      operand = ParseMember(/*negate_literal=*/true, ops.back());
      if (operand < 0) return -1;
      ops.pop_back();
    } else {
      operand = ParseMember();
    }
    if (operand < 0) return -1;
    for (size_t k = ops.size(); k-- > 0;) {
      Node n;
      n.kind = NodeKind::kUnary;
      n.op = kind == Tok::kNot ? Op::kNot : Op::kNeg;
      n.pos = ops[k];
      n.children = {operand};
      operand = AddNode(std::move(n));
      if (operand < 0) return -1;
    }
    return operand;
  }

  // Member = Primary {"." SELECTOR ["(" [ExprList] ")"] | "[" Expr "]"}
  int ParseMember(bool negate_literal = false, uint32_t minus_at = 0) {
    int node = ParsePrimary(negate_literal, minus_at);
    while (node >= 0) {
      if (tok_.kind == Tok::kDot) {
        uint32_t dot = tok_.begin;
        Advance();
        if (tok_.kind == Tok::kQuotedIdent) {
          // m.`content-type`: a map key that is not an identifier.
          Node sel;
          sel.kind = NodeKind::kSelect;
          sel.pos = dot;
          sel.name_pos = tok_.begin;
          sel.name = tok_.text;
          sel.children = {node};
          Advance();
          node = AddNode(std::move(sel));
          continue;
        }
        if (tok_.kind != Tok::kIdent && tok_.kind != Tok::kIn &&
            tok_.kind != Tok::kTrue && tok_.kind != Tok::kFalse &&
            tok_.kind != Tok::kNull) {
          return Fail(tok_.begin, Cat("expected a field or method name after '.', found ",
                                               Describe(tok_)));
        }
        if (tok_.kind != Tok::kIdent) {
          return Fail(tok_.begin, Cat("keyword ", TokName(tok_.kind),
                                               " cannot be a field name"));
        }
        std::string name = tok_.text;
        uint32_t name_at = tok_.begin;
        Advance();
        if (tok_.kind == Tok::kLParen) {
          Node call;
          call.kind = NodeKind::kCall;
          call.is_method = true;
          call.pos = name_at;
          call.name_pos = name_at;
          call.name = std::move(name);
          call.children.push_back(node);
          if (!ParseArgs(&call.children)) return -1;
          node = AddNode(std::move(call));
        } else {
          Node sel;
          sel.kind = NodeKind::kSelect;
          sel.pos = dot;
          sel.name_pos = name_at;
          sel.name = std::move(name);
          sel.children = {node};
          node = AddNode(std::move(sel));
        }
      } else if (tok_.kind == Tok::kLBracket) {
        uint32_t at = tok_.begin;
        Advance();
        int index = ParseExpr();
        if (index < 0) return -1;
        if (!Expect(Tok::kRBracket, "to close the index")) return -1;
        Node n;
        n.kind = NodeKind::kIndex;
        n.pos = at;
        n.children = {node, index};
        node = AddNode(std::move(n));
      } else if (tok_.kind == Tok::kLBrace) {
        return Fail(tok_.begin, "message construction is not supported");
      } else {
        break;
      }
    }
    return node;
  }

  bool ParseArgs(std::vector<int>* out) {
    // At '('.
    Advance();
    if (tok_.kind == Tok::kRParen) {
      Advance();
      return true;
    }
    while (true) {
      int arg = ParseExpr();
      if (arg < 0) return false;
      out->push_back(arg);
      if (tok_.kind == Tok::kComma) {
        Advance();
        continue;
      }
      return Expect(Tok::kRParen, "to close the argument list");
    }
  }

  // An int literal; with `negate_literal`, the '-' at `minus_at` folded in.
  int ParseIntLiteral(bool negate_literal, uint32_t minus_at) {
    Node n;
    n.pos = tok_.begin;
    if (negate_literal) {
      n.pos = minus_at;
      if (tok_.int_overflow || tok_.magnitude > (uint64_t{1} << 63)) {
        return Fail(minus_at, "integer literal out of range");
      }
      n.int_value = tok_.magnitude == (uint64_t{1} << 63)
                        ? INT64_MIN
                        : -static_cast<int64_t>(tok_.magnitude);
      n.text = Cat("-", tok_.text);
    } else {
      if (tok_.int_overflow || tok_.magnitude > static_cast<uint64_t>(INT64_MAX)) {
        return Fail(tok_.begin, "integer literal out of range");
      }
      n.int_value = static_cast<int64_t>(tok_.magnitude);
      n.text = tok_.text;
    }
    n.kind = NodeKind::kInt;
    Advance();
    return AddNode(std::move(n));
  }

  // A double literal; with `negate_literal`, the '-' at `minus_at` folded in.
  int ParseDoubleLiteral(bool negate_literal, uint32_t minus_at) {
    Node n;
    n.pos = tok_.begin;
    n.kind = NodeKind::kDouble;
    if (negate_literal) {
      n.pos = minus_at;
      n.double_value = -tok_.double_value;
      n.text = Cat("-", tok_.text);
    } else {
      n.double_value = tok_.double_value;
      n.text = tok_.text;
    }
    Advance();
    return AddNode(std::move(n));
  }

  // "[" [Expr {"," Expr}] "]"
  int ParseListLiteral() {
    Node n;
    n.pos = tok_.begin;
    n.kind = NodeKind::kList;
    Advance();
    while (tok_.kind != Tok::kRBracket) {
      int element = ParseExpr();
      if (element < 0) return -1;
      n.children.push_back(element);
      if (tok_.kind == Tok::kComma) {
        Advance();
        continue;
      }
      if (tok_.kind != Tok::kRBracket) {
        return Fail(tok_.begin, Cat("expected ',' or ']' in the list, found ",
                                             Describe(tok_)));
      }
    }
    Advance();
    return AddNode(std::move(n));
  }

  // {key: value, ...} with an optional trailing comma.
  int ParseMapLiteral() {
    Node n;
    n.pos = tok_.begin;
    n.kind = NodeKind::kMap;
    Advance();
    while (tok_.kind != Tok::kRBrace) {
      int key = ParseExpr();
      if (key < 0) return -1;
      if (!Expect(Tok::kColon, "after a map key")) return -1;
      int value = ParseExpr();
      if (value < 0) return -1;
      n.children.push_back(key);
      n.children.push_back(value);
      if (tok_.kind == Tok::kComma) {
        Advance();
        continue;
      }
      if (tok_.kind != Tok::kRBrace) {
        return Fail(tok_.begin, Cat("expected ',' or '}' in the map, found ",
                                    Describe(tok_)));
      }
    }
    Advance();
    return AddNode(std::move(n));
  }

  // IDENT ["(" [ExprList] ")"]: a variable, or a global function's call.
  int ParseNameOrCall() {
    Node n;
    n.pos = tok_.begin;
    if (IsReserved(tok_.text)) {
      return Fail(tok_.begin, Cat("'", tok_.text,
                                           "' is a reserved word and cannot be a name"));
    }
    n.name = std::move(tok_.text);
    n.name_pos = tok_.begin;
    Advance();
    if (tok_.kind == Tok::kLParen) {
      n.kind = NodeKind::kCall;
      if (!ParseArgs(&n.children)) return -1;
    } else {
      n.kind = NodeKind::kIdent;
    }
    return AddNode(std::move(n));
  }

  // A string, bytes, uint, bool or null literal (ints and doubles have their own).
  int ParseOtherLiteral(bool negate_literal, uint32_t minus_at) {
    Node n;
    n.pos = tok_.begin;
    switch (tok_.kind) {
      case Tok::kString:
      case Tok::kBytes:
        n.kind = tok_.kind == Tok::kString ? NodeKind::kString : NodeKind::kBytes;
        n.text = std::move(tok_.text);
        break;
      case Tok::kUint:
        if (negate_literal) return Fail(minus_at, "no operator - for uint");
        if (tok_.int_overflow) return Fail(tok_.begin, "unsigned integer literal out of range");
        n.kind = NodeKind::kUint;
        n.int_value = static_cast<int64_t>(tok_.magnitude);
        n.text = tok_.text;
        break;
      case Tok::kTrue:
      case Tok::kFalse:
        n.kind = NodeKind::kBool;
        n.bool_value = tok_.kind == Tok::kTrue;
        break;
      default:  // Tok::kNull
        n.kind = NodeKind::kNull;
        break;
    }
    Advance();
    return AddNode(std::move(n));
  }

  int ParsePrimary(bool negate_literal, uint32_t minus_at) {
    switch (tok_.kind) {
      case Tok::kInt:
        return ParseIntLiteral(negate_literal, minus_at);
      case Tok::kDouble:
        return ParseDoubleLiteral(negate_literal, minus_at);
      case Tok::kString:
      case Tok::kBytes:
      case Tok::kUint:
      case Tok::kTrue:
      case Tok::kFalse:
      case Tok::kNull:
        return ParseOtherLiteral(negate_literal, minus_at);
      case Tok::kLParen: {
        Advance();
        int inner = ParseExpr();
        if (inner < 0) return -1;
        if (!Expect(Tok::kRParen, "to close '('")) return -1;
        return inner;
      }
      case Tok::kLBracket:
        return ParseListLiteral();
      case Tok::kLBrace:
        return ParseMapLiteral();
      case Tok::kDot:
        // A leading '.' names the root scope: ".user.age" is "user.age".
        Advance();
        if (tok_.kind != Tok::kIdent) {
          return Fail(tok_.begin, Cat("expected an identifier after '.', found ",
                                               Describe(tok_)));
        }
        return ParseNameOrCall();
      case Tok::kIdent:
        return ParseNameOrCall();
      case Tok::kEnd:
        if (!status_.ok()) return -1;
        return Fail(tok_.begin, "expected an expression, found the end");
      default:
        return Fail(tok_.begin, Cat("expected an expression, found ",
                                             Describe(tok_)));
    }
  }

  std::string_view src_;
  ParseLimits limits_;
  size_t pos_ = 0;
  uint32_t prev_end_ = 0;
  Token tok_;
  int depth_ = 0;
  Ast ast_;
  std::vector<int> heights_;
  absl::Status status_;
};

}  // namespace

absl::StatusOr<Ast> Parse(std::string_view source, const ParseLimits& limits) {
  ParseLimits l = limits;
  l.max_depth = std::clamp(l.max_depth, 1, 200);
  l.max_nodes = std::max(l.max_nodes, 1);
  Parser parser(source, l);
  return parser.Run();
}

}  // namespace herald::expr::internal
