// Internal: an exact fast path in front of libphonenumber for the plain
// shapes phone numbers usually come in.
//
// Debian's libphonenumber matches its metadata with ICU regular expressions:
// PhoneNumberUtil::Parse takes ~25 µs and IsValidNumber ~13 µs per number,
// most of the cost of preparing an event whose phone was not seen before.
// FastPhoneParser answers the same question - Parse, IsValidNumber and
// Format(E164) - for numbers written as digits with spaces, '-', '.', '(' and
// ')' and an optional leading '+', matching the very metadata the installed
// libphonenumber compiled in (metadata_get(), read as its
// PhoneMetadataCollection) with RE2, in ~0.2 µs. Everything it cannot
// answer exactly (letters, extensions, IDD prefixes, national prefixes that
// are patterns, patterns RE2 refuses, ...) it declines, and the caller asks
// libphonenumber. It must never disagree with libphonenumber:
// test/conversion/phone_fast_test.cc compares both on 250,000 variants of
// every region's example numbers and of numbers drawn from every metadata
// pattern.
//
// Thread-safety: Get() builds the instance once; it is immutable after.
#ifndef HERALD_LIB_CONVERSION_PHONE_FAST_H_
#define HERALD_LIB_CONVERSION_PHONE_FAST_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

// libphonenumber's compiled-in metadata: the bytes PhoneNumberUtil's
// constructor parses (LoadCompiledInMetadata). Declared here because their
// header, phonenumbers/metadata.h, is not installed by libphonenumber-dev;
// libphonenumber.so exports both functions.
namespace i18n::phonenumbers {
int metadata_size();
const void* metadata_get();
}  // namespace i18n::phonenumbers

namespace herald::conversion {

class FastPhoneParser {
 public:
  enum class Result {
    kValid,    // *e164 holds Format(number, E164) of a valid number
    kInvalid,  // Parse fails or IsValidNumber is false
    kDecline,  // not a shape answered exactly: ask libphonenumber
  };

  // The process-wide instance (like PhoneNumberUtil::GetInstance()).
  static const FastPhoneParser& Get();

  // What PhoneNumberUtil::Parse(text, region) followed by IsValidNumber and
  // Format(E164) give. `region` as libphonenumber takes it: "US", or an
  // unknown code such as "ZZ" for numbers that must carry their '+'.
  Result Parse(std::string_view text, std::string_view region, std::string* e164) const;

  // Regions whose metadata has a pattern RE2 does not compile: their numbers
  // are always declined (empty with the installed libphonenumber).
  std::vector<std::string> RegionsDeclined() const;

  ~FastPhoneParser();
  FastPhoneParser(const FastPhoneParser&) = delete;
  FastPhoneParser& operator=(const FastPhoneParser&) = delete;

 private:
  struct Tables;
  FastPhoneParser();
  std::unique_ptr<const Tables> tables_;
};

}  // namespace herald::conversion

#endif  // HERALD_LIB_CONVERSION_PHONE_FAST_H_
