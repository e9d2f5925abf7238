// FastPhoneParser: PhoneNumberUtil::Parse + IsValidNumber + Format(E164) for
// plain numbers, on libphonenumber's own metadata, with RE2.
//
// Each step names the function of libphonenumber's
// cpp/src/phonenumbers/phonenumberutil.cc it mirrors (google/libphonenumber;
// Debian 12 ships 8.12.57, built with its ICU regular expression adapter,
// regexp_adapter_icu.cc: Consume is ICU's lookingAt, FullMatch its matches).
// Where mirroring would depend on which of several matches ICU's
// backtracking takes - an international prefix (IDD), a national prefix
// that is a pattern rather than plain digits, a transform rule - the number
// is declined rather than guessed at.
#include "conversion/phone_fast.h"

#include <phonenumbers/phonemetadata.pb.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cstdint>


namespace herald::conversion {

namespace {

using i18n::phonenumbers::PhoneMetadata;
using i18n::phonenumbers::PhoneMetadataCollection;
using i18n::phonenumbers::PhoneNumberDesc;
using Result = FastPhoneParser::Result;

constexpr size_t kMinLengthForNsn = 2;       // PhoneNumberUtil::kMinLengthForNsn
constexpr size_t kMaxLengthForNsn = 17;      // PhoneNumberUtil::kMaxLengthForNsn
constexpr size_t kMaxLengthCountryCode = 3;  // PhoneNumberUtil::kMaxLengthCountryCode
constexpr int kMaxCountryCode = 999;         // what 3 digits hold
// Inputs with more digits are declined: they are invalid anyway (TOO_LONG_NSN),
// and the digits then fit a buffer on the stack.
constexpr size_t kMaxDigits = 24;
constexpr char kRegionCodeForNonGeoEntity[] = "001";
constexpr char kUnknownRegion[] = "ZZ";  // RegionCode::GetUnknown()

// RE2 for a metadata pattern; null (and *ok false) when RE2 refuses it, and
// then every number that needs the pattern is declined.
std::unique_ptr<RE2> Compile(const std::string& pattern, bool longest_match, bool* ok) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_longest_match(longest_match);
  auto re = std::make_unique<RE2>(pattern, options);
  if (!re->ok()) {
    *ok = false;
    return nullptr;
  }
  return re;
}

// RegExp::Consume anchored at the start (ICU lookingAt): does some match
// begin the text? Only whether one exists matters here, which backtracking
// (ICU) and automata (RE2) agree on.
bool PrefixMatches(const RE2& re, std::string_view text) {
  return re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::ANCHOR_START, nullptr, 0);
}

bool FullMatches(const RE2& re, std::string_view text) {
  return re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::ANCHOR_BOTH, nullptr, 0);
}

// A PhoneNumberDesc, as IsNumberMatchingDesc reads it.
struct Desc {
  std::unique_ptr<RE2> pattern;  // national_number_pattern; null when empty
  bool any_length = true;        // no possible_length listed
  uint32_t lengths = 0;          // bit n: length n listed (-1, "no numbers", sets none)

  void Load(const PhoneNumberDesc& desc, bool* ok) {
    if (!desc.national_number_pattern().empty()) pattern = Compile(desc.national_number_pattern(), false, ok);
    any_length = desc.possible_length_size() == 0;
    for (int length : desc.possible_length()) {
      if (length >= 0 && length < 32) lengths |= uint32_t{1} << length;
    }
  }

  // PhoneNumberUtil::IsNumberMatchingDesc: the listed possible lengths (when
  // any), then RegexBasedMatcher::MatchNationalNumber without prefix
  // matching: an empty pattern never matches, else a full match.
  bool Matches(std::string_view nsn) const {
    if (!any_length && (nsn.size() >= 32 || ((lengths >> nsn.size()) & 1) == 0)) return false;
    return pattern != nullptr && FullMatches(*pattern, nsn);
  }
};

// TestNumberLength's answers.
enum class Length { kPossible, kLocalOnly, kTooShort, kTooLong, kInvalidLength };

// One PhoneMetadata: a region's, or a non-geographical entity's ("001").
struct Meta {
  std::string id;
  int country_code = 0;
  std::string country_code_text;
  bool ok = true;  // every pattern compiled
  Desc general;
  // GetNumberTypeHelper's types before fixed line and mobile: premium rate,
  // toll free, shared cost, VoIP, personal number, pager, UAN, voicemail.
  std::array<Desc, 8> other_types;
  Desc fixed_line, mobile;
  bool same_mobile_and_fixed_line_pattern = false;
  std::unique_ptr<RE2> leading_digits;               // set when has_leading_digits()
  std::unique_ptr<RE2> international_prefix;         // the IDD, as ParsePrefixAsIdd uses it
  std::unique_ptr<RE2> national_prefix_for_parsing;  // longest match; null when empty
  std::string literal_national_prefix;               // national_prefix_for_parsing when only digits
  bool has_national_prefix_transform_rule = false;
  std::vector<int> possible_lengths, local_lengths;  // general_desc's, for TestNumberLength

