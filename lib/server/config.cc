// LoadServerConfig: the textproto herald.v1.ServerConfig.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "herald/server.h"

namespace herald {

namespace {

class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (text_.empty()) text_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// Paths in the config are relative to its directory, so that a config and
// its catalog can move together.
void Resolve(const std::filesystem::path& dir, std::string* path) {
  if (path->empty() || std::filesystem::path(*path).is_absolute()) return;
  *path = (dir / *path).lexically_normal().string();
}

bool IsSqlitePath(std::string_view uri) {
  return uri != "memory" && uri.find("://") == std::string_view::npos;
}

}  // namespace

absl::StatusOr<v1::ServerConfig> LoadServerConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the server config"));
  std::ostringstream text;
  text << in.rdbuf();
  v1::ServerConfig config;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text.str(), &config)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", errors.text()));
  }
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  Resolve(dir, config.mutable_catalog());
  std::string* store = config.mutable_store();
  if (store->rfind("sqlite:", 0) == 0) {
    std::string file = store->substr(7);
    Resolve(dir, &file);
    *store = "sqlite:" + file;
  } else if (IsSqlitePath(*store)) {
    Resolve(dir, store);
  }
  for (v1::ClickKey& key : *config.mutable_click_keys()) Resolve(dir, key.mutable_secret_file());
  if (config.has_tls()) {
    for (std::string* file : {config.mutable_tls()->mutable_cert_file(), config.mutable_tls()->mutable_key_file(),
                              config.mutable_tls()->mutable_client_ca_file()}) {
      Resolve(dir, file);
    }
  }
  Resolve(dir, config.mutable_api_keys_file());
  if (config.access_log() != "-" && config.access_log() != "off") Resolve(dir, config.mutable_access_log());
  return config;
}

}  // namespace herald
