// FastPhoneParser (lib/conversion/phone_fast.cc) against libphonenumber's
// Parse + IsValidNumber + Format(E164), which it stands in front of:
// wherever the fast path answers, the answer must be libphonenumber's. The
// inputs: every supported region's and non-geographical entity's example
// number of every type, written in E.164, INTERNATIONAL and NATIONAL format,
// then varied at random (fixed seed): separators, changed, added and removed
// digits, leading zeros, IDD prefixes, garbage characters, other regions'
// numbers, random digit strings; each read with its own region, another
// region or none ("ZZ").
#include "conversion/phone_fast.h"

#include <phonenumbers/phonemetadata.pb.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "herald/conversion.h"


namespace herald::conversion {
namespace {

using i18n::phonenumbers::PhoneMetadata;
using i18n::phonenumbers::PhoneMetadataCollection;
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberDesc;
using i18n::phonenumbers::PhoneNumberUtil;
using Result = FastPhoneParser::Result;

// libphonenumber's answer: the E.164 form of a valid number, "" otherwise.
std::string Library(const std::string& text, const std::string& region) {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util.Parse(text, region, &number) != PhoneNumberUtil::NO_PARSING_ERROR) return "";
  if (!util.IsValidNumber(number)) return "";
  std::string out;
  util.Format(number, PhoneNumberUtil::E164, &out);
  return out;
}

// The fast path's answer in the same terms; "DECLINE" when it declines.
std::string Fast(const std::string& text, const std::string& region) {
  std::string e164;
  switch (FastPhoneParser::Get().Parse(text, region, &e164)) {
    case Result::kValid:
      return e164;
    case Result::kInvalid:
      return "";
    case Result::kDecline:
      break;
  }
  return "DECLINE";
}

struct Example {
  std::string region;  // "001" for a non-geographical entity
  int country_code = 0;
  std::string nsn;                     // national significant number
  std::string national_prefix;         // the region's, digits only ("0", "1", "8", ...)
  std::string e164, international, national;
};

Example MakeExample(const std::string& region, const PhoneNumber& number) {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  Example e;
  e.region = region;
  e.country_code = number.country_code();
  util.GetNationalSignificantNumber(number, &e.nsn);
  util.Format(number, PhoneNumberUtil::E164, &e.e164);
  util.Format(number, PhoneNumberUtil::INTERNATIONAL, &e.international);
  util.Format(number, PhoneNumberUtil::NATIONAL, &e.national);
  if (region != "001") util.GetNddPrefixForRegion(region, true, &e.national_prefix);
  return e;
}

// Every region's example number of every type, and the non-geographical
// entities' examples (in a fixed order: sets are sorted).
std::vector<Example> Examples() {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  std::vector<Example> examples;
  std::set<std::string> regions;
  util.GetSupportedRegions(&regions);
  for (const std::string& region : regions) {
    for (int type = 0; type <= static_cast<int>(PhoneNumberUtil::UNKNOWN); ++type) {
      PhoneNumber number;
      if (util.GetExampleNumberForType(region, static_cast<PhoneNumberUtil::PhoneNumberType>(type), &number)) {
        examples.push_back(MakeExample(region, number));
      }
    }
  }
  std::set<int> codes;
  util.GetSupportedGlobalNetworkCallingCodes(&codes);
  for (int code : codes) {
    PhoneNumber number;
    if (util.GetExampleNumberForNonGeoEntity(code, &number)) examples.push_back(MakeExample("001", number));
  }
  return examples;
}

// Random strings of a metadata pattern's language. The national number
// patterns use digits, \d, [...] with ranges, (?:...), |, ? and {n} / {n,m}
// only; anything else fails the parse (and the test).
class PatternSampler {
 public:
  PatternSampler(std::string_view pattern, std::mt19937_64& random) : pattern_(pattern), random_(random) {
    root_ = Alternation();
    ok_ = ok_ && at_ == pattern_.size();
  }
  bool ok() const { return ok_; }
  std::string Sample() {
    std::string out;
    Emit(root_, &out);
    return out;
  }

 private:
  struct Node {
    enum Kind { kDigits, kConcat, kAlternation, kRepeat } kind = kDigits;
    uint16_t digits = 0;  // kDigits: bit d for digit d
    int min = 1, max = 1;  // kRepeat
    std::vector<size_t> children;
  };