  explicit Meta(const PhoneMetadata& m) : id(m.id()), country_code(m.country_code()) {
    country_code_text = std::to_string(country_code);
    general.Load(m.general_desc(), &ok);
    const PhoneNumberDesc* others[] = {&m.premium_rate(), &m.toll_free(), &m.shared_cost(), &m.voip(),
                                       &m.personal_number(), &m.pager(), &m.uan(), &m.voicemail()};
    for (size_t i = 0; i < other_types.size(); ++i) other_types[i].Load(*others[i], &ok);
    fixed_line.Load(m.fixed_line(), &ok);
    mobile.Load(m.mobile(), &ok);
    same_mobile_and_fixed_line_pattern = m.same_mobile_and_fixed_line_pattern();
    if (m.has_leading_digits()) leading_digits = Compile(m.leading_digits(), false, &ok);
    international_prefix = Compile(m.international_prefix(), false, &ok);
    if (!m.national_prefix_for_parsing().empty()) {
      national_prefix_for_parsing = Compile(m.national_prefix_for_parsing(), true, &ok);
      const std::string& prefix = m.national_prefix_for_parsing();
      if (std::all_of(prefix.begin(), prefix.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        literal_national_prefix = prefix;
      }
    }
    has_national_prefix_transform_rule = !m.national_prefix_transform_rule().empty();
    possible_lengths.assign(m.general_desc().possible_length().begin(), m.general_desc().possible_length().end());
    local_lengths.assign(m.general_desc().possible_length_local_only().begin(),
                         m.general_desc().possible_length_local_only().end());
    // TestNumberLength reads the first possible length unchecked.
    if (possible_lengths.empty()) ok = false;
  }

  // TestNumberLength(number, metadata) (type UNKNOWN: the general desc's
  // lengths), for a number of `length` digits. Mirrors its order: -1 (no
  // numbers), local-only lengths, then the first and last listed lengths as
  // minimum and maximum, then the list.
  Length TestNumberLength(size_t length) const {
    if (possible_lengths.front() == -1) return Length::kInvalidLength;
    const int actual = static_cast<int>(length);
    if (std::find(local_lengths.begin(), local_lengths.end(), actual) != local_lengths.end()) {
      return Length::kLocalOnly;
    }
    if (possible_lengths.front() == actual) return Length::kPossible;
    if (possible_lengths.front() > actual) return Length::kTooShort;
    if (possible_lengths.back() < actual) return Length::kTooLong;
    return std::find(possible_lengths.begin() + 1, possible_lengths.end(), actual) != possible_lengths.end()
               ? Length::kPossible
               : Length::kInvalidLength;
  }

  // PhoneNumberUtil::GetNumberTypeHelper(nsn, metadata) != UNKNOWN: the
  // general desc, then any type (order does not change whether one
  // matches); mobile on its own only when its pattern differs from fixed
  // line's.
  bool NumberTypeKnown(std::string_view nsn) const {
    if (!general.Matches(nsn)) return false;
    if (fixed_line.Matches(nsn)) return true;
    if (!same_mobile_and_fixed_line_pattern && mobile.Matches(nsn)) return true;
    for (const Desc& desc : other_types) {
      if (desc.Matches(nsn)) return true;
    }
    return false;
  }

  // IsMatch(matcher, number, general_desc): the general pattern alone, no
  // possible lengths.
  bool GeneralPatternMatches(std::string_view number) const {
    return general.pattern != nullptr && FullMatches(*general.pattern, number);
  }

  enum class Strip { kNone, kStripped, kUnknown };

  // MaybeStripNationalPrefixAndCarrierCode(metadata, number): kNone when it
  // leaves *number as it is, kStripped when it strips what *number now
  // holds, kUnknown when it may strip 1 to *longest digits or apply the
  // transform rule (not mirrored). Mirrored exactly for a prefix that is
  // plain digits ("0", "1", "8": most regions) and no transform rule: the
  // prefix regexp has no group, so Consume with the carrier code fails and
  // the plain Consume strips the prefix, unless the number matched the
  // general pattern and would no longer.
  Strip StripNationalPrefix(std::string_view* number, size_t* longest) const {
    if (number->empty() || national_prefix_for_parsing == nullptr) return Strip::kNone;
    if (!literal_national_prefix.empty() && !has_national_prefix_transform_rule) {
      if (number->substr(0, literal_national_prefix.size()) != literal_national_prefix) return Strip::kNone;
      std::string_view stripped = number->substr(literal_national_prefix.size());
      if (GeneralPatternMatches(*number) && !GeneralPatternMatches(stripped)) return Strip::kNone;
      *number = stripped;
      return Strip::kStripped;
    }
    // Any other prefix: an empty match (or none) leaves the number alone;
    // RE2's longest match bounds the one ICU's backtracking takes.
    re2::StringPiece match;
    if (!national_prefix_for_parsing->Match(re2::StringPiece(number->data(), number->size()), 0, number->size(),
                                            RE2::ANCHOR_START, &match, 1) ||
        match.empty()) {
      return Strip::kNone;
    }
    *longest = match.size();
    return Strip::kUnknown;
  }

  // ParseHelper's national prefix step on `nsn`: the stripped number is kept
  // only when TestNumberLength of it is neither TOO_SHORT,
  // IS_POSSIBLE_LOCAL_ONLY nor INVALID_LENGTH. False when that cannot be
  // told: a transform rule, or some strip of 1 to `longest` digits that
  // would be kept.
  bool NationalPrefixStep(std::string_view* nsn) const {
    std::string_view potential = *nsn;
    size_t longest = 0;
    switch (StripNationalPrefix(&potential, &longest)) {
      case Strip::kNone:
        return true;
      case Strip::kStripped:
        if (Kept(TestNumberLength(potential.size()))) *nsn = potential;
        return true;
      case Strip::kUnknown:
        break;
    }
    if (has_national_prefix_transform_rule) return false;
    for (size_t k = 1; k <= longest; ++k) {
      if (Kept(TestNumberLength(nsn->size() - k))) return false;
    }
    return true;
  }

  static bool Kept(Length length) {
    return length != Length::kTooShort && length != Length::kLocalOnly && length != Length::kInvalidLength;
  }
};

bool IsSeparator(char c) { return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')'; }

// The digits of the accepted shapes, '+' aside: separators, an optional
// '+', then digits and separators, at least 3 digits. For these,
// BuildNationalNumberForParsing keeps the text from the '+' or first digit
// to the last digit (ExtractPossibleNumber drops what comes before,
// TrimUnwantedEndChars the punctuation after; no ";phone-context=", no
// "/ x" second number), IsViablePhoneNumber holds (3 digits among valid
// punctuation), MaybeStripExtension finds nothing (every extension form
// needs a letter, '#', ',', ';' or '~'), and Normalize keeps just the digits.
// False for anything else, declined: letters, other punctuation, a second
// '+', non-ASCII, or fewer than 3 digits (IsViablePhoneNumber's two-digit
// special case).
bool ReadDigits(std::string_view text, char* digits, size_t* count, bool* plus) {
  size_t i = 0;
  while (i < text.size() && IsSeparator(text[i])) ++i;
  *plus = i < text.size() && text[i] == '+';
  if (*plus) ++i;
  size_t n = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      if (n == kMaxDigits) return false;
      digits[n++] = c;
    } else if (!IsSeparator(c)) {
      return false;
    }
  }
  *count = n;
  return n >= 3;
}

}  // namespace

