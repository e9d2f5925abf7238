// libFuzzer target, differential: the phone fast path (FastPhoneParser,
// hand-written for speed) against libphonenumber itself, the independent
// implementation it must agree with. The first line of the input is the
// region ("US", "gb", "ZZ", anything), the rest the number as captured.
// Whenever the fast path answers (does not decline), its answer must be
// libphonenumber's: Parse + IsValidNumber + Format(E164). A disagreement
// aborts with both answers.
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "conversion/phone_fast.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using herald::conversion::FastPhoneParser;
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  if (nl == std::string_view::npos || nl > 8) return 0;
  const std::string region(input.substr(0, nl));
  const std::string text(input.substr(nl + 1));
  std::string fast;
  const FastPhoneParser::Result answer = FastPhoneParser::Get().Parse(text, region, &fast);
  if (answer == FastPhoneParser::Result::kDecline) return 0;
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  std::string slow;
  const bool valid =
      util.Parse(text, region, &number) == PhoneNumberUtil::NO_PARSING_ERROR && util.IsValidNumber(number);
  if (valid) util.Format(number, PhoneNumberUtil::E164, &slow);
  const bool fast_valid = answer == FastPhoneParser::Result::kValid;
  if (fast_valid != valid || (valid && fast != slow)) {
    std::fprintf(stderr, "fast path disagrees with libphonenumber on \"%s\" (region \"%s\"): fast %s \"%s\", "
                 "libphonenumber %s \"%s\"\n", text.c_str(), region.c_str(), fast_valid ? "valid" : "invalid",
                 fast.c_str(), valid ? "valid" : "invalid", slow.c_str());
    std::abort();
  }
  return 0;
}
