// Addresses, opt-out lists, unsubscribe tokens, recipient CSV and templates.
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/input_check.h"
#include "core/strings.h"
#include "herald/mail.h"
#include "core/string_map.h"
#include "mail/mime_codec.h"
#include "mail/runtime.h"

namespace herald {

// ---------------------------------------------------------------- addresses

std::string NormalizeAddress(std::string_view address) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!address.empty() && is_space(address.front())) address.remove_prefix(1);
  while (!address.empty() && is_space(address.back())) address.remove_suffix(1);
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    address = address.substr(1, address.size() - 2);
  }
  std::string out(address);
  size_t at = out.rfind('@');
  if (at != std::string::npos) {
    for (size_t i = at + 1; i < out.size(); ++i) {
      out[i] = char(std::tolower(static_cast<unsigned char>(out[i])));
    }
  }
  return out;
}

absl::Status ValidateAddress(std::string_view address, size_t max_length) {
  if (address.empty()) return absl::InvalidArgumentError("empty address");
  if (address.size() > max_length) {
    return absl::InvalidArgumentError(Cat("address longer than ", max_length, " octets"));
  }
  size_t at = address.find('@');
  if (at == std::string_view::npos || address.find('@', at + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError(Cat("\"", address, "\" needs exactly one @"));
  }
  std::string_view local = address.substr(0, at), domain = address.substr(at + 1);
  if (local.empty() || local.size() > 64) {
    return absl::InvalidArgumentError(Cat("\"", address, "\": local part must be 1..64 octets"));
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return absl::InvalidArgumentError(Cat("\"", address, "\": misplaced dot in the local part"));
  }
  for (unsigned char c : local) {
    bool ok = std::isalnum(c) || std::strchr("!#$%&'*+-/=?^_`{|}~.", c) != nullptr;
    if (!ok || c == 0) {
      return absl::InvalidArgumentError(Cat("\"", address, "\": character not allowed in the local part"));
    }
  }
  if (domain.empty() || domain.size() > 253 || domain.find('.') == std::string_view::npos) {
    return absl::InvalidArgumentError(Cat("\"", address, "\": domain must be a dotted host name"));
  }
  size_t start = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) dot = domain.size();
    std::string_view label = domain.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return absl::InvalidArgumentError(Cat("\"", address, "\": bad domain label"));
    }
    for (unsigned char c : label) {
      if (!(std::isalnum(c) || c == '-')) {
        return absl::InvalidArgumentError(Cat("\"", address, "\": character not allowed in the domain"));
      }
    }
    if (dot == domain.size()) break;
    start = dot + 1;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- opt-out lists

struct OptOutList::Addresses {
  mutable absl::Mutex mu;
  StringMap<bool> set ABSL_GUARDED_BY(mu);
};

OptOutList::OptOutList() : addresses_(std::make_unique<Addresses>()) {}
OptOutList::~OptOutList() = default;

absl::StatusOr<std::unique_ptr<OptOutList>> OptOutList::Open(const std::string& path) {
  auto list = std::make_unique<OptOutList>();
  list->path_ = path;
  std::ifstream in(path);
  if (!in) {
    if (access(path.c_str(), F_OK) == 0) {
      return absl::PermissionDeniedError(Cat("opt-out list \"", path, "\": cannot read"));
    }
    return list;  // missing: empty, created by Add()
  }
  std::string line;
  absl::MutexLock lock(&list->addresses_->mu);
  while (std::getline(in, line)) {
    std::string a = NormalizeAddress(line);
    if (a.empty() || a[0] == '#') continue;
    list->addresses_->set[a] = true;
  }
  return list;
}

bool OptOutList::Contains(std::string_view address) const {
  std::string a = NormalizeAddress(address);
  absl::ReaderMutexLock lock(&addresses_->mu);
  return addresses_->set.contains(std::string_view(a));
}

size_t OptOutList::size() const {
  absl::ReaderMutexLock lock(&addresses_->mu);
  return addresses_->set.size();
}

absl::Status OptOutList::Add(std::string_view address) {
  std::string a = NormalizeAddress(address);
  if (a.empty() || a.find_first_of("\r\n") != std::string::npos) {
    return absl::InvalidArgumentError("opt-out: empty address or CR/LF in it");
  }
  absl::MutexLock lock(&addresses_->mu);
  if (addresses_->set.contains(std::string_view(a))) return absl::OkStatus();
  if (!path_.empty()) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return absl::UnavailableError(Cat("opt-out list \"", path_, "\": cannot open for append"));
    std::string line = a + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
              ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return absl::UnavailableError(Cat("opt-out list \"", path_, "\": write failed"));
  }
  addresses_->set[a] = true;
  return absl::OkStatus();
}

