#include "core/input_check.h"

#include <functional>
#include <string>

#include "absl/strings/str_format.h"
#include "core/strings.h"

namespace herald {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::TextFormat;

size_t FindInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The lead byte fixes the length and the range of the second byte
    // (RFC 3629 table: this is what rules out overlongs and surrogates).
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c == 0xE0) {
      len = 3, lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
      len = 3;
    } else if (c == 0xED) {
      len = 3, hi = 0x9F;
    } else if (c == 0xF0) {
      len = 4, lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
      len = 4;
    } else if (c == 0xF4) {
      len = 4, hi = 0x8F;
    } else {
      return i;
    }
    if (i + 1 >= n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (i + k >= n || p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

std::string EscapeInvalidUtf8(std::string_view s) {
  size_t bad = FindInvalidUtf8(s);
  if (bad == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  while (bad != std::string_view::npos) {
    out.append(s.data(), bad);
    out += absl::StrFormat("\\x%02X", static_cast<unsigned char>(s[bad]));
    s.remove_prefix(bad + 1);
    bad = FindInvalidUtf8(s);
  }
  out.append(s.data(), s.size());
  return out;
}

std::string InvalidString::Message() const {
  return absl::StrFormat("%s: not valid UTF-8 (byte 0x%02X at offset %d)", path, byte, offset);
}

namespace {

class StringWalker {
 public:
  explicit StringWalker(std::vector<InvalidString>* out) : out_(out) {}

  void Walk(const Message& message, const TextFormat::ParseInfoTree* tree, const std::string& path,
            int line) {
    const Reflection* reflection = message.GetReflection();
    std::vector<const FieldDescriptor*> fields;
    reflection->ListFields(message, &fields);
    for (const FieldDescriptor* field : fields) {
      if (field->type() == FieldDescriptor::TYPE_STRING) {
        Strings(message, field, tree, path, line);
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        Messages(message, field, tree, path, line);
      }
    }
  }

 private:
  static std::string Join(const std::string& path, std::string_view name) {
    return path.empty() ? std::string(name) : Cat(path, ".", name);
  }

  static int LineOf(const TextFormat::ParseInfoTree* tree, const FieldDescriptor* field, int index,
                    int fallback) {
    if (tree == nullptr) return fallback;
    auto loc = tree->GetLocation(field, field->is_repeated() ? index : -1);
    return loc.line >= 0 ? loc.line + 1 : fallback;
  }

  void Strings(const Message& message, const FieldDescriptor* field,
               const TextFormat::ParseInfoTree* tree, const std::string& path, int line) {
    const Reflection* reflection = message.GetReflection();
    std::string scratch;
    auto check = [&](const std::string& value, int index) {
      size_t bad = FindInvalidUtf8(value);
      if (bad == std::string_view::npos) return;
      std::string where = Join(path, field->name());
      if (index >= 0) where = Cat(where, "[", index, "]");
      out_->push_back(InvalidString{std::move(where), LineOf(tree, field, index, line), bad,
                                    static_cast<unsigned char>(value[bad])});
    };
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        check(reflection->GetRepeatedStringReference(message, field, i, &scratch), i);
      }
    } else {
      check(reflection->GetStringReference(message, field, &scratch), -1);
    }
  }

  void Messages(const Message& message, const FieldDescriptor* field,
                const TextFormat::ParseInfoTree* tree, const std::string& path, int line) {
    const Reflection* reflection = message.GetReflection();
    if (!field->is_repeated()) {
      const TextFormat::ParseInfoTree* sub = tree ? tree->GetTreeForNested(field, -1) : nullptr;
      Walk(reflection->GetMessage(message, field), sub, Join(path, field->name()),
           LineOf(tree, field, -1, line));
      return;
    }
    for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
      const Message& entry = reflection->GetRepeatedMessage(message, field, i);
      const TextFormat::ParseInfoTree* sub = tree ? tree->GetTreeForNested(field, i) : nullptr;
      std::string label = Cat(Join(path, field->name()), "[", i, "]");
      if (field->is_map()) {
        // A map entry is named by its key when the key is printable.
        const FieldDescriptor* key = field->message_type()->map_key();
        std::string scratch;
        if (key->type() == FieldDescriptor::TYPE_STRING) {
          // A map has no order: an entry whose key is not printable is "[?]".
          const std::string& k = entry.GetReflection()->GetStringReference(entry, key, &scratch);
          label = IsValidUtf8(k) ? Cat(Join(path, field->name()), "[\"", k, "\"]")
                                 : Cat(Join(path, field->name()), "[?]");
        }
      }
      Walk(entry, sub, label, LineOf(tree, field, i, line));
    }
  }

  std::vector<InvalidString>* out_;
};

}  // namespace

