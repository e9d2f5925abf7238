// PluginMemberOrderDiscount: examples/replacements' MemberOrderDiscount
// (basket, "order_level" stage) as a C-ABI plugin: percent off the
// discounted order subtotal for users whose bool attribute is true, given
// through the host's add_subtotal_discount so that it is spread over the
// lines exactly as the built-in order offers are. Written in C++ inside;
// only herald/plugin_abi.h crosses the boundary.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "plugin_config.h"

namespace {

using site_plugin::ConfigError;
using site_plugin::SetError;
using site_plugin::Str;

constexpr char kName[] = "PluginMemberOrderDiscount";
constexpr int32_t kOrderPercentOff = 6;  // herald.v1.OFFER_KIND_ORDER_PERCENT_OFF

struct Instance {
  std::string discount_id, name, user_attribute, percent_text;
  int64_t min_subtotal_minor = 0;
  int64_t basis_points = 0;
};

// amount * basis_points / 10000 rounded half up, without overflow.
int64_t PercentOf(int64_t amount, int64_t basis_points) {
  const __int128 scaled = static_cast<__int128>(amount) * basis_points;
  return static_cast<int64_t>((scaled + 5000) / 10000);
}

// "1050" with 2 digits -> "10.50"
std::string Money(const herald_basket_view* v, int64_t minor) {
  const int digits = v->currency_digits(v->ctx);
  const bool negative = minor < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(minor) : static_cast<uint64_t>(minor);
  std::string text = std::to_string(magnitude);
  if (digits > 0) {
    if (text.size() <= static_cast<size_t>(digits)) text.insert(0, static_cast<size_t>(digits) + 1 - text.size(), '0');
    text.insert(text.size() - static_cast<size_t>(digits), ".");
  }
  return (negative ? "-" : "") + text + " " + site_plugin::Text(v->currency(v->ctx));
}

Instance* Parse(const char* json, size_t size) {
  const site_plugin::Config config(json, size, kName,
                                   {{"discountId", "discount_id"},
                                    {"name", "name"},
                                    {"userAttribute", "user_attribute"},
                                    {"percent", "percent"},
                                    {"minSubtotalMinor", "min_subtotal_minor"}});
  auto instance = std::make_unique<Instance>();
  instance->discount_id = config.String("discountId", "discount_id");
  instance->user_attribute = config.String("userAttribute", "user_attribute");
  instance->min_subtotal_minor = config.Int("minSubtotalMinor", "min_subtotal_minor");
  const double percent = config.Number("percent", "percent");
  instance->name = config.String("name", "name");
  if (instance->name.empty()) instance->name = instance->discount_id;
  const std::string prefix = std::string(kName) + " config: ";
  if (instance->discount_id.empty()) throw ConfigError(prefix + "discount_id is required");
  if (instance->user_attribute.empty()) throw ConfigError(prefix + "user_attribute is required");
  if (instance->min_subtotal_minor < 0) throw ConfigError(prefix + "min_subtotal_minor must be >= 0");
  // As Offer.percent: 0 < percent <= 100 with at most two decimals.
  const double hundredths = percent * 100;
  instance->basis_points = std::llround(hundredths);
  if (!(percent > 0 && percent <= 100) || std::abs(hundredths - static_cast<double>(instance->basis_points)) > 1e-6) {
    throw ConfigError(prefix + "percent must be in (0, 100] with at most two decimals");
  }
  char shown[32];
  std::snprintf(shown, sizeof shown, "%g", percent);
  instance->percent_text = shown;
  return instance.release();
}

void* Create(const char* json, size_t size, herald_error* error) {
  try {
    return Parse(json, size);
  } catch (const std::exception& e) {
    SetError(error, e.what());
    return nullptr;
  }
}

void Destroy(void* instance) { delete static_cast<Instance*>(instance); }

void Note(const herald_basket_view* v, const Instance& d, const char* verdict, const std::string& reason,
          double value = 0) {
  if (v->tracing(v->ctx)) v->note(v->ctx, Str(d.discount_id), herald_str{verdict, std::strlen(verdict)}, Str(reason), value);
}

herald_code Apply(void* instance, const void* view, herald_error* error) {
  const Instance& d = *static_cast<const Instance*>(instance);
  const auto* v = static_cast<const herald_basket_view*>(view);
  herald_value member{};
  if (!v->user_value(v->ctx, d.user_attribute.c_str(), &member)) {
    Note(v, d, "skipped", "user." + d.user_attribute + " is not true");
    return HERALD_OK;
  }
  if (member.kind != HERALD_VALUE_BOOL) {
    // A value of another type is the storefront's mistake, refused as the
    // pricer refuses a property of the wrong type.
    SetError(error, std::string(kName) + " \"" + d.discount_id + "\": user." + d.user_attribute + " must be a bool");
    return HERALD_INVALID_ARGUMENT;
  }
  if (member.int_value == 0) {
    Note(v, d, "skipped", "user." + d.user_attribute + " is not true");
    return HERALD_OK;
  }
  const int64_t subtotal = v->discounted_subtotal_minor(v->ctx);
  if (subtotal < d.min_subtotal_minor || subtotal == 0) {
    Note(v, d, "skipped",
         "discounted subtotal " + Money(v, subtotal) + " is below the minimum " + Money(v, d.min_subtotal_minor));
    return HERALD_OK;
  }
  int64_t applied = 0;
  const herald_code code = v->add_subtotal_discount(v->ctx, Str(d.discount_id), Str(d.name), kOrderPercentOff,
                                                    PercentOf(subtotal, d.basis_points), herald_str{"", 0},
                                                    &applied, error);
  if (code != HERALD_OK) return code;
  Note(v, d, "applied",
       d.percent_text + "% off the discounted subtotal " + Money(v, subtotal) + " for user." + d.user_attribute +
           ": " + Money(v, applied),
       static_cast<double>(applied));
  return HERALD_OK;
}

// No exception crosses the C ABI: an allocation failure is an error status.
herald_code Run(void* instance, const void* view, herald_error* error) {
  try {
    return Apply(instance, view, error);
  } catch (const std::exception& e) {
    SetError(error, e.what());
    return HERALD_INTERNAL;
  }
}

// Reads the lines after the item discounts, writes an order adjustment.
const char* const kReads[] = {"unit_awards", nullptr};
const char* const kWrites[] = {"order_adjustments", nullptr};

herald_code Register(herald_registrar* registrar, herald_error* error) {
  static herald_component_desc desc = [] {
    herald_component_desc d{};
    d.struct_size = sizeof d;
    d.family = "basket";
    d.name = kName;
    d.description = "percent off the discounted order subtotal for users with a bool attribute set";
    d.create = &Create;
    d.destroy = &Destroy;
    d.run = &Run;
    d.reads = kReads;
    d.writes = kWrites;
    return d;
  }();
  return registrar->register_component(registrar, &desc, error);
}

const herald_plugin kPlugin = {HERALD_PLUGIN_ABI_VERSION, "replacement_member_order_discount", "1.0", &Register};

}  // namespace

HERALD_PLUGIN_DEFINE_ABI_HASH()
extern "C" HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { return &kPlugin; }