struct FastPhoneParser::Tables {
  std::vector<Meta> metas;
  // Two-letter region code ("US": ('U'-'A') * 26 + ('S'-'A')) -> metas
  // index, -1 when not a supported region (GetMetadataForRegion's map).
  std::array<int16_t, 26 * 26> region_index;
  // Country calling code -> metas indices in GetRegionCodesForCountryCallingCode's
  // order (the main country first); empty when the code is unknown.
  std::array<std::vector<int16_t>, kMaxCountryCode + 1> code_regions;

  Tables();
  const Meta* Region(std::string_view region) const;
  Result International(std::string_view digits, const Meta* home, std::string* e164) const;
  Result National(std::string_view digits, const Meta& home, std::string* e164) const;
  Result Finish(const Meta& meta, std::string_view nsn, std::string* e164) const;
  Result IsValidNumber(int country_code, std::string_view nsn) const;
};

// PhoneNumberUtil's constructor: every metadata but the unknown region's,
// regions by id, non-geographical entities ("001") by calling code, and per
// calling code its regions, the one with main_country_for_code in front.
FastPhoneParser::Tables::Tables() {
  region_index.fill(-1);
  PhoneMetadataCollection collection;
  if (!collection.ParseFromArray(i18n::phonenumbers::metadata_get(), i18n::phonenumbers::metadata_size())) return;
  metas.reserve(static_cast<size_t>(collection.metadata_size()));
  for (const PhoneMetadata& m : collection.metadata()) {
    if (m.id() == kUnknownRegion) continue;
    const auto index = static_cast<int16_t>(metas.size());
    metas.emplace_back(m);
    const std::string& id = m.id();
    if (id.size() == 2 && id[0] >= 'A' && id[0] <= 'Z' && id[1] >= 'A' && id[1] <= 'Z') {
      int16_t& slot = region_index[static_cast<size_t>((id[0] - 'A') * 26 + (id[1] - 'A'))];
      if (slot < 0) slot = index;  // the map's insert keeps the first
    } else if (id != kRegionCodeForNonGeoEntity) {
      metas.back().ok = false;  // a region id not looked up here (none so far): declined
    }
    // Codes of 1-3 digits are all ExtractCountryCode reads; a region with
    // another (none so far) is declined.
    const int code = m.country_code();
    if (code < 1 || code > kMaxCountryCode) {
      metas.back().ok = false;
      continue;
    }
    std::vector<int16_t>& regions = code_regions[static_cast<size_t>(code)];
    if (!regions.empty() && m.main_country_for_code()) {
      regions.insert(regions.begin(), index);
    } else {
      regions.push_back(index);
    }
  }
}

