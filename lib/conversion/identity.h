// Internal: a subject's identifiers normalized and hashed by one platform's
// rules into a HashedIdentity (the destinations' Prepare).
#ifndef HERALD_LIB_CONVERSION_IDENTITY_H_
#define HERALD_LIB_CONVERSION_IDENTITY_H_

#include <string_view>

#include "herald/conversion.h"
#include "herald/model/interaction.pb.h"

namespace herald::conversion {

struct IdentityRules {
  bool email_gmail_rule = false;               // Google: dots of gmail.com local parts removed
  PhoneFormat phone_format = PhoneFormat::kDigits;
  bool contact_only = false;                   // Google: email and phone only (no names, address, ...)
  std::string_view default_region;             // ISO 3166-1 alpha-2 for phones without country code; "" = none
};

// Meta's rules (also the file destination's JSON lines).
inline constexpr IdentityRules kMetaRules{};
// Google Ads enhanced conversions for leads and Customer Match.
inline constexpr IdentityRules kGoogleRules{true, PhoneFormat::kE164, true, {}};

// Fills `id` (every field, "" when absent or dropped) and id.dropped. A value
// that is already 64 hex digits is passed through lowercased.
void PrepareIdentity(const v1::Subject& subject, const IdentityRules& rules, HashedIdentity& id,
                     IdentifierHasher& hasher);

}  // namespace herald::conversion

#endif  // HERALD_LIB_CONVERSION_IDENTITY_H_