// ---------------------------------------------------------------- unsubscribe tokens

namespace {

std::string Mac(const std::string& secret, std::string_view payload) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), 16);
}

}  // namespace

std::string UnsubscribeTokens::Issue(std::string_view item_id, std::string_view address) const {
  std::string payload = Cat(item_id, "\n", NormalizeAddress(address));
  std::string token;
  mail::AppendBase64Url(token, payload);
  token.push_back('.');
  mail::AppendBase64Url(token, Mac(secret_, payload));
  return token;
}

absl::StatusOr<UnsubscribeRequest> UnsubscribeTokens::Verify(std::string_view token) const {
  size_t dot = token.rfind('.');
  if (dot == std::string_view::npos || token.size() > 2048) {
    return absl::InvalidArgumentError("unsubscribe token: malformed");
  }
  std::string payload, mac;
  if (!mail::DecodeBase64Url(token.substr(0, dot), payload) ||
      !mail::DecodeBase64Url(token.substr(dot + 1), mac)) {
    return absl::InvalidArgumentError("unsubscribe token: malformed");
  }
  std::string expected = Mac(secret_, payload);
  if (mac.size() != expected.size() ||
      CRYPTO_memcmp(mac.data(), expected.data(), expected.size()) != 0) {
    return absl::PermissionDeniedError("unsubscribe token: signature does not match");
  }
  size_t nl = payload.find('\n');
  if (nl == std::string::npos) return absl::InvalidArgumentError("unsubscribe token: malformed payload");
  return UnsubscribeRequest{payload.substr(0, nl), payload.substr(nl + 1)};
}

absl::StatusOr<UnsubscribeRequest> ApplyUnsubscribe(const UnsubscribeTokens& tokens,
                                                    std::string_view token, OptOutList& item_list) {
  auto request = tokens.Verify(token);
  if (!request.ok()) return request.status();
  absl::Status added = item_list.Add(request->address);
  if (!added.ok()) return added;
  return request;
}

// ---------------------------------------------------------------- CSV

int RecipientTable::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<RecipientTable> ParseRecipientCsv(std::string_view text, std::string_view source,
                                                 std::string_view email_column,
                                                 std::string_view id_column, char delimiter) {
  // Every field may be printed in a header, a body or a JSON report: the
  // whole file must be UTF-8, reported at its line and column.
  if (absl::Status s = CheckTextIsUtf8(text, source); !s.ok()) return s;
  RecipientTable table;
  std::vector<std::string> row;
  std::string field;
  size_t i = 0;
  int line = 1;
  int row_line = 1;
  bool header = true;
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") i = 3;  // BOM
  auto end_row = [&]() -> absl::Status {
    row.push_back(std::move(field));
    field.clear();
    if (row.size() == 1 && row[0].empty()) {  // blank line
      row.clear();
      return absl::OkStatus();
    }
    if (header) {
      table.columns = std::move(row);
      header = false;
    } else {
      if (row.size() != table.columns.size()) {
        return absl::InvalidArgumentError(Cat(source, ":", row_line, ": expected ",
                                              table.columns.size(), " fields, got ", row.size()));
      }
      table.rows.push_back(std::move(row));
      table.lines.push_back(row_line);
    }
    row.clear();
    return absl::OkStatus();
  };
  while (i < text.size()) {
    char c = text[i];
    if (c == '"' && field.empty()) {
      ++i;
      while (true) {
        if (i >= text.size()) {
          return absl::InvalidArgumentError(Cat(source, ":", row_line, ": unterminated quoted field"));
        }
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (text[i] == '\n') ++line;
        field.push_back(text[i++]);
      }
      continue;
    }
    if (c == delimiter) {
      row.push_back(std::move(field));
      field.clear();
      ++i;
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++i;
      if (auto s = end_row(); !s.ok()) return s;
      ++line;
      row_line = line;
    } else {
      field.push_back(c);
      ++i;
    }
  }
  if (!field.empty() || !row.empty()) {
    if (auto s = end_row(); !s.ok()) return s;
  }
  if (table.columns.empty()) return absl::InvalidArgumentError(Cat(source, ": no header row"));
  if (auto s = mail::ResolveRecipientColumns(table, Cat(source, ":1"), email_column, id_column); !s.ok()) {
    return s;
  }
  return table;
}