  char Peek() const { return at_ < pattern_.size() ? pattern_[at_] : '\0'; }
  size_t Add(Node n) {
    nodes_.push_back(std::move(n));
    return nodes_.size() - 1;
  }
  size_t Alternation() {
    Node n;
    n.kind = Node::kAlternation;
    n.children.push_back(Concat());
    while (ok_ && Peek() == '|') {
      ++at_;
      n.children.push_back(Concat());
    }
    return Add(std::move(n));
  }
  size_t Concat() {
    Node n;
    n.kind = Node::kConcat;
    while (ok_ && at_ < pattern_.size() && Peek() != '|' && Peek() != ')') n.children.push_back(Repeat());
    return Add(std::move(n));
  }
  size_t Repeat() {
    size_t atom = Atom();
    while (ok_ && (Peek() == '?' || Peek() == '{')) {
      Node n;
    n.kind = Node::kRepeat;
      n.children.push_back(atom);
      if (Peek() == '?') {
        ++at_;
        n.min = 0;
      } else {
        ++at_;
        n.min = Number();
        n.max = n.min;
        if (Peek() == ',') {
          ++at_;
          n.max = Number();
        }
        ok_ = ok_ && Peek() == '}';
        ++at_;
      }
      atom = Add(std::move(n));
    }
    return atom;
  }
  int Number() {
    int n = 0;
    while (Peek() >= '0' && Peek() <= '9') n = n * 10 + (pattern_[at_++] - '0');
    return n;
  }
  size_t Atom() {
    Node n;
    n.kind = Node::kDigits;
    char c = Peek();
    if (c == '(') {
      ok_ = ok_ && pattern_.substr(at_, 3) == "(?:";
      at_ += 3;
      size_t inner = Alternation();
      ok_ = ok_ && Peek() == ')';
      ++at_;
      return inner;
    }
    if (c == '[') {
      ++at_;
      while (ok_ && Peek() != ']') n.digits |= ClassItem();
      ++at_;
    } else {
      n.digits = ClassItem();
    }
    return Add(std::move(n));
  }
  // A digit, a range "2-5" or \d, as a digit mask.
  uint16_t ClassItem() {
    char c = Peek();
    if (c == '\\' && at_ + 1 < pattern_.size() && pattern_[at_ + 1] == 'd') {
      at_ += 2;
      return 0x3ff;
    }
    if (c < '0' || c > '9') {
      ok_ = false;
      return 0;
    }
    ++at_;
    int last = c - '0';
    if (Peek() == '-' && at_ + 1 < pattern_.size()) {
      last = pattern_[at_ + 1] - '0';
      at_ += 2;
    }
    uint16_t mask = 0;
    for (int d = c - '0'; d <= last; ++d) mask |= static_cast<uint16_t>(1u << d);
    return mask;
  }
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random_); }
  void Emit(size_t index, std::string* out) {
    const Node& n = nodes_[index];
    switch (n.kind) {
      case Node::kDigits: {
        std::vector<char> choices;
        for (int d = 0; d < 10; ++d) {
          if (n.digits & (1u << d)) choices.push_back(static_cast<char>('0' + d));
        }
        if (!choices.empty()) out->push_back(choices[Pick(choices.size())]);
        break;
      }
      case Node::kConcat:
        for (size_t child : n.children) Emit(child, out);
        break;
      case Node::kAlternation:
        Emit(n.children[Pick(n.children.size())], out);
        break;
      case Node::kRepeat:
        for (size_t k = static_cast<size_t>(n.min) + Pick(static_cast<size_t>(n.max - n.min + 1)); k > 0; --k) {
          Emit(n.children.front(), out);
        }
        break;
    }
  }

  std::string_view pattern_;
  std::mt19937_64& random_;
  std::vector<Node> nodes_;
  size_t root_ = 0, at_ = 0;
  bool ok_ = true;
};

