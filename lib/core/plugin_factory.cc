// The family-independent half of every plugin component: config as JSON,
// create / destroy, the declared contract, typed values. The families'
// adapters (their views) are in their modules; see plugin_adapters.h.
#include <string.h>

#include <algorithm>
#include <list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/plugin_adapters.h"
#include "core/private_file.h"
#include "core/strings.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace herald::internal {

ErrorSink::ErrorSink() {
  error.host_data = this;
  error.set = [](herald_error* e, const char* message) {
    auto* sink = static_cast<ErrorSink*>(e->host_data);
    sink->message = message != nullptr ? message : "(no message)";
  };
}

absl::Status ErrorSink::ToStatus(herald_code code, std::string_view component) const {
  // A plugin may return any number: only the codes the ABI names keep theirs.
  absl::StatusCode status_code = absl::StatusCode::kInternal;
  switch (code) {
    case HERALD_INVALID_ARGUMENT: status_code = absl::StatusCode::kInvalidArgument; break;
    case HERALD_NOT_FOUND: status_code = absl::StatusCode::kNotFound; break;
    case HERALD_FAILED_PRECONDITION: status_code = absl::StatusCode::kFailedPrecondition; break;
    default: break;
  }
  return absl::Status(status_code, Cat("plugin component ", component, ": ",
                                       message.empty() ? std::string("failed") : message));
}

namespace {

class PluginFactory final : public FactoryBase {
 public:
  PluginFactory(std::string_view family, const herald_component_desc& desc, std::string plugin,
                PluginAdapterMaker make)
      : family_(family), desc_(desc), plugin_(std::move(plugin)), make_(std::move(make)) {
    name_ = desc.name;
    description_ = desc.description != nullptr ? desc.description : "";
    CatTo(description_, description_.empty() ? "" : " ", "(plugin ", plugin_, ")");
  }
  std::string_view family() const override { return family_; }
  std::string_view name() const override { return name_; }
  std::string_view description() const override { return description_; }
  std::unique_ptr<google::protobuf::Message> CreateEmptyConfig() const override {
    return std::make_unique<google::protobuf::Struct>();
  }
  absl::StatusOr<std::unique_ptr<Extension>> Create(const google::protobuf::Message& config,
                                                    const CreateContext& context) const override {
    if (config.GetDescriptor() != google::protobuf::Struct::descriptor()) {
      return absl::InvalidArgumentError(
          Cat("plugin component ", name_, ": config must be google.protobuf.Struct (json_config)"));
    }
    std::string json;
    auto status = google::protobuf::util::MessageToJsonString(config, &json);
    if (!status.ok()) return absl::InvalidArgumentError(std::string(status.message()));
    ErrorSink sink;
    void* instance = desc_.create_in_context != nullptr
                         ? CreateInContext(json, context.base_dir, sink)
                         : desc_.create(json.data(), json.size(), &sink.error);
    if (instance == nullptr) {
      return absl::InvalidArgumentError(Cat("plugin component ", name_, " (", plugin_, "): ",
                                            sink.message.empty() ? "create failed" : sink.message));
    }
    return make_(std::make_unique<PluginInstance>(desc_, instance));
  }

 private:
  // The services of herald_create_context; `ctx` is a SecretBuffer. Each
  // secret read keeps its own string (a list: never moved), so that every
  // herald_str handed out stays valid until create_in_context returns, as
  // the header promises; all are wiped then.
  struct SecretBuffer {
    std::string base_dir;
    std::list<std::string> secrets;
    ~SecretBuffer() {
      for (std::string& secret : secrets) explicit_bzero(secret.data(), secret.size());
    }
  };
  static herald_code ReadSecret(void* ctx, const char* what, const char* path, herald_str* out,
                                herald_error* error) {
    auto* buffer = static_cast<SecretBuffer*>(ctx);
    absl::StatusOr<std::string> secret =
        ReadPrivateFileLine(what != nullptr && *what != '\0' ? what : "secret", View(path), buffer->base_dir);
    if (!secret.ok()) {
      if (error != nullptr && error->set != nullptr) error->set(error, std::string(secret.status().message()).c_str());
      return secret.status().code() == absl::StatusCode::kNotFound ? HERALD_NOT_FOUND : HERALD_FAILED_PRECONDITION;
    }
    buffer->secrets.push_back(*std::move(secret));
    if (out != nullptr) *out = Str(buffer->secrets.back());
    return HERALD_OK;
  }

  void* CreateInContext(const std::string& json, std::string_view base_dir, ErrorSink& sink) const {
    SecretBuffer buffer{std::string(base_dir), {}};
    const herald_create_context context{&buffer, Str(json), Str(buffer.base_dir), &ReadSecret};
    return desc_.create_in_context(&context, &sink.error);
  }

  std::string family_;
  herald_component_desc desc_;
  std::string plugin_, name_, description_;
  PluginAdapterMaker make_;
};

std::vector<std::string> Names(const char* const* names) {
  std::vector<std::string> out;
  for (; names != nullptr && *names != nullptr; ++names) out.emplace_back(*names);
  return out;
}

}  // namespace

std::unique_ptr<FactoryBase> MakePluginFactory(std::string_view family, const herald_component_desc& desc,
                                               const std::string& plugin, PluginAdapterMaker make) {
  return std::make_unique<PluginFactory>(family, desc, plugin, std::move(make));
}

namespace {
std::map<std::string, PluginFactoryMaker, std::less<>>& PluginFamilies() {
  static auto* families = new std::map<std::string, PluginFactoryMaker, std::less<>>();  // never destroyed
  return *families;
}
}  // namespace

bool AddPluginFamily(std::string_view family, PluginFactoryMaker make) {
  PluginFamilies()[std::string(family)] = make;
  return true;
}

PluginFactoryMaker FindPluginFamily(std::string_view family) {
  auto it = PluginFamilies().find(family);
  return it == PluginFamilies().end() ? nullptr : it->second;
}

std::string PluginFamilyList() {
  std::string list;
  for (const auto& [family, make] : PluginFamilies()) CatTo(list, list.empty() ? "" : ", ", family);
  return list;
}

ComponentContract PluginContract(const herald_component_desc& desc) {
  if (desc.reads == nullptr) return {{}, {}, {}, false};
  return {Names(desc.reads), Names(desc.writes), {}, true};
}

bool ToPluginValue(const v1::Value& value, herald_value* out) {
  *out = herald_value{};
  switch (value.kind_case()) {
    case v1::Value::kStringValue:
      out->kind = HERALD_VALUE_STRING;
      out->text = Str(value.string_value());
      return true;
    case v1::Value::kIntValue:
      out->kind = HERALD_VALUE_INT;
      out->int_value = value.int_value();
      return true;
    case v1::Value::kDoubleValue:
      out->kind = HERALD_VALUE_DOUBLE;
      out->double_value = value.double_value();
      return true;
    case v1::Value::kBoolValue:
      out->kind = HERALD_VALUE_BOOL;
      out->int_value = value.bool_value() ? 1 : 0;
      return true;
    case v1::Value::kMoneyValue:
      out->kind = HERALD_VALUE_MONEY;
      out->int_value = value.money_value().minor_units();
      out->text = Str(value.money_value().currency());
      return true;
    default: return false;
  }
}

}  // namespace herald::internal