std::vector<InvalidString> FindInvalidStrings(const Message& message,
                                              const TextFormat::ParseInfoTree* locations,
                                              std::string_view root) {
  std::vector<InvalidString> out;
  StringWalker(&out).Walk(message, locations, std::string(root), 0);
  return out;
}

absl::Status CheckStringsAreUtf8(const Message& message, std::string_view source) {
  std::vector<InvalidString> found = FindInvalidStrings(message);
  if (found.empty()) return absl::OkStatus();
  std::string text = Cat(source, ": ", found.front().Message());
  if (found.size() > 1) CatTo(text, " (and ", found.size() - 1, " more)");
  return absl::InvalidArgumentError(text);
}

namespace {

// Finds the first invalid string of a basket and names it as the
// reflection walk would. Paths are built only for a failure.
class BasketStrings {
 public:
  absl::Status Check(const v1::Basket& b) {
    Field(b.currency(), [] { return std::string("currency"); });
    for (int i = 0; i < b.items_size(); ++i) Line(b.items(i), i);
    Values(b.user().values(), [] { return std::string("user.values"); });
    Values(b.context().values(), [] { return std::string("context.values"); });
    for (int i = 0; i < b.clicked_items_size(); ++i) {
      Field(b.clicked_items(i), [i] { return Cat("clicked_items[", i, "]"); });
    }
    for (int i = 0; i < b.coupon_codes_size(); ++i) {
      Field(b.coupon_codes(i), [i] { return Cat("coupon_codes[", i, "]"); });
    }
    Field(b.customer_id(), [] { return std::string("customer_id"); });
    Field(b.order_id(), [] { return std::string("order_id"); });
    if (!found_) return absl::OkStatus();
    return absl::InvalidArgumentError(Cat("basket: ", first_.Message()));
  }

 private:
  template <typename PathFn>
  void Field(std::string_view value, const PathFn& path) {
    if (found_) return;
    size_t bad = FindInvalidUtf8(value);
    if (bad == std::string_view::npos) return;
    found_ = true;
    first_ = InvalidString{path(), 0, bad, static_cast<unsigned char>(value[bad])};
  }

  void Line(const v1::LineItem& item, int i) {
    auto at = [i](std::string_view field) { return Cat("items[", i, "].", field); };
    Field(item.id(), [&] { return at("id"); });
    Field(item.product_id(), [&] { return at("product_id"); });
    Field(item.category(), [&] { return at("category"); });
    Field(item.currency(), [&] { return at("currency"); });
    Values(item.properties(), [&] { return at("properties"); });
  }

  template <typename PathFn>
  void Values(const google::protobuf::Map<std::string, v1::Value>& values, const PathFn& path) {
    for (const auto& entry : values) {
      // Named, not a structured binding: clang 14 cannot capture those.
      const std::string& key = entry.first;
      const v1::Value& value = entry.second;
      if (found_) return;
      Field(key, [&] { return Cat(path(), "[?].key"); });
      auto at = [&](std::string_view field) { return Cat(path(), "[\"", key, "\"].value.", field); };
      switch (value.kind_case()) {
        case v1::Value::kStringValue:
          Field(value.string_value(), [&] { return at("string_value"); });
          break;
        case v1::Value::kMoneyValue:
          Field(value.money_value().currency(), [&] { return at("money_value.currency"); });
          break;
        case v1::Value::kListValue:
          for (int i = 0; i < value.list_value().values_size(); ++i) {
            Field(value.list_value().values(i), [&] { return at(Cat("list_value.values[", i, "]")); });
          }
          break;
        case v1::Value::kMapValue:
          // One std::function type, so that the recursion instantiates once.
          Values(value.map_value().values(),
                 std::function<std::string()>([&] { return at("map_value.values"); }));
          break;
        default:
          break;
      }
    }
  }

  bool found_ = false;
  InvalidString first_;
};

}  // namespace

absl::Status CheckBasketStrings(const v1::Basket& basket) { return BasketStrings().Check(basket); }

absl::Status CheckTextIsUtf8(std::string_view text, std::string_view source) {
  size_t bad = FindInvalidUtf8(text);
  if (bad == std::string_view::npos) return absl::OkStatus();
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < bad; ++i) {
    if (text[i] == '\n') ++line, line_start = i + 1;
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("%s:%d:%d: not valid UTF-8 (byte 0x%02X)", std::string(source), line,
                      static_cast<int>(bad - line_start + 1), static_cast<unsigned char>(text[bad])));
}

}  // namespace herald