// Numbers drawn from every national number pattern of every region and
// non-geographical entity: rarer lengths and ranges than the examples
// (Russia's 14-digit toll-free numbers, say). `unparsed` counts patterns
// the sampler could not read.
std::vector<Example> Sampled(size_t per_pattern, size_t* patterns, size_t* unparsed) {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneMetadataCollection collection;
  REQUIRE(collection.ParseFromArray(i18n::phonenumbers::metadata_get(), i18n::phonenumbers::metadata_size()));
  std::mt19937_64 random(16);
  std::vector<Example> sampled;
  *patterns = *unparsed = 0;
  for (const PhoneMetadata& m : collection.metadata()) {
    const PhoneNumberDesc* descs[] = {&m.general_desc(), &m.fixed_line(), &m.mobile(),  &m.toll_free(),
                                      &m.premium_rate(), &m.shared_cost(), &m.voip(),   &m.personal_number(),
                                      &m.pager(),        &m.uan(),         &m.voicemail()};
    for (const PhoneNumberDesc* desc : descs) {
      if (desc->national_number_pattern().empty()) continue;
      ++*patterns;
      PatternSampler sampler(desc->national_number_pattern(), random);
      if (!sampler.ok()) {
        ++*unparsed;
        continue;
      }
      for (size_t i = 0; i < per_pattern; ++i) {
        PhoneNumber number;
        std::string text = std::to_string(m.country_code()) + sampler.Sample();
        text.insert(text.begin(), '+');
        if (util.Parse(text, "ZZ", &number) == PhoneNumberUtil::NO_PARSING_ERROR) {
          sampled.push_back(MakeExample(m.id(), number));
        }
      }
    }
  }
  return sampled;
}

// Inputs grouped by how they were made, with the fast path's decline count.
struct Tally {
  size_t inputs = 0, declined = 0, valid = 0;
};

class Comparison {
 public:
  // Compares one input; returns the fast path's answer.
  std::string Check(const std::string& kind, const std::string& text, const std::string& region) {
    Tally& t = tallies_[kind];
    ++t.inputs;
    ++total_;
    std::string fast = Fast(text, region);
    if (fast == "DECLINE") {
      ++t.declined;
      return fast;
    }
    if (!fast.empty()) ++t.valid;
    std::string library = Library(text, region);
    if (fast != library) {
      ++mismatches_;
      if (shown_.size() < 20) {
        shown_.push_back("\"" + text + "\" region " + region + ": fast \"" + fast + "\", libphonenumber \"" + library +
                         "\"");
      }
    }
    return fast;
  }

  size_t total() const { return total_; }
  size_t mismatches() const { return mismatches_; }
  const std::vector<std::string>& shown() const { return shown_; }
  const std::map<std::string, Tally>& tallies() const { return tallies_; }

 private:
  std::map<std::string, Tally> tallies_;
  size_t total_ = 0, mismatches_ = 0;
  std::vector<std::string> shown_;
};

double Rate(const Tally& t) { return t.inputs == 0 ? 0 : static_cast<double>(t.declined) / t.inputs; }

class Variants {
 public:
  explicit Variants(const std::vector<Example>& examples) : examples_(examples) {
    std::set<std::string> regions;
    PhoneNumberUtil::GetInstance()->GetSupportedRegions(&regions);
    regions_.assign(regions.begin(), regions.end());
  }

  // A region to read `e` with: its own, another, or none.
  std::string Region(const Example& e) {
    switch (Pick(4)) {
      case 0:
      case 1:
        return e.region == "001" ? "ZZ" : e.region;
      case 2:
        return regions_[Pick(regions_.size())];
      default:
        return "ZZ";
    }
  }

  // The digits of `text` with random separators between them (sometimes
  // none, sometimes several, sometimes around the whole number).
  std::string Reseparate(const std::string& text) {
    static const char kSeparators[] = " -.()";
    std::string out;
    if (Pick(8) == 0) out.push_back(kSeparators[Pick(5)]);
    for (char c : text) {
      if (c != '+' && (c < '0' || c > '9')) continue;
      if (!out.empty() && out.back() != '+' && Pick(3) == 0) {
        for (size_t n = 1 + Pick(2); n > 0; --n) out.push_back(kSeparators[Pick(5)]);
      }
      out.push_back(c);
    }
    if (Pick(8) == 0) out.push_back(kSeparators[Pick(5)]);
    return out;
  }