namespace mail {

absl::Status ResolveRecipientColumns(RecipientTable& table, std::string_view source,
                                     std::string_view email_column, std::string_view id_column) {
  for (std::string& col : table.columns) {
    while (!col.empty() && col.back() == ' ') col.pop_back();
    while (!col.empty() && col.front() == ' ') col.erase(col.begin());
  }
  // A column named twice is ambiguous (which "email" is the address, which
  // value does {{name}} take?): refused, naming both positions.
  for (size_t i = 0; i < table.columns.size(); ++i) {
    for (size_t k = i + 1; k < table.columns.size(); ++k) {
      if (table.columns[i] == table.columns[k]) {
        return absl::InvalidArgumentError(Cat(source, ": column \"", table.columns[i], "\" appears twice (columns ",
                                              i + 1, " and ", k + 1, ")"));
      }
    }
  }
  if (email_column.empty()) return absl::OkStatus();  // columns only: the caller picks the address
  table.email_column = table.ColumnIndex(email_column);
  if (table.email_column < 0) {
    return absl::InvalidArgumentError(Cat(source, ": no \"", email_column, "\" column (columns: ",
                                          Join(table.columns, ", "), ")"));
  }
  table.id_column = id_column.empty() ? -1 : table.ColumnIndex(id_column);
  return absl::OkStatus();
}

}  // namespace mail

// ---------------------------------------------------------------- templates

namespace mail {

absl::StatusOr<CompiledTemplate> CompiledTemplate::Compile(std::string_view text,
                                                           const RecipientTable& table,
                                                           std::string_view what) {
  CompiledTemplate t;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) open = text.size();
    if (open > pos) t.segments_.push_back({std::string(text.substr(pos, open - pos))});
    if (open == text.size()) break;
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(Cat(what, ": unclosed {{ at offset ", open));
    }
    std::string_view name = text.substr(open + 2, close - open - 2);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    Segment seg;
    int column = table.ColumnIndex(name);
    if (column >= 0) {
      seg.kind = Special::kColumn;
      seg.column = column;
    } else if (name == "email") {
      seg.kind = Special::kEmail;
    } else if (name == "id") {
      seg.kind = Special::kId;
    } else if (name == "unsubscribe_url") {
      seg.kind = Special::kUnsubscribeUrl;
    } else {
      return absl::InvalidArgumentError(
          Cat(what, ": unknown placeholder {{", name, "}}; the recipient columns are ",
              Join(table.columns, ", "), " (and email, id, unsubscribe_url)"));
    }
    t.segments_.push_back(std::move(seg));
    pos = close + 2;
  }
  return t;
}

bool CompiledTemplate::uses_unsubscribe_url() const {
  for (const auto& s : segments_) {
    if (s.kind == Special::kUnsubscribeUrl) return true;
  }
  return false;
}

bool CompiledTemplate::personalized() const {
  for (const auto& s : segments_) {
    if (s.kind != Special::kNone) return true;
  }
  return false;
}

}  // namespace mail

void MailJobRuntime::UnsubscribeValues(std::string_view address, std::string& url,
                                       std::string& header) const {
  url.clear();
  header.clear();
  const std::string& base = spec.mail.unsubscribe_url();
  const std::string& mailto = spec.mail.unsubscribe_mailto();
  if (base.empty() && mailto.empty()) return;
  std::string token = tokens->Issue(item_id, address);
  if (!base.empty()) {
    url = base;
    url.push_back(base.find('?') == std::string::npos ? '?' : '&');
    url.append("token=");
    url.append(token);
  }
  if (!mailto.empty()) {
    CatTo(header, "<mailto:", mailto, "?subject=unsubscribe%20", token, ">");
  }
  if (!url.empty()) {
    if (!header.empty()) header.append(", ");
    CatTo(header, "<", url, ">");
  }
}

void MailJobRuntime::Render(const mail::CompiledTemplate& t, const MailContext& ctx,
                            const MailItem& item, bool html_escape, std::string& unsubscribe_url,
                            std::string& out) const {
  out.clear();
  const std::vector<std::string>& row = table.rows[item.row];
  for (const auto& seg : t.segments()) {
    std::string_view v;
    switch (seg.kind) {
      case mail::CompiledTemplate::Special::kNone:
        out.append(seg.literal);
        continue;
      case mail::CompiledTemplate::Special::kColumn:
        v = row[seg.column];
        break;
      case mail::CompiledTemplate::Special::kEmail:
        v = item.address;
        break;
      case mail::CompiledTemplate::Special::kId:
        v = table.id_column >= 0 ? std::string_view(row[table.id_column]) : std::string_view(item.address);
        break;
      case mail::CompiledTemplate::Special::kUnsubscribeUrl:
        v = unsubscribe_url;
        break;
    }
    if (html_escape) {
      mail::AppendHtmlEscaped(out, v);
    } else {
      out.append(v);
    }
  }
}

}  // namespace herald
