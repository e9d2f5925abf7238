// herald/families.h: the pipeline families and their stages.
//
// Each family is one kind of work run through a pipeline of components; its
// stages are fixed and run in this order. Stage names follow the reference
// systems (Commerce Server's Content Selection Framework, OrderDiscount and
// Direct Mailer; Pega's offline-conversion sync).
//
// Thread-safety: constants only.
#ifndef HERALD_FAMILIES_H_
#define HERALD_FAMILIES_H_

#include <array>
#include <span>
#include <string_view>

namespace herald {

struct FamilyInfo {
  std::string_view name;
  std::span<const std::string_view> stages;
  std::string_view description;
};

inline constexpr std::array<std::string_view, 7> kSelectionStages = {
    "load_context", "filter", "initial_score", "score", "select", "record", "format"};
inline constexpr std::array<std::string_view, 5> kBasketStages = {
    "eligibility", "conditions", "awards", "order_level", "totals"};
inline constexpr std::array<std::string_view, 6> kMailStages = {
    "throttle", "preprocess", "filter", "compose", "send", "postprocess"};
inline constexpr std::array<std::string_view, 5> kConversionStages = {
    "select", "prepare", "validate", "send", "acknowledge"};

inline constexpr FamilyInfo kSelectionFamily{
    "selection", kSelectionStages, "Content Selection Framework: ads and discount ads"};
inline constexpr FamilyInfo kBasketFamily{"basket", kBasketStages,
                                          "OrderDiscount: prices a basket"};
inline constexpr FamilyInfo kMailFamily{"mail", kMailStages,
                                        "DirectMailer: a batch of recipients through a mail job"};
inline constexpr FamilyInfo kConversionFamily{
    "conversion", kConversionStages, "Conversion export: accepted offers to ad platforms"};

inline constexpr std::array<const FamilyInfo*, 4> kPipelineFamilies = {
    &kSelectionFamily, &kBasketFamily, &kMailFamily, &kConversionFamily};

// The family named `name`, or nullptr.
constexpr const FamilyInfo* FindFamily(std::string_view name) {
  for (const FamilyInfo* family : kPipelineFamilies) {
    if (family->name == name) return family;
  }
  return nullptr;
}

}  // namespace herald

#endif  // HERALD_FAMILIES_H_