  // One digit of `text` replaced, inserted or removed.
  std::string MutateDigit(std::string text) {
    std::vector<size_t> positions;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] >= '0' && text[i] <= '9') positions.push_back(i);
    }
    if (positions.empty()) return text;
    size_t at = positions[Pick(positions.size())];
    char digit = static_cast<char>('0' + Pick(10));
    switch (Pick(3)) {
      case 0:
        text[at] = digit;
        break;
      case 1:
        text.insert(text.begin() + static_cast<std::ptrdiff_t>(at + Pick(2)), digit);
        break;
      default:
        text.erase(at, 1);
        break;
    }
    return text;
  }

  // A character the fast path must decline (or that libphonenumber drops)
  // inserted anywhere.
  std::string Garbage(std::string text) {
    static const char* const kGarbage[] = {"a", "x", "X", "#", ",", ";", "/", "\t", "+", "*", "~", "[", "]",
                                           "ext. 12", " x 5", "tel:", "\xEF\xBC\x8B" /* fullwidth + */,
                                           "\xEF\xBC\x91" /* fullwidth 1 */, "\xC2\xA0" /* nbsp */, "\xFF"};
    const char* g = kGarbage[Pick(std::size(kGarbage))];
    text.insert(Pick(text.size() + 1), g);
    return text;
  }

  std::string Digits(size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + Pick(10)));
    return s;
  }

  // One input made from `e`: its kind (for the tallies), text and region.
  void Make(const Example& e, std::string* kind, std::string* text, std::string* region) {
    const Example& other = examples_[Pick(examples_.size())];
    const std::string cc = std::to_string(e.country_code);
    *region = Region(e);
    switch (Pick(15)) {
      case 0: *kind = "separators"; *text = Reseparate(Pick(2) ? e.e164 : e.national); break;
      case 1: *kind = "digit changed"; *text = MutateDigit(Pick(2) ? e.international : e.national); break;
      case 2: *kind = "digit changed"; *text = Reseparate(MutateDigit(e.e164)); break;
      case 3: *kind = "leading zeros"; *text = "+" + cc + std::string(1 + Pick(3), '0') + e.nsn; break;
      case 4: *kind = "leading zeros"; *text = std::string(1 + Pick(3), '0') + (Pick(2) ? e.nsn : cc + e.nsn); break;
      case 5: *kind = "leading zeros"; *text = "+0" + cc + e.nsn; break;
      case 6: *kind = "garbage"; *text = Garbage(Pick(2) ? e.international : e.national); break;
      case 7: *kind = "other region"; *text = Reseparate(other.national); break;
      case 8: *kind = "other region"; *text = other.nsn; break;
      case 9: *kind = "random digits"; *text = (Pick(2) ? "+" : "") + Digits(Pick(22)); break;
      case 10: *kind = "national significant number"; *text = Reseparate(e.nsn); break;
      // The start of a number, any length: where possible lengths decide.
      case 11: *kind = "any length"; *text = e.nsn.substr(0, Pick(e.nsn.size() + 1)) + Digits(Pick(6)); break;
      case 12:
        *kind = "national prefix";
        *text = e.national_prefix + MutateDigit(Pick(2) ? e.nsn : e.national_prefix + e.nsn);
        if (Pick(2)) *text = "+" + cc + *text;
        break;
      case 13:
        *kind = "country code no +";
        *text = Reseparate(cc + e.nsn + (Pick(4) == 0 ? Digits(1 + Pick(3)) : ""));
        *region = e.region == "001" ? "ZZ" : e.region;
        break;
      default: *kind = "cut short"; *text = e.international.substr(0, Pick(e.international.size() + 1)); break;
    }
  }

 private:
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random_); }

  const std::vector<Example>& examples_;
  std::vector<std::string> regions_;
  std::mt19937_64 random_{20240616};
};

TEST_CASE("FastPhoneParser answers the common shapes as libphonenumber does", "[conversion][phone]") {
  struct Case {
    const char* text;
    const char* region;
    const char* e164;  // "" invalid
  };
  const Case cases[] = {
      {"+1 (650) 555-1212", "ZZ", "+16505551212"}, {"+1 (650) 555-1212", "US", "+16505551212"},
      {"+1 650 200 1000", "DE", "+16502001000"},   {"+44 20 7946 0958", "ZZ", "+442079460958"},
      {"(650) 555-1212", "US", "+16505551212"},     {"650.555.1212", "CA", "+16505551212"},
      {"+49 89 1234567", "ZZ", "+49891234567"},     {"+33 6 12 34 56 78", "US", "+33612345678"},
      {"+1 123 456 7890", "ZZ", ""},                {"(650) 555-1212", "ZZ", ""},
      {"+44 20 7946", "ZZ", ""},                    {"+999 1234 5678", "ZZ", ""},
      // National prefixes Parse strips (plain digits: "0", "1", "8").
      {"020 7946 0958", "GB", "+442079460958"},     {"+44 (0)20 7946 0958", "ZZ", "+442079460958"},
      {"089 1234567", "DE", "+49891234567"},        {"1-650-555-1212", "US", "+16505551212"},
      {"8 (812) 123-45-67", "RU", "+78121234567"},  {"0 650 555 1212", "US", ""},
  };
  for (const Case& c : cases) {
    INFO(c.text << " in " << c.region);
    std::string e164;
    Result r = FastPhoneParser::Get().Parse(c.text, c.region, &e164);
    REQUIRE(r != Result::kDecline);
    CHECK((r == Result::kValid ? e164 : "") == c.e164);
    CHECK(Library(c.text, c.region) == c.e164);
  }
  // Shapes left to libphonenumber: an IDD, a national prefix that is a
  // pattern (Australia's "0|(183[12])"), an extension, letters, a second
  // '+', a full-width digit, fewer than 3 digits.
  for (const char* text : {"0044 20 7946 0958", "+1 650 555 1212 ext. 123", "1-800-FLOWERS", "++1 650 555 1212",
                           "+1 650 555 121\xEF\xBC\x92", "12", "+1 650 555 1212;ext=1"}) {
    INFO(text);
    std::string e164;
    CHECK(FastPhoneParser::Get().Parse(text, "GB", &e164) == Result::kDecline);
  }
  std::string e164;
  CHECK(FastPhoneParser::Get().Parse("02 1234 5678", "AU", &e164) == Result::kDecline);
  CHECK(FastPhoneParser::Get().RegionsDeclined().empty());
}

