// The Business Desk app's files: the app itself from ASSETS/desk and the
// npm libraries it loads from ASSETS/node_modules (only the packages named
// below), never anything else under ASSETS.
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "desk/desk_internal.h"

namespace herald::desk_internal {
namespace {

// The npm packages the app loads (web/package.json's dependencies).
constexpr std::string_view kLibraries[] = {"preact", "htm", "chart.js", "@kurkle/color"};

std::string_view ContentType(std::string_view path) {
  struct Type {
    std::string_view suffix, type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},     {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},             {".map", "application/json"},
      {".svg", "image/svg+xml"},                 {".png", "image/png"},
      {".ico", "image/x-icon"},                  {".txt", "text/plain; charset=utf-8"}};
  for (const Type& t : kTypes) {
    if (absl::EndsWith(AV(path), AV(t.suffix))) return t.type;
  }
  return "";
}

// Whether every segment of a relative path is a plain name: no "..", ".",
// empty segment, backslash or control character can leave the folder.
bool PlainRelativePath(std::string_view path) {
  if (path.empty()) return false;
  for (absl::string_view segment : absl::StrSplit(AV(path), '/')) {
    if (segment.empty() || segment == "." || segment == "..") return false;
    for (char c : segment) {
      if (static_cast<unsigned char>(c) < 0x20 || c == '\\' || c == 0x7f) return false;
    }
  }
  return true;
}

WebReply NotFound(std::string_view path) {
  return ErrorReply(absl::NotFoundError(absl::StrCat("no file ", AV(path.substr(0, 200)))));
}

// `relative` under `root`, when it is a servable file.
WebReply FileReply(const std::string& root, std::string_view relative, std::string_view shown) {
  const std::string_view type = ContentType(relative);
  if (!PlainRelativePath(relative) || type.empty()) return NotFound(shown);
  std::ifstream in(absl::StrCat(root, "/", AV(relative)), std::ios::binary);
  if (!in) return NotFound(shown);
  std::ostringstream content;
  content << in.rdbuf();
  WebReply reply;
  reply.content_type = std::string(type);
  reply.body = std::move(content).str();
  return reply;
}

}  // namespace

WebReply ServeFile(const DeskOptions& options, std::string_view path) {
  if (options.assets_dir.empty()) {
    return ErrorReply(absl::NotFoundError("the Business Desk app is not installed here (no desk assets); the admin "
                                          "API is under /api/v1/"));
  }
  const std::string decoded = PercentDecode(path);
  absl::string_view rest = decoded;
  if (rest == "/" || rest == "/index.html") return FileReply(options.assets_dir + "/desk", "index.html", path);
  if (absl::ConsumePrefix(&rest, "/app/")) return FileReply(options.assets_dir + "/desk", SV(rest), path);
  if (absl::ConsumePrefix(&rest, "/lib/")) {
    for (std::string_view library : kLibraries) {
      absl::string_view inside = rest;
      if (absl::ConsumePrefix(&inside, AV(library)) && absl::ConsumePrefix(&inside, "/")) {
        return FileReply(absl::StrCat(options.assets_dir, "/node_modules/", AV(library)), SV(inside), path);
      }
    }
  }
  return NotFound(path);
}

}  // namespace herald::desk_internal
