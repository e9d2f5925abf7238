// SkipDomains: a recipient filter of the mail pipeline ("filter" stage),
// written against herald/mail.h: live recipients whose address is in one of
// the listed domains are skipped (MailItem::Skip), so that nobody there is
// mailed and the job report counts them under the configured reason.
//
// Like the built-in OptOutFilter it works on the batch as the job hands it
// over and lets test sends through (they go to the operator's own
// addresses); domains compare case-insensitively (RFC 5321 2.4), exactly,
// so listing "example.net" does not skip "mail.example.net".
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "herald/mail.h"
#include "site_components.h"
#include "site_components.pb.h"
#include "site_text.h"

namespace site {
namespace {

constexpr char kName[] = "SkipDomains";

class SkipDomains final : public herald::MailComponent {
 public:
  SkipDomains(absl::flat_hash_set<std::string> domains, std::string reason)
      : domains_(std::move(domains)), reason_(std::move(reason)) {}

  // Reads and writes no fact, as OptOutFilter: declaring that keeps the
  // pipeline's contract check on for the components after it.
  herald::ComponentContract Contract() const override { return {{}, {}, {}}; }

  absl::Status Run(herald::MailContext& ctx) const override {
    if (ctx.test_send) return absl::OkStatus();
    for (herald::MailItem& item : ctx.items) {
      if (item.state != herald::MailItemState::kLive) continue;
      const std::string domain = DomainOf(item.address);
      if (!domains_.contains(domain)) continue;
      item.Skip(reason_, absl::StrCat("domain ", domain, " is suppressed"));
      if (ctx.trace != nullptr) ctx.trace->Note(item.address, "skipped", item.detail);
    }
    return absl::OkStatus();
  }

 private:
  // The lowercased part after the last '@' ("" when there is none).
  static std::string DomainOf(std::string_view address) {
    const size_t at = address.rfind('@');
    return at == std::string_view::npos ? std::string() : Lower(address.substr(at + 1));
  }

  const absl::flat_hash_set<std::string> domains_;
  const std::string reason_;
};

absl::StatusOr<std::unique_ptr<herald::MailComponent>> MakeSkipDomains(const v1::SkipDomainsConfig& config,
                                                                       const herald::CreateContext&) {
  if (config.domains().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(kName, " config: domains is required"));
  }
  absl::flat_hash_set<std::string> domains;
  for (const std::string& given : config.domains()) {
    std::string domain = Lower(Trim(given));
    if (domain.empty() || domain.find('@') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(kName, " config: domains: \"", given, "\" is not a domain (\"example.net\")"));
    }
    domains.insert(std::move(domain));
  }
  std::string reason = config.reason().empty() ? "domain_suppressed" : config.reason();
  // A report key, as the built-in reasons are ("opted_out", "invalid_address").
  for (char c : reason) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return absl::InvalidArgumentError(
          absl::StrCat(kName, " config: reason \"", reason, "\" must be lowercase letters, digits and _"));
    }
  }
  return std::make_unique<SkipDomains>(std::move(domains), std::move(reason));
}

}  // namespace

std::unique_ptr<herald::FactoryBase> SkipDomainsFactory() {
  return herald::MakeFactory<herald::MailComponent, v1::SkipDomainsConfig>(
      std::string(kName), "skips recipients whose address is in one of the listed domains", MakeSkipDomains);
}

}  // namespace site
