// PluginSkipDomains: examples/replacements' SkipDomains (mail, "filter"
// stage) as a C-ABI plugin: live recipients whose address is in one of the
// listed domains are skipped under the configured reason, so nobody there
// is mailed and the job report counts them. Test sends pass, as with the
// built-in OptOutFilter; domains compare case-insensitively and exactly
// ("example.net" does not skip "mail.example.net").
#include <algorithm>
#include <cctype>
#include <memory>
#include <set>
#include <string>

#include "plugin_config.h"

namespace {

using site_plugin::ConfigError;
using site_plugin::SetError;

constexpr char kName[] = "PluginSkipDomains";

struct Instance {
  std::set<std::string> domains;
  std::string reason;
};

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string Trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

Instance* Parse(const char* json, size_t size) {
  const site_plugin::Config config(json, size, kName, {{"domains", "domains"}, {"reason", "reason"}});
  const std::string prefix = std::string(kName) + " config: ";
  const nlohmann::json* domains = config.Find("domains", "domains");
  if (domains == nullptr || !domains->is_array() || domains->empty()) {
    throw ConfigError(prefix + "domains is required (a list of domains)");
  }
  auto instance = std::make_unique<Instance>();
  for (const nlohmann::json& given : *domains) {
    const std::string text = given.is_string() ? given.get<std::string>() : given.dump();
    const std::string domain = Lower(Trim(text));
    if (!given.is_string() || domain.empty() || domain.find('@') != std::string::npos) {
      throw ConfigError(prefix + "domains: \"" + text + "\" is not a domain (\"example.net\")");
    }
    instance->domains.insert(domain);
  }
  instance->reason = config.String("reason", "reason");
  if (instance->reason.empty()) instance->reason = "domain_suppressed";
  // A report key, as the built-in reasons are ("opted_out", "invalid_address").
  for (char c : instance->reason) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      throw ConfigError(prefix + "reason \"" + instance->reason + "\" must be lowercase letters, digits and _");
    }
  }
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

herald_code Apply(void* instance, const void* view, herald_error*) {
  const Instance& skip = *static_cast<const Instance*>(instance);
  const auto* v = static_cast<const herald_mail_view*>(view);
  if (v->test_send(v->ctx)) return HERALD_OK;
  const size_t count = v->item_count(v->ctx);
  for (size_t i = 0; i < count; ++i) {
    if (v->item_state(v->ctx, i) != HERALD_MAIL_LIVE) continue;
    const std::string address = site_plugin::Text(v->item_address(v->ctx, i));
    const size_t at = address.rfind('@');
    const std::string domain = at == std::string::npos ? "" : Lower(address.substr(at + 1));
    if (skip.domains.count(domain) == 0) continue;
    const std::string detail = "domain " + domain + " is suppressed";
    v->skip(v->ctx, i, skip.reason.c_str(), detail.c_str());
    if (v->tracing(v->ctx)) v->note(v->ctx, address.c_str(), "skipped", detail.c_str());
  }
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

// Reads and writes no fact, as OptOutFilter: the pipeline stays checked.
const char* const kNone[] = {nullptr};

herald_code Register(herald_registrar* registrar, herald_error* error) {
  static herald_component_desc desc = [] {
    herald_component_desc d{};
    d.struct_size = sizeof d;
    d.family = "mail";
    d.name = kName;
    d.description = "skips recipients whose address is in one of the listed domains";
    d.create = &Create;
    d.destroy = &Destroy;
    d.run = &Run;
    d.reads = kNone;
    d.writes = kNone;
    return d;
  }();
  return registrar->register_component(registrar, &desc, error);
}

const herald_plugin kPlugin = {HERALD_PLUGIN_ABI_VERSION, "replacement_skip_domains", "1.0", &Register};

}  // namespace

HERALD_PLUGIN_DEFINE_ABI_HASH()
extern "C" HERALD_PLUGIN_EXPORT const herald_plugin* herald_plugin_entry(void) { return &kPlugin; }
