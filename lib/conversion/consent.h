// Internal: checks of a captured Consent (CaptureResponse) and its forms on
// the wire (Google's `consent` object, Meta's data processing options).
#ifndef HERALD_LIB_CONVERSION_CONSENT_H_
#define HERALD_LIB_CONVERSION_CONSENT_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "herald/model/interaction.pb.h"

namespace herald::conversion {

// OK, or InvalidArgument "CaptureResponse: consent.<field>: why".
absl::Status ValidateConsent(const v1::Consent& consent);

// "GRANTED" / "DENIED" as the Google Ads REST API spells ConsentStatus; ""
// for unspecified (then the field is left out).
std::string_view GoogleConsentStatus(v1::ConsentStatus status);

// Appends `,"consent":{"adUserData":"GRANTED"}` (Google click conversions:
// ad_personalization "can only be set for OfflineUserDataJobService and
// UserDataService") or, with `personalization`, both fields (Customer
// Match's UserData.consent). Nothing when no field is specified.
void AppendGoogleConsent(std::string& out, v1::ConsentStatus ad_user_data, v1::ConsentStatus ad_personalization,
                         bool personalization);

// Appends Meta's `,"data_processing_options":[...]` (+ `_country`, `_state`
// with LDU) for a record that has a Consent; nothing without one.
void AppendMetaDataProcessingOptions(std::string& out, const v1::InteractionRecord& record);

}  // namespace herald::conversion

#endif  // HERALD_LIB_CONVERSION_CONSENT_H_
