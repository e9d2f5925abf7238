// Headers to the letter of RFC 5322 / RFC 2047, checked against two
// independent parsers: GMime 3 (libgmime-3.0) in process and Python's
// `email` package (test/mail/parse_message.py). Every header line must be at
// most 998 octets, and at most 78 wherever the RFC's SHOULD can be met;
// encoded words at most 75 characters, each one whole UTF-8; and both
// parsers must give back exactly the display name, address and subject that
// went in.
#include <gmime/gmime.h>

#include <catch2/catch.hpp>

#include "herald/mail.h"
#include "herald/model/mail_config.pb.h"
#include "herald/store.h"
#include "mail/mime_codec.h"
#include "mail/runtime.h"
#include "mail_test_util.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

using nlohmann::json;
using testing::CaptureTransport;
using testing::MakeTempDir;
using testing::RunCommand;
using testing::WriteFile;

json ParseWithPython(const std::vector<std::string>& messages) {
  std::string dir = MakeTempDir("herald-rfc5322");
  std::string cmd = "/usr/bin/python3 " HERALD_SOURCE_DIR "/test/mail/parse_message.py";
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string path = dir + "/m" + std::to_string(i) + ".eml";
    WriteFile(path, messages[i]);
    cmd += " " + path;
  }
  int rc = -1;
  std::string out = RunCommand(cmd, &rc);
  RunCommand("rm -rf " + dir);
  REQUIRE(rc == 0);
  return json::parse(out);
}

// What GMime reads back from one message.
struct GMimeView {
  std::vector<std::pair<std::string, std::string>> from, to, reply_to;  // (name, address)
  std::string subject;
  std::vector<std::string> filenames;  // of the leaf parts that have one
};

std::vector<std::pair<std::string, std::string>> Mailboxes(InternetAddressList* list) {
  std::vector<std::pair<std::string, std::string>> out;
  if (list == nullptr) return out;
  for (int i = 0; i < internet_address_list_length(list); ++i) {
    InternetAddress* a = internet_address_list_get_address(list, i);
    const char* name = internet_address_get_name(a);
    const char* addr = INTERNET_ADDRESS_IS_MAILBOX(a) ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)) : "";
    out.emplace_back(name == nullptr ? "" : name, addr == nullptr ? "" : addr);
  }
  return out;
}

void CollectFilenames(GMimeObject* parent, GMimeObject* part, gpointer data) {
  (void)parent;
  if (GMIME_IS_PART(part)) {
    const char* name = g_mime_part_get_filename(GMIME_PART(part));
    if (name != nullptr) static_cast<std::vector<std::string>*>(data)->push_back(name);
  }
}