TEST_CASE("FastPhoneParser never disagrees with libphonenumber", "[conversion][phone]") {
  const std::vector<Example> examples = Examples();
  REQUIRE(examples.size() > 1000);
  size_t patterns = 0, unparsed = 0;
  const std::vector<Example> sampled = Sampled(4, &patterns, &unparsed);
  INFO(unparsed << " of " << patterns << " patterns not read by PatternSampler");
  REQUIRE(unparsed == 0);
  REQUIRE(sampled.size() > 3 * patterns);
  Comparison comparison;
  // The examples as libphonenumber writes them.
  for (const Example& e : examples) {
    std::string own = e.region == "001" ? "ZZ" : e.region;
    comparison.Check("E.164, own region", e.e164, own);
    comparison.Check("E.164, no region", e.e164, "ZZ");
    comparison.Check("E.164, another region", e.e164, e.region == "US" ? "GB" : "US");
    comparison.Check("INTERNATIONAL", e.international, own);
    comparison.Check("NATIONAL, own region", e.national, own);
    comparison.Check("NATIONAL, another region", e.national, e.region == "FR" ? "DE" : "FR");
  }
  for (const Example& e : sampled) {
    std::string own = e.region == "001" ? "ZZ" : e.region;
    comparison.Check("sampled, E.164", e.e164, own);
    comparison.Check("sampled, NATIONAL", e.national, own);
    comparison.Check("sampled, national prefix", e.national_prefix + e.nsn, own);
    comparison.Check("sampled, country code no +", std::to_string(e.country_code) + e.nsn, own);
  }
  // Then variants of both, round-robin, 250,000 inputs in all.
  std::vector<Example> all = examples;
  all.insert(all.end(), sampled.begin(), sampled.end());
  Variants variants(all);
  constexpr size_t kInputs = 250000;
  std::string kind, text, region;
  for (size_t i = 0; comparison.total() < kInputs; ++i) {
    variants.Make(all[i % all.size()], &kind, &text, &region);
    comparison.Check(kind, text, region);
  }
  // How often the fast path answers, and how fast.
  for (const auto& [name, t] : comparison.tallies()) {
    std::printf("  %-30s %7zu inputs, %5.1f%% declined, %7zu valid\n", name.c_str(), t.inputs, 100 * Rate(t),
                t.valid);
  }
  std::vector<std::string> e164s;
  for (const Example& e : examples) e164s.push_back(e.e164);
  auto start = std::chrono::steady_clock::now();
  std::string out;
  size_t answered = 0;
  for (int round = 0; round < 50; ++round) {
    for (const std::string& s : e164s) answered += FastPhoneParser::Get().Parse(s, "ZZ", &out) != Result::kDecline;
  }
  double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
              (50.0 * static_cast<double>(e164s.size()));
  std::printf("  fast path: %.0f ns per E.164 example (%zu answered)\n", ns, answered);

  for (const std::string& s : comparison.shown()) UNSCOPED_INFO(s);
  CHECK(comparison.mismatches() == 0);
  CHECK(comparison.total() >= kInputs);
  // Plain numbers are what the fast path is for: few of them go to
  // libphonenumber (8.12.57: 0.1%, 0.1%, 0.2%, 0.2%; national numbers 5.8%,
  // mostly regions whose national prefix is a pattern, such as Argentina's
  // and Australia's).
  const auto& tallies = comparison.tallies();
  CHECK(Rate(tallies.at("E.164, own region")) < 0.01);
  CHECK(Rate(tallies.at("E.164, no region")) < 0.01);
  CHECK(Rate(tallies.at("INTERNATIONAL")) < 0.01);
  CHECK(Rate(tallies.at("sampled, E.164")) < 0.01);
  CHECK(Rate(tallies.at("NATIONAL, own region")) < 0.1);
}

