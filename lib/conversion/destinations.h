// Internal: the built-in destinations' registration and the credential redactor.
#ifndef HERALD_LIB_CONVERSION_DESTINATIONS_H_
#define HERALD_LIB_CONVERSION_DESTINATIONS_H_

#include <string>
#include <vector>

#include "herald/registry.h"

namespace herald {

void RegisterConversionDestinations(Registry* registry);

namespace conversion {

// Replaces every occurrence of a known secret in a text with "[redacted]":
// applied to every message built from a platform's or libcurl's text.
class Redactor {
 public:
  void Add(std::string secret) { secrets_.push_back(std::move(secret)); }
  std::string Apply(std::string text) const;

 private:
  std::vector<std::string> secrets_;
};

}  // namespace conversion
}  // namespace herald

#endif  // HERALD_LIB_CONVERSION_DESTINATIONS_H_