// GetMetadataForRegion: null for "ZZ", "001", lower case and anything else
// not a supported region (IsValidRegionCode false).
const Meta* FastPhoneParser::Tables::Region(std::string_view region) const {
  if (region.size() != 2 || region[0] < 'A' || region[0] > 'Z' || region[1] < 'A' || region[1] > 'Z') return nullptr;
  const int16_t index = region_index[static_cast<size_t>((region[0] - 'A') * 26 + (region[1] - 'A'))];
  return index < 0 ? nullptr : &metas[static_cast<size_t>(index)];
}

// ParseHelper for "+digits": MaybeExtractCountryCode strips the '+'
// (FROM_NUMBER_WITH_PLUS_SIGN; TOO_SHORT_AFTER_IDD needs <= 2 digits, never
// here) and ExtractCountryCode takes the shortest known code of 1-3 digits
// (none when the first digit is 0). The number is then read with the
// metadata of the code's main region (GetRegionCodeForCountryCode), or its
// non-geographical entity.
Result FastPhoneParser::Tables::International(std::string_view digits, const Meta* home, std::string* e164) const {
  int code = 0;
  size_t code_length = 0;
  if (digits[0] != '0') {
    for (size_t i = 1; i <= kMaxLengthCountryCode; ++i) {
      code = code * 10 + (digits[i - 1] - '0');
      if (!code_regions[static_cast<size_t>(code)].empty()) {
        code_length = i;
        break;
      }
    }
  }
  if (code_length == 0) {
    // INVALID_COUNTRY_CODE_ERROR. ParseHelper then retries without the '+',
    // where only the default region's IDD could yield a code (the digits
    // cannot start with that region's own code, a known one).
    if (home == nullptr) return Result::kInvalid;
    if (home->international_prefix == nullptr || PrefixMatches(*home->international_prefix, digits)) {
      return Result::kDecline;
    }
    return Result::kInvalid;
  }
  std::string_view nsn = digits.substr(code_length);
  const Meta& meta = metas[static_cast<size_t>(code_regions[static_cast<size_t>(code)].front())];
  return Finish(meta, nsn, e164);
}

// ParseHelper for digits without '+', read in the default region `home`.
// MaybeExtractCountryCode: a country code after the region's IDD
// (ParsePrefixAsIdd) is declined. Digits that start with the region's own
// code lose it when, with the national prefix then stripped (no length
// check there), the general pattern matches only without it, or the whole
// is TOO_LONG; the number is then read with the metadata of the code's main
// region. Otherwise it is read as it is, with the region's.
Result FastPhoneParser::Tables::National(std::string_view digits, const Meta& home, std::string* e164) const {
  if (!home.ok) return Result::kDecline;
  if (PrefixMatches(*home.international_prefix, digits)) return Result::kDecline;
  if (digits.substr(0, home.country_code_text.size()) == home.country_code_text) {
    std::string_view potential = digits.substr(home.country_code_text.size());
    size_t longest = 0;
    if (home.StripNationalPrefix(&potential, &longest) == Meta::Strip::kUnknown) return Result::kDecline;
    if ((!home.GeneralPatternMatches(digits) && home.GeneralPatternMatches(potential)) ||
        home.TestNumberLength(digits.size()) == Length::kTooLong) {
      const auto main = static_cast<size_t>(code_regions[static_cast<size_t>(home.country_code)].front());
      return Finish(metas[main], potential, e164);
    }
  }
  return Finish(home, digits, e164);
}