// NormalizePhone as it was before the fast path, on libphonenumber alone:
// the region from `country`, else `default_region`, else "ZZ"; "00" retried
// as '+'; drop reasons; more than 15 digits dropped.
std::string LibraryNormalize(std::string_view phone, PhoneFormat format, std::string_view country,
                             std::string_view default_region, uint32_t* drop) {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  std::string text(phone);
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!text.empty() && space(text.back())) text.pop_back();
  while (!text.empty() && space(text.front())) text.erase(0, 1);
  std::string region = NormalizeCountry(country);
  if (region.empty()) region = NormalizeCountry(default_region);
  const bool has_region = !region.empty();
  for (char& c : region) c = static_cast<char>(c - 32);
  if (!has_region) region = "ZZ";
  auto parse = [&](const std::string& t, std::string* e164) {
    PhoneNumber number;
    if (util.Parse(t, region, &number) != PhoneNumberUtil::NO_PARSING_ERROR || !util.IsValidNumber(number)) return false;
    number.clear_extension();
    util.Format(number, PhoneNumberUtil::E164, e164);
    return true;
  };
  std::string out;
  bool valid = parse(text, &out);
  const bool double_zero = text.size() > 2 && text[0] == '0' && text[1] == '0';
  if (!valid && double_zero) valid = parse(std::string(1, '+') + text.substr(2), &out);
  *drop = 0;
  if (!valid) {
    const bool international = text.substr(0, 1) == "+" || text.substr(0, 2) == "00";
    *drop = has_region || international ? kDropPhoneInvalid : kDropPhoneNoRegion;
    return "";
  }
  if (out.size() > 16) {
    *drop = kDropPhoneInvalid;
    return "";
  }
  if (format == PhoneFormat::kDigits) out.erase(0, 1);
  return out;
}

TEST_CASE("NormalizePhone and PhoneNormalizer give what libphonenumber alone gives", "[conversion][phone]") {
  std::vector<Example> examples = Examples();
  Variants variants(examples);
  PhoneNormalizer phones(1024);
  std::mt19937_64 random(7);
  const char* const kCountries[] = {"", "us", "GB", " de ", "xx", "FR", "ar"};
  size_t mismatches = 0, inputs = 0;
  std::string kind, text, region;
  auto check = [&](const std::string& phone, const std::string& country, const std::string& default_region) {
    for (PhoneFormat format : {PhoneFormat::kDigits, PhoneFormat::kE164}) {
      ++inputs;
      uint32_t expected_drop = 0, drop = 0;
      std::string expected = LibraryNormalize(phone, format, country, default_region, &expected_drop);
      std::string got(phones.Normalize(phone, format, country, default_region, &drop));
      std::string uncached = NormalizePhone(phone, format, country, default_region);
      if (got != expected || drop != expected_drop || uncached != expected) {
        if (++mismatches <= 20) {
          UNSCOPED_INFO("\"" << phone << "\" country \"" << country << "\" default \"" << default_region << "\": \"" << got
                              << "\" drop " << drop << ", NormalizePhone \"" << uncached << "\", libphonenumber \""
                              << expected << "\" drop " << expected_drop);
        }
      }
    }
  };
  // The drop reasons, and "00" read as '+' where the region dials otherwise.
  for (const char* phone : {"(650) 555-1212", "0099 1234 5678", "0044 20 7946 0958", "+1 123 456 7890", "12345",
                            " +44 20 7946 0958 ", "00", "", "0049 89 1234567"}) {
    check(phone, "", "");
    check(phone, "US", "");
    check(phone, "", "GB");
  }
  for (size_t i = 0; i < 30000; ++i) {
    variants.Make(examples[i % examples.size()], &kind, &text, &region);
    std::string country = kCountries[random() % std::size(kCountries)];
    if (random() % 2) country = region == "ZZ" ? "" : region;
    check(text, country, random() % 2 ? "" : "DE");
  }
  CHECK(mismatches == 0);
  CHECK(inputs > 60000);
}

}  // namespace
}  // namespace herald::conversion
