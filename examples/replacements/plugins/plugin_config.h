// The replacement plugins' shared config reading: a plugin gets its config
// as JSON text (herald/plugin_abi.h) and reads it with nlohmann-json, its
// own dependency. Keys may be written as in the proto JSON mapping
// (lowerCamelCase) or as the field names (snake_case); an unknown key is an
// error naming it, as Herald's typed configs refuse one.
#ifndef SITE_PLUGIN_CONFIG_H_
#define SITE_PLUGIN_CONFIG_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "herald/plugin_abi.h"

namespace site_plugin {

// Thrown inside the plugin only: create() catches it and reports through
// herald_error, so no exception crosses the C boundary.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Config {
 public:
  // `keys` lists each accepted key as {camelCase, snake_case}.
  Config(const char* json, size_t size, const char* component,
         std::initializer_list<std::pair<const char*, const char*>> keys)
      : component_(component) {
    json_ = nlohmann::json::parse(std::string(json, size), nullptr, false);
    if (!json_.is_object()) throw ConfigError(component_ + " config: not a JSON object");
    for (const auto& [key, value] : json_.items()) {
      bool known = false;
      for (const auto& [camel, snake] : keys) known = known || key == camel || key == snake;
      if (!known) throw ConfigError(component_ + " config: unknown field \"" + key + "\"");
    }
  }

  const nlohmann::json* Find(const char* camel, const char* snake) const {
    if (json_.contains(camel)) return &json_[camel];
    if (json_.contains(snake)) return &json_[snake];
    return nullptr;
  }

  std::string String(const char* camel, const char* snake) const {
    const nlohmann::json* v = Find(camel, snake);
    if (v == nullptr) return "";
    if (!v->is_string()) throw ConfigError(component_ + " config: " + camel + " must be a string");
    return v->get<std::string>();
  }

  // int64 fields come as numbers or, in the proto JSON mapping, as strings.
  int64_t Int(const char* camel, const char* snake) const {
    const nlohmann::json* v = Find(camel, snake);
    if (v == nullptr) return 0;
    if (v->is_number_integer()) return v->get<int64_t>();
    if (v->is_string()) {
      const std::string text = v->get<std::string>();
      size_t used = 0;
      try {
        const long long n = std::stoll(text, &used);
        if (used == text.size()) return n;
      } catch (const std::exception&) {
      }
    }
    throw ConfigError(component_ + " config: " + camel + " must be an integer");
  }

  double Number(const char* camel, const char* snake) const {
    const nlohmann::json* v = Find(camel, snake);
    if (v == nullptr) return 0;
    if (!v->is_number()) throw ConfigError(component_ + " config: " + camel + " must be a number");
    return v->get<double>();
  }

 private:
  std::string component_;
  nlohmann::json json_;
};

// Reports `message` through the host's error sink.
inline void SetError(herald_error* error, const std::string& message) {
  if (error != nullptr && error->set != nullptr) error->set(error, message.c_str());
}

inline std::string Text(herald_str s) { return s.data == nullptr ? std::string() : std::string(s.data, s.size); }
inline herald_str Str(const std::string& s) { return herald_str{s.data(), s.size()}; }

}  // namespace site_plugin

#endif  // SITE_PLUGIN_CONFIG_H_
