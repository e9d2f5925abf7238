#include "server/proto_json.h"

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "server/utf8.h"

namespace herald::server_internal {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr char kHex[] = "0123456789abcdef";

void AppendU16(uint32_t unit, std::string* out) {
  const char code[6] = {'\\', 'u', kHex[(unit >> 12) & 0xf], kHex[(unit >> 8) & 0xf], kHex[(unit >> 4) & 0xf],
                        kHex[unit & 0xf]};
  out->append(code, sizeof code);
}

// The code points protobuf's printer writes as \u escapes beyond what JSON
// requires: C1 controls, and invisible or direction-changing characters
// that are unsafe in JavaScript (json_escaping.cc in protobuf 3.21).
bool EscapedBeyondJson(uint32_t cp) {
  if (cp >= 0x7f && cp <= 0x9f) return true;
  switch (cp) {
    case 0x00ad: case 0x06dd: case 0x070f: case 0x17b4: case 0x17b5:
    case 0xfeff: case 0xfff9: case 0xfffa: case 0xfffb: case 0xe0001:
      return true;
    default:
      break;
  }
  return (cp >= 0x0600 && cp <= 0x0603) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x206a && cp <= 0x206f) || (cp >= 0x1d173 && cp <= 0x1d17a) ||
         (cp >= 0xe0020 && cp <= 0xe007f);
}


// A JSON string as protobuf escapes it; false for text that is not UTF-8.
bool AppendString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    // Printable ASCII that needs no escape is copied a run at a time.
    size_t run = i;
    while (run < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[run]);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>') break;
      ++run;
    }
    out->append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    const size_t start = i;
    const int32_t cp = DecodeUtf8(s, &i);
    if (cp < 0) return false;
    switch (cp) {
      case '"': *out += "\\\""; continue;
      case '\\': *out += "\\\\"; continue;
      case '\b': *out += "\\b"; continue;
      case '\t': *out += "\\t"; continue;
      case '\n': *out += "\\n"; continue;
      case '\f': *out += "\\f"; continue;
      case '\r': *out += "\\r"; continue;
      case '<': case '>': AppendU16(cp, out); continue;  // HTML-safe
      default: break;
    }
    if (cp < 0x20 || (cp <= 0xffff && EscapedBeyondJson(cp))) {
      AppendU16(cp, out);
    } else if (cp > 0xffff && EscapedBeyondJson(cp)) {  // as a surrogate pair
      AppendU16(0xd800 + ((cp - 0x10000) >> 10), out);
      AppendU16(0xdc00 + ((cp - 0x10000) & 0x3ff), out);
    } else {
      out->append(s.substr(start, i - start));
    }
  }
  out->push_back('"');
  return true;
}

// protobuf's SimpleDtoa / SimpleFtoa: the shortest of %.{15,17}g (doubles)
// or %.{6,9}g (floats) that reads back as the same value; not-finite values
// as the strings "NaN", "Infinity", "-Infinity".
void AppendReal(double v, bool is_float, std::string* out) {
  if (std::isnan(v)) {
    *out += "\"NaN\"";
    return;
  }
  if (std::isinf(v)) {
    *out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    return;
  }
  char buf[40];
  if (is_float) {
    const float f = static_cast<float>(v);
    std::snprintf(buf, sizeof buf, "%.*g", FLT_DIG, static_cast<double>(f));
    if (std::strtof(buf, nullptr) != f) std::snprintf(buf, sizeof buf, "%.*g", FLT_DIG + 3, static_cast<double>(f));
  } else {
    std::snprintf(buf, sizeof buf, "%.*g", DBL_DIG, v);
    if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof buf, "%.*g", DBL_DIG + 2, v);
  }
  *out += buf;
}

bool AppendMessage(const Message& message, std::string* out);