GMimeView ParseWithGMime(const std::string& message) {
  static bool init = [] {
    g_mime_init();
    return true;
  }();
  (void)init;
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(message.data(), message.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
  GMimeView view;
  REQUIRE(msg != nullptr);
  view.from = Mailboxes(g_mime_message_get_from(msg));
  view.to = Mailboxes(g_mime_message_get_to(msg));
  view.reply_to = Mailboxes(g_mime_message_get_reply_to(msg));
  const char* subject = g_mime_message_get_subject(msg);
  view.subject = subject == nullptr ? "" : subject;
  g_mime_message_foreach(msg, CollectFilenames, &view.filenames);
  g_object_unref(msg);
  g_object_unref(parser);
  g_object_unref(stream);
  return view;
}

// The header block's lines (up to the blank line), without CRLF.
std::vector<std::string> HeaderLines(const std::string& message) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (true) {
    size_t end = message.find("\r\n", start);
    REQUIRE(end != std::string::npos);
    if (end == start) break;
    lines.push_back(message.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

std::string DecodeBase64(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '+') v = 62;
    else if (ch == '/') v = 63;
    else continue;  // padding
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// Line lengths, and every encoded word: at most 75 characters and whole UTF-8.
// `long_address` lines (an address longer than a line) may pass 78.
void CheckHeaderLines(const std::string& message, size_t address_size) {
  for (const std::string& line : HeaderLines(message)) {
    INFO(line);
    CHECK(line.size() <= 998);
    bool exempt = line.rfind("List-Unsubscribe:", 0) == 0 || (address_size + 4 > 78 && line.find('@') != std::string::npos);
    if (!exempt) CHECK(line.size() <= 78);
    for (size_t at = line.find("=?"); at != std::string::npos; at = line.find("=?", at + 2)) {
      size_t end = line.find("?=", at + 10);
      if (line.compare(at, 10, "=?utf-8?B?") != 0 || end == std::string::npos) continue;
      CHECK(end + 2 - at <= 75);
      CHECK(ValidUtf8(DecodeBase64(std::string_view(line).substr(at + 10, end - at - 10))));
      at = end;
    }
  }
}

std::string Repeat(std::string_view unit, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out.append(unit);
  return out;
}

struct Case {
  std::string name;     // display name of To (may be empty)
  std::string address;  // To
  std::string subject;
  std::string from = "news@contoso.example.com";
  std::string from_name;  // what From's display name must parse as
  std::string reply_to;
  std::string reply_to_name;
};

std::vector<Case> FoldingCases() {
  std::vector<Case> cases;
  const std::string jp = "\xE5\x86\xAC\xE3\x81\xAE\xE6\x96\xB0\xE4\xBD\x9C";  // 4 three-byte characters
  const std::string emoji = "\xF0\x9F\x8E\x89";                               // a four-byte character
  auto add = [&](std::string name, std::string address, std::string subject) {
    Case c;
    c.name = std::move(name);
    c.address = std::move(address);
    c.subject = std::move(subject);
    cases.push_back(std::move(c));
  };
  // The issue's report: a display name of thousands of octets.
  add(Repeat("Contoso Outdoor Adventures ", 120) + "Inc", "long-ascii@example.org", "Hello");
  add(Repeat("x", 3000), "one-long-word@example.org", "Hello");
  add(Repeat("Ana, \"the\" Buyer \\ ", 100) + "end", "long-quoted@example.org", "Hello");
  add(Repeat(jp + " ", 200) + "end", "long-japanese@example.org", "Hello");
  add(Repeat(emoji + jp + "Zo\xC3\xAB", 150), "emoji@example.org", "Hello");
  add("Zo\xC3\xAB " + Repeat("a", 90) + " O'Brien", "mixed@example.org", "Hello");
  add("Two  spaces", "spaces@example.org", "Hello");
  // Long addresses: a 64-octet local part and a long domain.
  add("Ana Buyer", Repeat("l", 64) + "@" + Repeat("sub.", 30) + "example.org", "Hello");
  add(Repeat("Name ", 40) + "End", Repeat("a", 60) + "@example.org", "Hello");
  // No splittable point for "B" words without padding: "Q" words instead.
  add("a" + Repeat("a\xC3\xA9", 80), "q-form@example.org", "a" + Repeat("a\xC3\xA9", 80));
  // Subjects: long ASCII, a word longer than a line, non-ASCII, spaces.
  add("", "s1@example.org", Repeat("Winter gear is here, ", 150) + "now");
  add("", "s2@example.org", "See https://contoso.example.com/" + Repeat("p", 120) + "?x=1 today");
  add("", "s3@example.org", Repeat(jp + " " + emoji + " Zo\xC3\xAB ", 120));
  add("", "s4@example.org", "Sale  -  50%   off");
  add("", "s5@example.org", Repeat("y", 5000));
  // Boundary sweep: every name length around the fold points, ASCII atoms,
  // quoted names and 2- and 3-byte characters.
  for (size_t n = 1; n <= 120; n += 1) {
    std::string atoms, quoted, latin, cjk;
    for (size_t i = 0; atoms.size() < n; ++i) atoms += (i % 6 == 5 && atoms.size() + 1 < n) ? ' ' : char('a' + i % 26);
    for (size_t i = 0; quoted.size() < n; ++i) quoted += (i % 7 == 3) ? ',' : char('A' + i % 26);
    for (size_t i = 0; i < n; ++i) latin += "\xC3\xA9";
    for (size_t i = 0; i < n / 2 + 1; ++i) cjk += jp.substr((i % 4) * 3, 3);
    add(atoms, "sweep-a@example.org", atoms);
    add(quoted, "sweep-q@example.org", quoted);
    add(latin, "sweep-l@example.org", latin);
    add(cjk, "sweep-c@example.org", cjk);
  }
  // From and Reply-To given with escaped quotes and backslashes (RFC 5322 quoted-pairs).
  Case q;
  q.name = "Contoso \"Outdoor\"";
  q.address = "quotes@example.org";
  q.subject = "Quotes";
  q.from = "\"Contoso \\\"Outdoor\\\"\" <news@contoso.example.com>";
  q.from_name = "Contoso \"Outdoor\"";
  q.reply_to = "\"Back\\\\slash \\\"Desk\\\", Help\" <help@contoso.example.com>";
  q.reply_to_name = "Back\\slash \"Desk\", Help";
  cases.push_back(q);
  Case q2 = q;
  q2.from_name = Repeat("Contoso \"Outdoor\" ", 60);
  q2.from_name.pop_back();
  {
    std::string escaped;
    for (char c : q2.from_name) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      escaped.push_back(c);
    }
    q2.from = "\"" + escaped + "\" <news@contoso.example.com>";
  }
  cases.push_back(q2);
  return cases;
}

TEST_CASE("Every header folds within 78 columns and parses back exactly in GMime and Python",
          "[mail][mime][rfc5322]") {
  std::vector<Case> cases = FoldingCases();
  MessageComposer composer("contoso.example.com");
  std::vector<std::string> messages;
  for (const Case& c : cases) {
    MessageContent content;
    content.from = c.from;
    content.reply_to = c.reply_to;
    content.to = c.address;
    content.to_name = c.name;
    content.subject = c.subject;
    content.text = "Hello\n";
    std::string out;
    REQUIRE(composer.Compose(content, out).ok());
    messages.push_back(out);
  }
  json parsed = ParseWithPython(messages);
  REQUIRE(parsed.size() == cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const std::string& m = messages[i];
    INFO("case " << i << ": name \"" << c.name << "\" subject \"" << c.subject << "\"\n"
                 << m.substr(0, m.find("\r\n\r\n")));
    CheckHeaderLines(m, c.address.size());
    const json& py = parsed[i];
    CHECK(py["defects"].empty());
    REQUIRE(py["addresses"]["to"].size() == 1);
    CHECK(py["addresses"]["to"][0][0] == c.name);
    CHECK(py["addresses"]["to"][0][1] == c.address);
    CHECK(py["headers"]["subject"][0] == c.subject);
    CHECK(py["addresses"]["from"][0][0] == c.from_name);
    GMimeView g = ParseWithGMime(m);
    REQUIRE(g.to.size() == 1);
    CHECK(g.to[0].first == c.name);
    CHECK(g.to[0].second == c.address);
    CHECK(g.subject == c.subject);
    REQUIRE(g.from.size() == 1);
    CHECK(g.from[0].first == c.from_name);
    CHECK(g.from[0].second == "news@contoso.example.com");
    if (!c.reply_to.empty()) {
      REQUIRE(g.reply_to.size() == 1);
      CHECK(g.reply_to[0].first == c.reply_to_name);
      CHECK(py["addresses"]["reply-to"][0][0] == c.reply_to_name);
      CHECK(py["addresses"]["reply-to"][0][1] == "help@contoso.example.com");
    }
  }
}

TEST_CASE("Display names lose surrounding white space, which parsers disagree on", "[mail][mime][rfc5322]") {
  MessageComposer composer("contoso.example.com");
  MessageContent content;
  content.from = "  \"  Contoso  \"   <news@contoso.example.com>";
  content.to = "bob@example.org";
  content.to_name = "  Bob Buyer \t";
  content.subject = "Hi";
  content.text = "Hello\n";
  std::string out;
  REQUIRE(composer.Compose(content, out).ok());
  CHECK(out.find("\r\nTo: Bob Buyer <bob@example.org>\r\n") != std::string::npos);
  CHECK(out.find("\r\nFrom: Contoso <news@contoso.example.com>\r\n") != std::string::npos);
  GMimeView g = ParseWithGMime(out);
  CHECK(g.to[0].first == "Bob Buyer");
  CHECK(g.from[0].first == "Contoso");
}

TEST_CASE("A job's messages to many recipients fold every header and keep the catalog's quoted From name",
          "[mail][job][rfc5322]") {
  std::string dir = MakeTempDir("herald-rfc5322-job");
  const std::string jp = "\xE5\x86\xAC\xE3\x81\xAE\xE6\x96\xB0\xE4\xBD\x9C";
  std::string csv = "email,name,first_name\n";
  std::vector<std::string> names;
  for (int i = 0; i < 60; ++i) {
    std::string name;
    switch (i % 4) {
      case 0: name = Repeat("Contoso Outdoor Customer ", size_t(i) + 1) + std::to_string(i); break;
      case 1: name = Repeat(jp, size_t(i) * 2 + 1) + " Zo\xC3\xAB"; break;
      case 2: name = "Ana, \"the\" Buyer \\ " + Repeat("x", size_t(i) * 5); break;
      case 3: name = "Bob"; break;
    }
    names.push_back(name);
    std::string quoted = "\"";
    for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    csv += "r" + std::to_string(i) + "@example.org," + quoted + "\",First" + std::to_string(i) + "\n";
  }
  WriteFile(dir + "/list.csv", csv);
  Registry registry;
  RegisterMailComponents(&registry);
  std::unique_ptr<Store> store = NewMemoryStore();
  CaptureTransport transport;
  MailJobSpec spec;
  spec.item_id = "newsletter";
  spec.base_dir = dir;
  spec.mail.mutable_recipients()->set_csv_path("list.csv");
  auto* t = spec.mail.mutable_message()->mutable_template_();
  t->set_subject("{{first_name}}, " + Repeat("winter gear is here ", 20));
  t->set_text("Hello {{first_name}}\n");
  spec.mail.set_from("\"Contoso \\\"Outdoor\\\"\" <news@contoso.example.com>");
  spec.mail.set_unsubscribe_url("https://contoso.example.com/unsubscribe");
  v1::PipelineDefinition pipeline = DefaultMailPipeline();
  v1::ComposeMessageConfig compose;
  compose.add_extra_headers("X-Campaign: " + Repeat("winter-2026 ", 30) + "end");
  for (auto& stage : *pipeline.mutable_stages()) {
    for (auto& component : *stage.mutable_components()) {
      if (component.name() == "ComposeMessage") component.mutable_config()->PackFrom(compose);
    }
  }
  MailerOptions options;
  options.registry = &registry;
  options.store = store.get();
  options.transport = &transport;
  options.pipeline = &pipeline;
  options.unsubscribe_secret = "0123456789abcdef0123456789abcdef";
  auto job = MailJob::Create(spec, options);
  REQUIRE(job.ok());
  auto report = (*job)->Run();
  REQUIRE(report.ok());
  CHECK(report->sent == 60);
  std::vector<OutgoingMessage> sent = transport.sent();
  REQUIRE(sent.size() == 60);
  std::vector<std::string> data;
  for (const auto& m : sent) data.push_back(m.data);
  json parsed = ParseWithPython(data);
  for (size_t i = 0; i < sent.size(); ++i) {
    const std::string& m = sent[i].data;
    const size_t row = std::stoul(sent[i].recipient.substr(1));
    INFO(m.substr(0, m.find("\r\n\r\n")));
    CheckHeaderLines(m, sent[i].recipient.size());
    GMimeView g = ParseWithGMime(m);
    REQUIRE(g.to.size() == 1);
    CHECK(g.to[0].first == names[row]);
    CHECK(parsed[i]["addresses"]["to"][0][0] == names[row]);
    CHECK(g.from[0].first == "Contoso \"Outdoor\"");
    CHECK(parsed[i]["addresses"]["from"][0][0] == "Contoso \"Outdoor\"");
    CHECK(parsed[i]["headers"]["x-campaign"][0] == Repeat("winter-2026 ", 30) + "end");
    CHECK(g.subject == "First" + std::to_string(row) + ", " + Repeat("winter gear is here ", 19) + "winter gear is here");
  }
  RunCommand("rm -rf " + dir);
}

TEST_CASE("Attachments are read only from the catalog's directory, symlinks resolved", "[mail][attachments]") {
  std::string root = MakeTempDir("herald-confine");
  const std::string catalog = root + "/catalog", outside = root + "/outside";
  RunCommand("mkdir -p " + catalog + "/sub " + outside);
  WriteFile(catalog + "/brochure.pdf", "%PDF inside");
  WriteFile(catalog + "/sub/price list.pdf", "%PDF sub");
  WriteFile(outside + "/secret.txt", "the secret");
  REQUIRE(symlink((outside + "/secret.txt").c_str(), (catalog + "/innocent.pdf").c_str()) == 0);
  REQUIRE(symlink(outside.c_str(), (catalog + "/linked-dir").c_str()) == 0);
  REQUIRE(symlink((catalog + "/brochure.pdf").c_str(), (catalog + "/alias.pdf").c_str()) == 0);
  auto prepare = [&](const std::string& path, std::vector<std::string> allowed = {}) {
    v1::Attachment a;
    a.set_path(path);
    return PrepareAttachment(a, catalog, allowed);
  };
  for (const std::string& ok : {std::string("brochure.pdf"), std::string("sub/price list.pdf"),
                                std::string("alias.pdf"), catalog + "/brochure.pdf", std::string("sub/../brochure.pdf")}) {
    INFO(ok);
    CHECK(prepare(ok).ok());
  }
  for (const std::string& bad : {std::string("../outside/secret.txt"), outside + "/secret.txt",
                                 std::string("innocent.pdf"), std::string("linked-dir/secret.txt"),
                                 std::string("/etc/passwd")}) {
    auto refused = prepare(bad);
    INFO(bad << ": " << refused.status().message());
    CHECK(refused.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK_THAT(std::string(refused.status().message()),
               Catch::Contains("outside the catalog's directory") && Catch::Contains(bad));
  }
  // An explicit allowance opens a folder (and only it).
  CHECK(prepare("innocent.pdf", {outside}).ok());
  CHECK(prepare("../outside/secret.txt", {outside}).ok());
  CHECK(prepare("/etc/passwd", {outside}).status().code() == absl::StatusCode::kPermissionDenied);
  CHECK_THAT(std::string(prepare("brochure.pdf", {root + "/missing"}).status().message()),
             Catch::Contains("allowed directory \"" + root + "/missing\": cannot resolve it"));
  // Only regular files.
  CHECK_THAT(std::string(prepare("sub").status().message()), Catch::Contains("not a regular file"));
  CHECK_THAT(std::string(prepare("/dev/zero", {"/dev"}).status().message()), Catch::Contains("not a regular file"));

  // Through a job: attachments and the message file, named with the item.
  Registry registry;
  RegisterMailComponents(&registry);
  std::unique_ptr<Store> store = NewMemoryStore();
  CaptureTransport transport;
  WriteFile(catalog + "/list.csv", "email\nann@example.org\n");
  MailJobSpec spec;
  spec.item_id = "newsletter";
  spec.base_dir = catalog;
  spec.mail.mutable_recipients()->set_csv_path("list.csv");
  spec.mail.set_subject("Hi");
  spec.mail.mutable_message()->set_file("../outside/secret.txt");
  spec.mail.set_from("news@contoso.example.com");
  MailerOptions options;
  options.registry = &registry;
  options.store = store.get();
  options.transport = &transport;
  auto job = MailJob::Create(spec, options);
  CHECK(job.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK_THAT(std::string(job.status().message()), Catch::Contains("direct-mail item \"newsletter\": message file"));
  WriteFile(catalog + "/body.txt", "Hello\n");
  spec.mail.mutable_message()->set_file("body.txt");
  spec.mail.add_attachments()->set_path("innocent.pdf");
  job = MailJob::Create(spec, options);
  CHECK(job.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK_THAT(std::string(job.status().message()), Catch::Contains("direct-mail item \"newsletter\": attachment \"innocent.pdf\""));
  spec.allowed_dirs = {outside};
  job = MailJob::Create(spec, options);
  REQUIRE(job.ok());
  REQUIRE((*job)->Run().ok());
  REQUIRE(transport.sent().size() == 1);
  RunCommand("rm -rf " + root);
}

TEST_CASE("Attachment file names are sanitized: no paths, controls, bidi overrides or hidden names",
          "[mail][attachments]") {
  struct Want {
    std::string given, shown;
  };
  const std::vector<Want> wants = {
      {"../../etc/passwd", "passwd"},
      {"..\\..\\boot.ini", "boot.ini"},
      {"C:\\Users\\x\\report.pdf", "report.pdf"},
      {std::string("a\x01" "b\x7f" "c\r\n.pdf"), "a_b_c__.pdf"},
      {"invoice\xE2\x80\xAE" "fdp.exe", "invoice_fdp.exe"},
      {".bashrc", "bashrc"},
      {"...", "attachment"},
      {"report. ", "report"},
      {"\xFF\xFEname.pdf", "__name.pdf"},
      {"Prospekt f\xC3\xBCr Kunden \xE2\x80\x94 2026.pdf", "Prospekt f\xC3\xBCr Kunden \xE2\x80\x94 2026.pdf"},
      {"a\xC2\x85" "b.pdf", "a_b.pdf"},
  };
  for (const Want& w : wants) CHECK(mail::SanitizeFilename(w.given) == w.shown);
  // In a message: both parsers see the sanitized name.
  std::string dir = MakeTempDir("herald-filenames");
  WriteFile(dir + "/file.bin", "data");
  std::vector<PreparedAttachment> prepared;
  for (const Want& w : wants) {
    v1::Attachment a;
    a.set_path("file.bin");
    a.set_filename(w.given);
    auto p = PrepareAttachment(a, dir);
    INFO(w.given);
    REQUIRE(p.ok());
    prepared.push_back(*p);
  }
  MessageComposer composer("contoso.example.com");
  MessageContent content;
  content.from = "news@contoso.example.com";
  content.to = "ann@example.org";
  content.subject = "Files";
  content.text = "See attached\n";
  content.attachments = prepared;
  std::string out;
  REQUIRE(composer.Compose(content, out).ok());
  GMimeView g = ParseWithGMime(out);
  json py = ParseWithPython({out})[0];
  std::vector<std::string> py_names;
  for (const auto& part : py["parts"]) {
    if (part["filename"].is_string()) py_names.push_back(part["filename"]);
  }
  REQUIRE(g.filenames.size() == wants.size());
  REQUIRE(py_names.size() == wants.size());
  for (size_t i = 0; i < wants.size(); ++i) {
    CHECK(g.filenames[i] == wants[i].shown);
    CHECK(py_names[i] == wants[i].shown);
  }
  RunCommand("rm -rf " + dir);
}

TEST_CASE("SplitMailbox unquotes display names and finds the address outside quotes", "[mail][mime][rfc5322]") {
  struct Want {
    std::string mailbox, name, address;
  };
  for (const Want& w : std::vector<Want>{
           {"\"Contoso \\\"Outdoor\\\"\" <news@contoso.example.com>", "Contoso \"Outdoor\"", "news@contoso.example.com"},
           {"\"a \\\\ b\" <x@y.example>", "a \\ b", "x@y.example"},
           {"\"Sales <EU>\" <eu@contoso.example.com>", "Sales <EU>", "eu@contoso.example.com"},
           {"Contoso Outdoor <news@contoso.example.com>", "Contoso Outdoor", "news@contoso.example.com"},
           {"news@contoso.example.com", "", "news@contoso.example.com"},
       }) {
    std::string name;
    std::string_view address;
    mail::SplitMailbox(w.mailbox, name, address);
    INFO(w.mailbox);
    CHECK(name == w.name);
    CHECK(address == w.address);
  }
}

}  // namespace
}  // namespace herald
