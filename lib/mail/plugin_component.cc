// Adapts a plugin's C mail component (herald/plugin_abi.h, herald_mail_view)
// to a MailComponent: the plugin sees the batch's recipients (address,
// state, list columns) and skips or fails them through MailItem's own
// Skip / Fail, so the job's report and ledger treat them as the built-ins'.
#include <memory>
#include <string>

#include "core/plugin_adapters.h"
#include "herald/mail.h"
#include "herald/trace.h"

namespace herald {
namespace {

using internal::Str;
using internal::View;

MailContext& Ctx(void* p) { return *static_cast<MailContext*>(p); }

MailItem* Item(void* p, size_t index) {
  MailContext& ctx = Ctx(p);
  return index < ctx.items.size() ? &ctx.items[index] : nullptr;
}

size_t ItemCount(void* p) { return Ctx(p).items.size(); }

herald_str ItemAddress(void* p, size_t index) {
  const MailItem* item = Item(p, index);
  return item != nullptr ? Str(item->address) : herald_str{"", 0};
}

herald_mail_item_state ItemState(void* p, size_t index) {
  const MailItem* item = Item(p, index);
  if (item == nullptr) return HERALD_MAIL_SKIPPED;
  switch (item->state) {
    case MailItemState::kLive: return HERALD_MAIL_LIVE;
    case MailItemState::kSent: return HERALD_MAIL_SENT;
    case MailItemState::kFailed: return HERALD_MAIL_FAILED;
    case MailItemState::kSkipped: return HERALD_MAIL_SKIPPED;
  }
  return HERALD_MAIL_SKIPPED;
}

herald_str ItemField(void* p, size_t index, const char* name) {
  const MailItem* item = Item(p, index);
  if (item == nullptr || name == nullptr) return herald_str{"", 0};
  const std::string_view value = Ctx(p).Field(*item, name);
  return value.empty() ? herald_str{"", 0} : Str(value);  // absent: "", never NULL
}

void Skip(void* p, size_t index, const char* reason, const char* detail) {
  MailItem* item = Item(p, index);
  if (item == nullptr || item->state != MailItemState::kLive) return;
  item->Skip(View(reason).empty() ? "filtered" : View(reason), View(detail));
}

void Fail(void* p, size_t index, const char* reason, const char* detail) {
  MailItem* item = Item(p, index);
  if (item == nullptr || item->state != MailItemState::kLive) return;
  item->Fail(View(reason).empty() ? "failed" : View(reason), View(detail));
}

int TestSend(void* p) { return Ctx(p).test_send ? 1 : 0; }

void Note(void* p, const char* subject, const char* verdict, const char* reason) {
  if (Ctx(p).trace != nullptr) Ctx(p).trace->Note(View(subject), View(verdict), View(reason));
}
int Tracing(void* p) { return Ctx(p).trace != nullptr; }

class PluginMailComponent final : public MailComponent {
 public:
  explicit PluginMailComponent(std::unique_ptr<internal::PluginInstance> plugin) : plugin_(std::move(plugin)) {}

  ComponentContract Contract() const override { return internal::PluginContract(plugin_->desc); }

  absl::Status Run(MailContext& ctx) const override {
    herald_mail_view view{&ctx, &ItemCount, &ItemAddress, &ItemState, &ItemField,
                          &Skip, &Fail,     &TestSend,    &Note,      &Tracing};
    internal::ErrorSink sink;
    const herald_code code = plugin_->desc.run(plugin_->instance, &view, &sink.error);
    return code == HERALD_OK ? absl::OkStatus() : sink.ToStatus(code, plugin_->desc.name);
  }

 private:
  std::unique_ptr<internal::PluginInstance> plugin_;
};

}  // namespace

namespace internal {
absl::StatusOr<std::unique_ptr<FactoryBase>> MakeMailPluginFactory(const herald_component_desc& desc,
                                                                    const std::string& plugin) {
  return MakePluginFactory(kMailFamily.name, desc, plugin, [](std::unique_ptr<PluginInstance> instance) {
    return std::unique_ptr<Extension>(new PluginMailComponent(std::move(instance)));
  });
}

// Plugins of this module's family load wherever the module is linked in.
[[maybe_unused]] const bool kMailAdapted = AddPluginFamily("mail", &MakeMailPluginFactory);
}  // namespace internal

}  // namespace herald
