// Consent: the policies of destinations, the checks of captured consent and
// its serialization for Google Ads and Meta (docs/conversions.md, "Consent").
#include "conversion/consent.h"

#include "conversion/encode.h"
#include "core/strings.h"
#include "herald/conversion.h"

namespace herald {

ConsentRequirements ResolveConsentPolicy(const v1::ConsentPolicy& policy, const ConsentRequirements& defaults) {
  ConsentRequirements r = defaults;
  if (policy.ad_user_data() != v1::CONSENT_REQUIREMENT_DEFAULT) r.ad_user_data = policy.ad_user_data();
  if (policy.audience_ad_personalization() != v1::CONSENT_REQUIREMENT_DEFAULT) {
    r.audience_ad_personalization = policy.audience_ad_personalization();
  }
  if (policy.limited_data_use_joins_audiences()) r.limited_data_use_joins_audiences = true;
  return r;
}

bool ConsentMeets(v1::ConsentRequirement requirement, v1::ConsentStatus status) {
  switch (requirement) {
    case v1::CONSENT_REQUIREMENT_NONE: return true;
    case v1::CONSENT_REQUIREMENT_GRANTED: return status == v1::CONSENT_STATUS_GRANTED;
    default: return status != v1::CONSENT_STATUS_DENIED;  // NOT_DENIED (and DEFAULT, unresolved)
  }
}

std::string_view ConsentRefusal(const v1::Consent& consent, const ConsentRequirements& required) {
  if (ConsentMeets(required.ad_user_data, consent.ad_user_data())) return {};
  return consent.ad_user_data() == v1::CONSENT_STATUS_DENIED ? "ad_user_data_denied" : "ad_user_data_not_granted";
}

bool HasLimitedDataUse(const v1::Consent& consent) {
  for (const std::string& o : consent.data_processing_options()) {
    if (o == "LDU") return true;
  }
  return false;
}

bool ConsentAllowsAudience(const v1::Consent& consent, const ConsentRequirements& required) {
  if (!ConsentMeets(required.audience_ad_personalization, consent.ad_personalization())) return false;
  return required.limited_data_use_joins_audiences || !HasLimitedDataUse(consent);
}

namespace conversion {

namespace {

absl::Status Bad(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(Cat("CaptureResponse: consent.", field, ": ", why));
}

bool KnownStatus(int status) {
  return status == v1::CONSENT_STATUS_UNSPECIFIED || status == v1::CONSENT_STATUS_GRANTED ||
         status == v1::CONSENT_STATUS_DENIED;
}

}  // namespace

absl::Status ValidateConsent(const v1::Consent& c) {
  // Unknown numbers arrive through the binary form (gRPC) only; JSON and
  // flags name the value.
  if (!KnownStatus(c.ad_user_data())) return Bad("ad_user_data", "must be granted, denied or unspecified");
  if (!KnownStatus(c.ad_personalization())) {
    return Bad("ad_personalization", "must be granted, denied or unspecified");
  }
  for (const std::string& o : c.data_processing_options()) {
    // Meta documents one option; a misspelt one would be sent and silently
    // ignored, leaving the person's data unrestricted.
    if (o != "LDU") {
      return Bad("data_processing_options", Cat("\"", o.size() > 16 ? o.substr(0, 16) + "..." : o,
                                                "\" is not a Meta data processing option (only \"LDU\")"));
    }
  }
  if (c.data_processing_options_size() > 1) return Bad("data_processing_options", "\"LDU\" is given twice");
  const bool ldu = c.data_processing_options_size() == 1;
  const int country = c.data_processing_options_country(), state = c.data_processing_options_state();
  if (country != 0 && country != 1) {
    return Bad("data_processing_options_country", "must be 1 (United States) or 0 (Meta geolocates)");
  }
  if (state != 0 && (state < 1000 || state > 1999)) {
    return Bad("data_processing_options_state", "must be a Meta state code (1000 = California) or 0 (Meta geolocates)");
  }
  if (!ldu && (country != 0 || state != 0)) {
    return Bad(country != 0 ? "data_processing_options_country" : "data_processing_options_state",
               "is only meaningful with data_processing_options [\"LDU\"]");
  }
  if (state != 0 && country != 1) {
    return Bad("data_processing_options_state", "needs data_processing_options_country 1 (United States)");
  }
  return absl::OkStatus();
}

std::string_view GoogleConsentStatus(v1::ConsentStatus status) {
  switch (status) {
    case v1::CONSENT_STATUS_GRANTED: return "GRANTED";
    case v1::CONSENT_STATUS_DENIED: return "DENIED";
    default: return {};
  }
}

void AppendGoogleConsent(std::string& out, v1::ConsentStatus ad_user_data, v1::ConsentStatus ad_personalization,
                         bool personalization) {
  std::string_view user = GoogleConsentStatus(ad_user_data);
  std::string_view perso = personalization ? GoogleConsentStatus(ad_personalization) : std::string_view();
  if (user.empty() && perso.empty()) return;
  out.append(",\"consent\":{");
  bool first = true;
  if (!user.empty()) AppendJsonField(out, first, "adUserData", user);
  if (!perso.empty()) AppendJsonField(out, first, "adPersonalization", perso);
  out.push_back('}');
}

void AppendMetaDataProcessingOptions(std::string& out, const v1::InteractionRecord& r) {
  if (!r.has_consent()) return;
  const v1::Consent& c = r.consent();
  out.append(",\"data_processing_options\":[");
  for (int i = 0; i < c.data_processing_options_size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, c.data_processing_options(i));
  }
  out.push_back(']');
  if (HasLimitedDataUse(c)) {
    out.append(",\"data_processing_options_country\":").append(std::to_string(c.data_processing_options_country()));
    out.append(",\"data_processing_options_state\":").append(std::to_string(c.data_processing_options_state()));
  }
}

}  // namespace conversion

}  // namespace herald
