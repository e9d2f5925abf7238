#include "server/json_fast_parse.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "server/utf8.h"

namespace herald::server_internal {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Deeper bodies go to protobuf (its own limit is 100).
constexpr int kMaxDepth = 32;


class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  bool Document(Message* out) {
    Space();
    if (!Object(out, 0)) return false;
    Space();
    return i_ == s_.size();
  }

 private:
  void Space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool Take(char c) {
    Space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool At(char c) {
    Space();
    return i_ < s_.size() && s_[i_] == c;
  }

  // A JSON string: raw well-formed UTF-8 and the short escapes; \u only for
  // printable ASCII.
  bool String(std::string* out) {
    if (!Take('"')) return false;
    out->clear();
    while (i_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c >= 0x80) {
        size_t next = i_;
        if (DecodeUtf8(s_, &next) < 0) return false;
        out->append(s_.substr(i_, next - i_));
        i_ = next;
        continue;
      }
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        ++i_;
        continue;
      }
      if (++i_ >= s_.size()) return false;
      switch (s_[i_++]) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          unsigned value = 0;
          if (i_ + 4 > s_.size()) return false;
          auto [end, ec] = std::from_chars(s_.data() + i_, s_.data() + i_ + 4, value, 16);
          if (ec != std::errc() || end != s_.data() + i_ + 4 || value < 0x20 || value > 0x7e) return false;
          out->push_back(static_cast<char>(value));
          i_ += 4;
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  // A JSON number's text; *integral when it has no fraction or exponent.
  bool NumberText(std::string_view* text, bool* integral) {
    Space();
    const size_t start = i_;
    const auto digits = [&] {
      const size_t from = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ - from;
    };
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    const size_t first = i_;
    const size_t n = digits();
    if (n == 0 || (n > 1 && s_[first] == '0')) return false;
    *integral = true;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (digits() == 0) return false;
      *integral = false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (digits() == 0) return false;
      *integral = false;
    }
    *text = s_.substr(start, i_ - start);
    return *text != "-0";
  }

  template <typename T>
  bool Integer(T* out) {
    std::string_view text;
    bool integral = false;
    if (!NumberText(&text, &integral) || !integral) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return ec == std::errc() && end == text.data() + text.size();
  }

  // As protobuf reads a number into a double: integers through int64 or
  // uint64 where they fit, the rest as decimal text; finite only.
  bool Real(double* out) {
    std::string_view text;
    bool integral = false;
    if (!NumberText(&text, &integral)) return false;
    const char* b = text.data();
    const char* e = b + text.size();
    if (integral) {
      int64_t i = 0;
      uint64_t u = 0;
      if (auto r = std::from_chars(b, e, i); r.ec == std::errc() && r.ptr == e) {
        *out = static_cast<double>(i);
        return true;
      }
      if (auto r = std::from_chars(b, e, u); r.ec == std::errc() && r.ptr == e) {
        *out = static_cast<double>(u);
        return true;
      }
    }
    auto r = std::from_chars(b, e, *out);
    return r.ec == std::errc() && r.ptr == e && std::isfinite(*out);
  }

