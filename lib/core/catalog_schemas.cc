#include "core/strings.h"
#include "core/catalog_schemas.h"
#include "herald/catalog.h"

#include <unicode/ucurr.h>
#include <cstdio>
#include <unicode/utypes.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace herald {
namespace {

expr::Type ToExprType(v1::ValueType type) {
  switch (type) {
    case v1::VALUE_TYPE_STRING: return expr::Type::kString;
    case v1::VALUE_TYPE_INT: return expr::Type::kInt;
    case v1::VALUE_TYPE_DOUBLE: return expr::Type::kDouble;
    case v1::VALUE_TYPE_BOOL: return expr::Type::kBool;
    case v1::VALUE_TYPE_MONEY: return expr::Type::kMoney;
    case v1::VALUE_TYPE_TIMESTAMP: return expr::Type::kTimestamp;
    case v1::VALUE_TYPE_STRING_LIST: return expr::Type::kStringList;
    case v1::VALUE_TYPE_MAP: return expr::Type::kMap;
    default: return expr::Type::kError;
  }
}

absl::Status DeclareAll(std::string_view root,
                        const google::protobuf::RepeatedPtrField<v1::AttributeDecl>& decls,
                        expr::Schema* schema,
                        std::vector<std::pair<std::string, expr::Slot>>* slots) {
  for (const auto& decl : decls) {
    if (ToExprType(decl.type()) == expr::Type::kError) {
      return absl::InvalidArgumentError(
          Cat("attribute ", root, ".", decl.name(), ": type is required"));
    }
    // DeclareAttribute knows maps' value types too.
    auto slot = schema->DeclareAttribute(root, decl);
    if (!slot.ok()) return slot.status();
    slots->emplace_back(decl.name(), *slot);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TargetingSchema> BuildTargetingSchema(const v1::Catalog& catalog) {
  TargetingSchema out;
  if (auto s = DeclareAll("user", catalog.user_attributes(), &out.schema, &out.user); !s.ok()) return s;
  if (auto s = DeclareAll("context", catalog.context_attributes(), &out.schema, &out.context); !s.ok()) return s;
  auto now = out.schema.Declare("now", expr::Type::kTimestamp);
  if (!now.ok()) return now.status();
  out.now = *now;
  return out;
}

absl::StatusOr<ProductSchema> BuildProductSchema(const v1::Catalog& catalog) {
  ProductSchema out;
  out.schema = expr::Schema::WithBuiltins();
  if (auto s = DeclareAll("user", catalog.user_attributes(), &out.schema, &out.user); !s.ok()) return s;
  if (auto s = DeclareAll("context", catalog.context_attributes(), &out.schema, &out.context); !s.ok()) return s;
  if (auto s = DeclareAll("product", catalog.product_attributes(), &out.schema, &out.product); !s.ok()) return s;
  out.now = out.schema.Find("now");
  out.product_id = out.schema.Find("product.id");
  out.product_category = out.schema.Find("product.category");
  out.product_price = out.schema.Find("product.price");
  out.product_quantity = out.schema.Find("product.quantity");
  out.basket_subtotal = out.schema.Find("basket.subtotal");
  out.basket_currency = out.schema.Find("basket.currency");
  out.basket_item_count = out.schema.Find("basket.item_count");
  out.basket_quantity = out.schema.Find("basket.quantity");
  return out;
}

int CurrencyDigits(std::string_view code) {
  if (code.size() != 3) return -1;
  UChar iso[4] = {0, 0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    if (!absl::ascii_isupper(static_cast<unsigned char>(code[i]))) return -1;
    iso[i] = static_cast<UChar>(code[i]);
  }
  UErrorCode status = U_ZERO_ERROR;
  // Known to ICU as a currency in use at any time.
  if (!ucurr_isAvailable(iso, -1e300, 1e300, &status) || U_FAILURE(status)) return -1;
  status = U_ZERO_ERROR;
  int32_t digits = ucurr_getDefaultFractionDigits(iso, &status);
  if (U_FAILURE(status)) return -1;
  return digits;
}

expr::Value ToExprValue(const v1::Value& value, AttributeStorage* storage) {
  switch (value.kind_case()) {
    case v1::Value::kStringValue: return expr::Value::String(value.string_value());
    case v1::Value::kIntValue: return expr::Value::Int(value.int_value());
    case v1::Value::kDoubleValue: return expr::Value::Double(value.double_value());
    case v1::Value::kBoolValue: return expr::Value::Bool(value.bool_value());
    case v1::Value::kMoneyValue: {
      int digits = CurrencyDigits(value.money_value().currency());
      expr::Money m;
      m.minor_units = value.money_value().minor_units();
      m.scale = digits < 0 ? 2 : digits;
      m.currency = expr::Currency::Of(value.money_value().currency());
      return expr::Value::FromMoney(m);
    }
    case v1::Value::kTimeValue:
      return expr::Value::Timestamp(absl::FromUnixSeconds(value.time_value().seconds()) +
                                    absl::Nanoseconds(value.time_value().nanos()));
    case v1::Value::kListValue: {
      storage->strings.clear();
      for (const auto& s : value.list_value().values()) storage->strings.push_back(s);
      return expr::Value::StringList(storage->strings);
    }
    case v1::Value::kMapValue: {
      // Scalar values only (VALUE_TYPE_MAP): nothing further to store.
      storage->entries.clear();
      AttributeStorage unused;
      for (const auto& [key, v] : value.map_value().values()) {
        storage->entries.push_back(expr::Value::String(key));
        storage->entries.push_back(v.has_list_value() || v.has_map_value() ? expr::Value::Null()
                                                                           : ToExprValue(v, &unused));
      }
      return expr::Value::Map(storage->entries);
    }
    case v1::Value::KIND_NOT_SET: return expr::Value::Null();
  }
  return expr::Value::Null();
}

void FillProfileSlots(const std::vector<std::pair<std::string, expr::Slot>>& slots,
                      const v1::Profile* profile, expr::Activation* activation,
                      std::vector<AttributeStorage>* lists) {
  if (lists->size() < slots.size()) lists->resize(slots.size());
  if (profile == nullptr || profile->values().empty()) {
    for (const auto& [name, slot] : slots) activation->Unset(slot);
    return;
  }
  const auto& values = profile->values();  // one map sync, not one per attribute
  if (slots.size() <= 32) {
    // Walk the profile once and match names against the few declared ones:
    // the map's nodes are read independently (their cache misses overlap)
    // rather than by one dependent hash lookup per attribute.
    for (const auto& [name, slot] : slots) activation->Unset(slot);
    for (const auto& [key, value] : values) {
      if (value.kind_case() == v1::Value::KIND_NOT_SET) continue;
      for (size_t i = 0; i < slots.size(); ++i) {
        if (slots[i].first.size() == key.size() && slots[i].first == key) {
          activation->Set(slots[i].second, ToExprValue(value, &(*lists)[i]));
          break;
        }
      }
    }
    return;
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto& [name, slot] = slots[i];
    auto it = values.find(name);
    if (it == values.end() || it->second.kind_case() == v1::Value::KIND_NOT_SET) {
      activation->Unset(slot);
    } else {
      activation->Set(slot, ToExprValue(it->second, &(*lists)[i]));
    }
  }
}

}  // namespace herald

namespace herald {

absl::StatusOr<std::optional<ExpressionError>> CheckCatalogExpression(const v1::Catalog& catalog,
                                                                      ExpressionUse use,
                                                                      std::string_view source) {
  expr::CompileOptions options;
  options.default_time_zone = catalog.time_zone().empty() ? "UTC" : catalog.time_zone();
  absl::StatusOr<expr::Program> program;
  if (use == ExpressionUse::kTargeting) {
    auto schema = BuildTargetingSchema(catalog);
    if (!schema.ok()) return schema.status();
    program = expr::CompileFilter(source, schema->schema, options);
  } else {
    auto schema = BuildProductSchema(catalog);
    if (!schema.ok()) return schema.status();
    program = expr::CompileFilter(source, schema->schema, options);
  }
  if (program.ok()) return std::nullopt;
  // The compiler's messages start "line:column: " (docs/expressions.md).
  std::string_view message(program.status().message().data(), program.status().message().size());
  message = message.substr(0, message.find('\n'));
  ExpressionError error;
  int line = 0, column = 0, consumed = 0;
  const std::string head(message.substr(0, 32));
  if (std::sscanf(head.c_str(), "%d:%d: %n", &line, &column, &consumed) >= 2 && consumed > 0) {
    error.line = line;
    error.column = column;
    message.remove_prefix(static_cast<size_t>(consumed));
  }
  error.message = std::string(message);
  return error;
}

}  // namespace herald