// One value of `field` (element `index` of a repeated field, or -1).
bool AppendValue(const Message& m, const FieldDescriptor* field, int index, std::string* out) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      absl::StrAppend(out, rep ? r->GetRepeatedInt32(m, field, index) : r->GetInt32(m, field));
      return true;
    case FieldDescriptor::CPPTYPE_UINT32:
      absl::StrAppend(out, rep ? r->GetRepeatedUInt32(m, field, index) : r->GetUInt32(m, field));
      return true;
    case FieldDescriptor::CPPTYPE_INT64:
      absl::StrAppend(out, "\"", rep ? r->GetRepeatedInt64(m, field, index) : r->GetInt64(m, field), "\"");
      return true;
    case FieldDescriptor::CPPTYPE_UINT64:
      absl::StrAppend(out, "\"", rep ? r->GetRepeatedUInt64(m, field, index) : r->GetUInt64(m, field), "\"");
      return true;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      AppendReal(rep ? r->GetRepeatedDouble(m, field, index) : r->GetDouble(m, field), false, out);
      return true;
    case FieldDescriptor::CPPTYPE_FLOAT:
      AppendReal(rep ? r->GetRepeatedFloat(m, field, index) : r->GetFloat(m, field), true, out);
      return true;
    case FieldDescriptor::CPPTYPE_BOOL:
      *out += (rep ? r->GetRepeatedBool(m, field, index) : r->GetBool(m, field)) ? "true" : "false";
      return true;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = rep ? r->GetRepeatedEnumValue(m, field, index) : r->GetEnumValue(m, field);
      if (field->enum_type()->full_name() == "google.protobuf.NullValue") {
        *out += "null";
      } else if (const auto* value = field->enum_type()->FindValueByNumber(number); value != nullptr) {
        absl::StrAppend(out, "\"", value->name(), "\"");
      } else {
        absl::StrAppend(out, number);  // an open enum's unknown value
      }
      return true;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s = rep ? r->GetRepeatedStringReference(m, field, index, &scratch)
                                 : r->GetStringReference(m, field, &scratch);
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        absl::StrAppend(out, "\"", absl::Base64Escape(s), "\"");
        return true;
      }
      return AppendString(s, out);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return AppendMessage(rep ? r->GetRepeatedMessage(m, field, index) : r->GetMessage(m, field), out);
  }
  return false;
}

// A map entry's key, always a JSON string.
bool AppendMapKey(const Message& entry, const FieldDescriptor* key, std::string* out) {
  if (key->cpp_type() == FieldDescriptor::CPPTYPE_STRING) return AppendValue(entry, key, -1, out);
  if (key->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) {
    *out += entry.GetReflection()->GetBool(entry, key) ? "\"true\"" : "\"false\"";
    return true;
  }
  if (key->cpp_type() == FieldDescriptor::CPPTYPE_INT64 || key->cpp_type() == FieldDescriptor::CPPTYPE_UINT64) {
    return AppendValue(entry, key, -1, out);  // already quoted
  }
  out->push_back('"');
  AppendValue(entry, key, -1, out);
  out->push_back('"');
  return true;
}

bool AppendField(const Message& m, const FieldDescriptor* field, std::string* out) {
  AppendString(field->json_name(), out);
  out->push_back(':');
  if (field->is_map()) {
    const Descriptor* entry_type = field->message_type();
    out->push_back('{');
    const int n = m.GetReflection()->FieldSize(m, field);
    for (int i = 0; i < n; ++i) {
      if (i > 0) out->push_back(',');
      const Message& entry = m.GetReflection()->GetRepeatedMessage(m, field, i);
      if (!AppendMapKey(entry, entry_type->map_key(), out)) return false;
      out->push_back(':');
      if (!AppendValue(entry, entry_type->map_value(), -1, out)) return false;
    }
    out->push_back('}');
    return true;
  }
  if (field->is_repeated()) {
    out->push_back('[');
    const int n = m.GetReflection()->FieldSize(m, field);
    for (int i = 0; i < n; ++i) {
      if (i > 0) out->push_back(',');
      if (!AppendValue(m, field, i, out)) return false;
    }
    out->push_back(']');
    return true;
  }
  return AppendValue(m, field, -1, out);
}

// False where protobuf's printer must print the whole message instead.
bool AppendMessage(const Message& message, std::string* out) {
  if (message.GetDescriptor()->file()->package() == "google.protobuf") {
    std::string wkt;
    // An empty answer (a Value of no kind) makes protobuf leave the field
    // out, which only protobuf's printer of the whole message gets right.
    if (!google::protobuf::util::MessageToJsonString(message, &wkt).ok() || wkt.empty()) return false;
    *out += wkt;
    return true;
  }
  std::vector<const FieldDescriptor*> fields;
  message.GetReflection()->ListFields(message, &fields);  // the present ones, by number
  out->push_back('{');
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i]->is_extension()) return false;
    if (i > 0) out->push_back(',');
    if (!AppendField(message, fields[i], out)) return false;
  }
  out->push_back('}');
  return true;
}

}  // namespace

absl::Status AppendMessageJson(const google::protobuf::Message& message, std::string* out) {
  const size_t start = out->size();
  if (AppendMessage(message, out)) return absl::OkStatus();
  out->resize(start);
  std::string json;
  auto printed = google::protobuf::util::MessageToJsonString(message, &json);
  if (!printed.ok()) return absl::InvalidArgumentError(printed.message().ToString());
  *out += json;
  return absl::OkStatus();
}

}  // namespace herald::server_internal