// The rest of ParseHelper - TOO_SHORT_NSN, the national prefix step with
// `meta` (whose country code the number has), TOO_SHORT_NSN / TOO_LONG_NSN -
// then IsValidNumber and Format(E164). The national significant number
// Parse stores (a uint64 plus italian_leading_zero and
// number_of_leading_zeros from SetItalianLeadingZerosForPhoneNumber) reads
// back through GetNationalSignificantNumber as exactly these digits, leading
// zeros and all-zero numbers included; Format(E164) is "+", the code and
// those digits.
Result FastPhoneParser::Tables::Finish(const Meta& meta, std::string_view nsn, std::string* e164) const {
  if (nsn.size() < kMinLengthForNsn) return Result::kInvalid;
  if (!meta.ok || !meta.NationalPrefixStep(&nsn)) return Result::kDecline;
  if (nsn.size() < kMinLengthForNsn || nsn.size() > kMaxLengthForNsn) return Result::kInvalid;
  Result result = IsValidNumber(meta.country_code, nsn);
  if (result == Result::kValid) {
    e164->clear();
    e164->push_back('+');
    e164->append(meta.country_code_text);
    e164->append(nsn.data(), nsn.size());
  }
  return result;
}

// PhoneNumberUtil::IsValidNumber: GetRegionCodeForNumber (the code's only
// region, else GetRegionCodeForNumberFromRegionList: the first region whose
// leading_digits match the start, or, for a region without leading_digits,
// whose GetNumberTypeHelper knows the number), then IsValidNumberForRegion
// with that region (GetNumberTypeHelper != UNKNOWN; no region, invalid).
Result FastPhoneParser::Tables::IsValidNumber(int country_code, std::string_view nsn) const {
  const std::vector<int16_t>& regions = code_regions[static_cast<size_t>(country_code)];
  const Meta* region = nullptr;
  if (regions.size() == 1) {
    region = &metas[static_cast<size_t>(regions.front())];
  } else {
    for (int16_t index : regions) {
      const Meta& candidate = metas[static_cast<size_t>(index)];
      if (!candidate.ok) return Result::kDecline;
      if (candidate.leading_digits != nullptr) {
        if (PrefixMatches(*candidate.leading_digits, nsn)) {
          region = &candidate;
          break;
        }
      } else if (candidate.NumberTypeKnown(nsn)) {
        return Result::kValid;  // IsValidNumberForRegion repeats the same test
      }
    }
    if (region == nullptr) return Result::kInvalid;  // "ZZ": no metadata
  }
  if (!region->ok) return Result::kDecline;
  return region->NumberTypeKnown(nsn) ? Result::kValid : Result::kInvalid;
}

FastPhoneParser::FastPhoneParser() : tables_(std::make_unique<const Tables>()) {}
FastPhoneParser::~FastPhoneParser() = default;

const FastPhoneParser& FastPhoneParser::Get() {
  static const FastPhoneParser* const instance = new FastPhoneParser();  // never destroyed, like libphonenumber's
  return *instance;
}

Result FastPhoneParser::Parse(std::string_view text, std::string_view region, std::string* e164) const {
  const Tables& t = *tables_;
  if (t.metas.empty()) return Result::kDecline;  // metadata unreadable
  char buffer[kMaxDigits];
  size_t count = 0;
  bool plus = false;
  if (!ReadDigits(text, buffer, &count, &plus)) return Result::kDecline;
  std::string_view digits(buffer, count);
  const Meta* home = t.Region(region);
  if (plus) return t.International(digits, home, e164);
  // CheckRegionForParsing: without '+', an unknown region is
  // INVALID_COUNTRY_CODE_ERROR.
  if (home == nullptr) return Result::kInvalid;
  return t.National(digits, *home, e164);
}

std::vector<std::string> FastPhoneParser::RegionsDeclined() const {
  std::vector<std::string> ids;
  for (const Meta& m : tables_->metas) {
    if (!m.ok) ids.push_back(m.id == kRegionCodeForNonGeoEntity ? m.id + "+" + m.country_code_text : m.id);
  }
  return ids;
}

}  // namespace herald::conversion
