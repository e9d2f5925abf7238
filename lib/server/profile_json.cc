#include "server/profile_json.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "herald/catalog.h"
#include "herald/server.h"
#include "server/absl_view.h"

namespace herald::server_internal {

namespace {

using google::protobuf::Value;

// How a JSON value reads in an error: strings quoted, long ones cut.
std::string Shown(const Value& value) {
  switch (value.kind_case()) {
    case Value::kStringValue: {
      std::string s = value.string_value();
      if (s.size() > 40) s = s.substr(0, 40) + "...";
      return absl::StrCat("\"", s, "\"");
    }
    case Value::kNumberValue: return absl::StrCat(value.number_value());
    case Value::kBoolValue: return value.bool_value() ? "true" : "false";
    case Value::kListValue: return "a list";
    case Value::kStructValue: return "an object";
    default: return "null";
  }
}

std::string_view TypeName(v1::ValueType type) {
  switch (type) {
    case v1::VALUE_TYPE_STRING: return "string";
    case v1::VALUE_TYPE_INT: return "int";
    case v1::VALUE_TYPE_DOUBLE: return "number";
    case v1::VALUE_TYPE_BOOL: return "bool";
    case v1::VALUE_TYPE_MONEY: return "money (\"19.99\" or \"19.99 EUR\")";
    case v1::VALUE_TYPE_TIMESTAMP: return "RFC 3339 time";
    case v1::VALUE_TYPE_STRING_LIST: return "list of strings";
    case v1::VALUE_TYPE_MAP: return "object";
    default: return "value";
  }
}

absl::StatusOr<v1::Value> Convert(const Value& json, v1::ValueType type, std::string_view currency,
                                  v1::ValueType map_value_type = v1::VALUE_TYPE_UNSPECIFIED) {
  v1::Value out;
  const bool is_string = json.kind_case() == Value::kStringValue;
  const bool is_number = json.kind_case() == Value::kNumberValue;
  switch (type) {
    case v1::VALUE_TYPE_STRING:
      if (!is_string) break;
      out.set_string_value(json.string_value());
      return out;
    case v1::VALUE_TYPE_INT: {
      if (!is_number) break;
      double d = json.number_value();
      // 2^63 is exact in a double; integers past 2^53 arrive rounded anyway.
      if (d != std::floor(d) || std::fabs(d) >= 9223372036854775808.0) break;
      out.set_int_value(static_cast<int64_t>(d));
      return out;
    }
    case v1::VALUE_TYPE_DOUBLE:
      if (!is_number) break;
      out.set_double_value(json.number_value());
      return out;
    case v1::VALUE_TYPE_BOOL:
      if (json.kind_case() != Value::kBoolValue) break;
      out.set_bool_value(json.bool_value());
      return out;
    case v1::VALUE_TYPE_MONEY:
    case v1::VALUE_TYPE_TIMESTAMP: {
      if (!is_string) break;
      auto parsed = ParseAttributeValue(type, json.string_value(), currency);
      if (!parsed.ok()) break;
      return parsed;
    }
    case v1::VALUE_TYPE_MAP: {
      // {"loyalty": 4, "churn": 1}: each value of the declared value type.
      if (json.kind_case() != Value::kStructValue) break;
      auto* values = out.mutable_map_value()->mutable_values();
      for (const auto& [key, v] : json.struct_value().fields()) {
        auto converted = Convert(v, map_value_type, currency);
        if (!converted.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("key \"", key, "\": ",
                                                         converted.status().message()));
        }
        (*values)[key] = std::move(*converted);
      }
      return out;
    }
    case v1::VALUE_TYPE_STRING_LIST: {
      if (json.kind_case() != Value::kListValue) break;
      for (const Value& v : json.list_value().values()) {
        if (v.kind_case() != Value::kStringValue) {
          return absl::InvalidArgumentError(
              absl::StrCat("expected a list of strings, got ", Shown(v), " in the list"));
        }
        out.mutable_list_value()->add_values(v.string_value());
      }
      return out;
    }
    default:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat("expected ", AbslView(TypeName(type)), ", got ", Shown(json)));
}

}  // namespace

absl::StatusOr<v1::Profile> ProfileFromJson(
    const google::protobuf::Struct& object,
    const google::protobuf::RepeatedPtrField<v1::AttributeDecl>& declared, std::string_view root,
    std::string_view currency) {
  v1::Profile profile;
  for (const auto& [name, value] : object.fields()) {
    if (value.kind_case() == Value::kNullValue || value.kind_case() == Value::KIND_NOT_SET) continue;
    std::string field = absl::StrCat(AbslView(root), ".", name);
    const v1::AttributeDecl* decl = nullptr;
    for (const v1::AttributeDecl& d : declared) {
      if (d.name() == name) decl = &d;
    }
    if (decl == nullptr) {
      std::vector<std::string> names;
      for (const v1::AttributeDecl& d : declared) names.push_back(d.name());
      return WithField(
          absl::InvalidArgumentError(absl::StrCat(
              field, ": unknown attribute (declared: ",
              names.empty() ? "none" : absl::StrJoin(names, ", "), ")")),
          field);
    }
    auto converted = Convert(value, decl->type(), currency, decl->map_value_type());
    if (!converted.ok()) {
      return WithField(absl::InvalidArgumentError(absl::StrCat(field, ": ", converted.status().message())),
                       field);
    }
    (*profile.mutable_values())[name] = std::move(*converted);
  }
  return profile;
}

}  // namespace herald::server_internal