  bool Literal(std::string_view word) {
    Space();
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  bool Bool(bool* out) {
    if (Literal("true")) return *out = true, true;
    if (Literal("false")) return *out = false, true;
    return false;
  }

  bool Object(Message* m, int depth);
  bool Field(Message* m, const FieldDescriptor* f, int depth);
  bool Scalar(Message* m, const FieldDescriptor* f, int depth);
  bool StructValue(google::protobuf::Value* v, int depth);
  bool StructObject(google::protobuf::Struct* st, int depth);
  bool ListValue(google::protobuf::ListValue* l, int depth);

  std::string_view s_;
  size_t i_ = 0;
  std::string key_, text_;
};

const FieldDescriptor* FindField(const Descriptor* d, std::string_view key) {
  for (int k = 0; k < d->field_count(); ++k) {
    if (d->field(k)->json_name() == key) return d->field(k);
  }
  for (int k = 0; k < d->field_count(); ++k) {
    if (d->field(k)->name() == key) return d->field(k);
  }
  return nullptr;
}

bool Parser::Object(Message* m, int depth) {
  if (depth > kMaxDepth || !Take('{')) return false;
  const Descriptor* d = m->GetDescriptor();
  if (d->file()->package() == "google.protobuf") {
    if (d->full_name() != "google.protobuf.Struct") return false;
    --i_;  // StructObject takes the brace itself
    return StructObject(static_cast<google::protobuf::Struct*>(m), depth);
  }
  std::vector<int> seen;
  if (Take('}')) return true;
  do {
    std::string key;
    if (!String(&key) || !Take(':')) return false;
    const FieldDescriptor* f = FindField(d, key);
    if (f == nullptr || f->is_map() || f->is_extension()) return false;
    for (int number : seen) {
      if (number == f->number()) return false;  // a key given twice
    }
    seen.push_back(f->number());
    if (const auto* oneof = f->real_containing_oneof();
        oneof != nullptr && m->GetReflection()->HasOneof(*m, oneof)) {
      return false;  // two members of one oneof
    }
    if (!Field(m, f, depth)) return false;
  } while (Take(','));
  return Take('}');
}

bool Parser::Field(Message* m, const FieldDescriptor* f, int depth) {
  if (!f->is_repeated()) return Scalar(m, f, depth);
  if (!Take('[')) return false;
  if (Take(']')) return true;
  do {
    if (!Scalar(m, f, depth)) return false;
  } while (Take(','));
  return Take(']');
}

// One value of f: set, or added to a repeated field.
bool Parser::Scalar(Message* m, const FieldDescriptor* f, int depth) {
  const Reflection* r = m->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v = 0;
      if (!Integer(&v)) return false;
      rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v = 0;
      if (At('-') || !Integer(&v)) return false;
      rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = 0;
      if (!Integer(&v)) return false;
      rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v = 0;
      if (At('-') || !Integer(&v)) return false;
      rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v = 0;
      if (!Real(&v)) return false;
      rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v = false;
      if (!Bool(&v)) return false;
      rep ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      if (!String(&text_)) return false;
      const auto* value = f->enum_type()->FindValueByName(text_);
      if (value == nullptr) return false;
      rep ? r->AddEnumValue(m, f, value->number()) : r->SetEnumValue(m, f, value->number());
      return true;
    }
    case FieldDescriptor::CPPTYPE_STRING:
      if (f->type() == FieldDescriptor::TYPE_BYTES || !String(&text_)) return false;  // bytes: base64, left to protobuf
      rep ? r->AddString(m, f, text_) : r->SetString(m, f, text_);
      return true;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return Object(rep ? r->AddMessage(m, f) : r->MutableMessage(m, f), depth + 1);
    case FieldDescriptor::CPPTYPE_FLOAT:  // float range rules: left to protobuf
      return false;
  }
  return false;
}

bool Parser::StructObject(google::protobuf::Struct* st, int depth) {
  if (depth > kMaxDepth || !Take('{')) return false;
  if (Take('}')) return true;
  do {
    std::string key;
    if (!String(&key) || !Take(':') || st->fields().contains(key)) return false;
    if (!StructValue(&(*st->mutable_fields())[key], depth + 1)) return false;
  } while (Take(','));
  return Take('}');
}

bool Parser::ListValue(google::protobuf::ListValue* l, int depth) {
  if (depth > kMaxDepth || !Take('[')) return false;
  if (Take(']')) return true;
  do {
    if (!StructValue(l->add_values(), depth + 1)) return false;
  } while (Take(','));
  return Take(']');
}

bool Parser::StructValue(google::protobuf::Value* v, int depth) {
  Space();
  if (i_ >= s_.size()) return false;
  switch (s_[i_]) {
    case '{': return StructObject(v->mutable_struct_value(), depth);
    case '[': return ListValue(v->mutable_list_value(), depth);
    case '"': return String(v->mutable_string_value());
    case 't': case 'f': {
      bool b = false;
      if (!Bool(&b)) return false;
      v->set_bool_value(b);
      return true;
    }
    case 'n':
      if (!Literal("null")) return false;
      v->set_null_value(google::protobuf::NULL_VALUE);
      return true;
    default: {
      double d = 0;
      if (!Real(&d)) return false;
      v->set_number_value(d);
      return true;
    }
  }
}

}  // namespace

bool FastParseJson(std::string_view body, google::protobuf::Message* out) {
  Parser parser(body);
  return parser.Document(out);
}

}  // namespace herald::server_internal
