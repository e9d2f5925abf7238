// herald/spelling.h: enum spellings (the name distances and did-you-mean
// suggestions are in lib/expr/names.cc).
#include "herald/spelling.h"

#include <algorithm>
#include <cctype>

#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace herald {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;

// "EVENT_TYPE_" for enum EventType: protobuf's style guide prefix.
std::string UpperSnakePrefix(std::string_view enum_name) {
  std::string out;
  for (size_t i = 0; i < enum_name.size(); ++i) {
    char c = enum_name[i];
    if (std::isupper(static_cast<unsigned char>(c)) && i > 0 &&
        !std::isupper(static_cast<unsigned char>(enum_name[i - 1]))) {
      out.push_back('_');
    }
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  out.push_back('_');
  return out;
}

// Lower case, '-' as '_': the form spellings are compared in.
std::string Fold(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out.push_back(c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

const EnumValueDescriptor* Lookup(const EnumDescriptor& type, std::string_view text) {
  if (const EnumValueDescriptor* exact = type.FindValueByName(std::string(text))) return exact;
  const std::string folded = Fold(text);
  for (int i = 0; i < type.value_count(); ++i) {
    const EnumValueDescriptor* v = type.value(i);
    if (Fold(v->name()) == folded || ShortEnumName(*v) == folded) return v;
  }
  return nullptr;
}

bool NormalizeValue(nlohmann::json& value, const FieldDescriptor& field);

bool NormalizeMessage(nlohmann::json& object, const Descriptor& type) {
  if (!object.is_object()) return false;
  // Well-known types (Timestamp, Struct, Value, Any ...) have their own JSON forms.
  if (type.file()->package() == "google.protobuf") return false;
  bool changed = false;
  for (auto& [key, value] : object.items()) {
    const FieldDescriptor* field = type.FindFieldByName(key);
    if (field == nullptr) {
      for (int i = 0; i < type.field_count() && field == nullptr; ++i) {
        if (type.field(i)->json_name() == key) field = type.field(i);
      }
    }
    if (field == nullptr) continue;
    if (field->is_map()) {
      const FieldDescriptor* map_value = field->message_type()->map_value();
      if (!value.is_object()) continue;
      for (auto& [k, v] : value.items()) changed |= NormalizeValue(v, *map_value);
      continue;
    }
    if (field->is_repeated() && value.is_array()) {
      for (auto& element : value) changed |= NormalizeValue(element, *field);
      continue;
    }
    changed |= NormalizeValue(value, *field);
  }
  return changed;
}

bool NormalizeValue(nlohmann::json& value, const FieldDescriptor& field) {
  if (field.type() == FieldDescriptor::TYPE_MESSAGE) return NormalizeMessage(value, *field.message_type());
  if (field.type() != FieldDescriptor::TYPE_ENUM || !value.is_string()) return false;
  const std::string& text = value.get_ref<const std::string&>();
  const EnumValueDescriptor* found = Lookup(*field.enum_type(), text);
  if (found == nullptr || found->name() == text) return false;
  value = found->name();
  return true;
}

}  // namespace

std::string ShortEnumName(const EnumValueDescriptor& value) {
  const std::string prefix = UpperSnakePrefix(value.type()->name());
  std::string_view name = value.name();
  if (name.size() > prefix.size() && name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  return Fold(name);
}

std::string EnumSpellings(const EnumDescriptor& type) {
  std::string out;
  for (int i = 0; i < type.value_count(); ++i) CatTo(out, i == 0 ? "" : ", ", ShortEnumName(*type.value(i)));
  return out;
}

absl::StatusOr<const EnumValueDescriptor*> FindEnumValue(const EnumDescriptor& type, std::string_view text) {
  if (const EnumValueDescriptor* v = Lookup(type, text)) return v;
  std::vector<std::string> spellings;
  for (int i = 0; i < type.value_count(); ++i) spellings.push_back(ShortEnumName(*type.value(i)));
  std::string_view near = NearestName(Fold(text), spellings);
  std::string readable = Fold(UpperSnakePrefix(type.name()));
  readable.pop_back();
  std::replace(readable.begin(), readable.end(), '_', ' ');
  return absl::InvalidArgumentError(Cat("unknown ", readable, " \"", text, "\"",
                                        near.empty() ? std::string() : Cat("; did you mean \"", near, "\"?"),
                                        " (one of: ", EnumSpellings(type), ")"));
}

std::string NormalizeJsonEnums(std::string_view json, const Descriptor& type) {
  nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !NormalizeMessage(doc, type)) return std::string(json);
  return doc.dump();
}

}  // namespace herald
