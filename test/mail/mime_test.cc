// MessageComposer checked against an independent parser: Python's `email`
// package (policy=default) decodes every generated message; every header and
// every decoded part must equal what was intended.
#include <catch2/catch.hpp>

#include "herald/mail.h"
#include "mail/mime_codec.h"
#include "mail_test_util.h"
#include "nlohmann/json.hpp"

namespace herald {
namespace {

using nlohmann::json;
using testing::MakeTempDir;
using testing::ReadWholeFile;
using testing::RunCommand;
using testing::WriteFile;

// Parses each message with test/mail/parse_message.py.
json ParseWithPython(const std::vector<std::string>& messages) {
  std::string dir = MakeTempDir("herald-mime");
  std::string cmd = "/usr/bin/python3 " HERALD_SOURCE_DIR "/test/mail/parse_message.py";
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string path = dir + "/m" + std::to_string(i) + ".eml";
    WriteFile(path, messages[i]);
    cmd += " " + path;
  }
  int rc = -1;
  std::string out = RunCommand(cmd, &rc);
  REQUIRE(rc == 0);
  RunCommand("rm -rf " + dir);
  return json::parse(out);
}

std::string Header(const json& m, const std::string& name) {
  if (!m["headers"].contains(name)) return "<missing>";
  REQUIRE(m["headers"][name].size() == 1);
  return m["headers"][name][0].get<std::string>();
}

std::vector<std::string> Leaves(const json& m) {
  std::vector<std::string> out;
  for (const auto& p : m["parts"]) out.push_back(p["content_type"].get<std::string>());
  return out;
}

void CheckWellFormed(const json& m) {
  CHECK(m["defects"].empty());
  CHECK(m["bare_lf"].get<int>() == 0);
  CHECK(m["max_line"].get<int>() <= 998);        // RFC 5322 2.1.1 MUST
  CHECK(m["max_folded_line"].get<int>() <= 78);  // headers folded at 78, QP and base64 at 76
}

TEST_CASE("Quoted-printable output keeps lines within 76 octets and round-trips", "[mail][mime]") {
  std::string text(3000, 'x');
  text += "\n.dot line\nFrom the start\ntrailing space \n\ttab=equals\xC3\xA9\n";
  std::string out;
  mail::AppendQuotedPrintable(out, text);
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find("\r\n", start);
    if (end == std::string::npos) end = out.size();
    CHECK(end - start <= 76);
    start = end + 2;
  }
  CHECK(out.find("\r\n=2Edot") != std::string::npos);
  CHECK(out.find("\r\n=46rom") != std::string::npos);
  CHECK(out.find("space=20\r\n") != std::string::npos);
  CHECK(out.find("=3Dequals=C3=A9") != std::string::npos);
}

TEST_CASE("Composed messages decode - part by part - to what was intended", "[mail][mime]") {
  std::string dir = MakeTempDir("herald-att");
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  for (int i = 0; i < 3000; ++i) png.push_back(char(i * 7));
  WriteFile(dir + "/logo.png", png);
  std::string pdf = "%PDF-1.4\n" + std::string(500, 'p');
  WriteFile(dir + "/brochure.pdf", pdf);
  v1::Attachment logo;
  logo.set_path("logo.png");
  logo.set_content_id("logo@contoso.example.com");
  v1::Attachment brochure;
  brochure.set_path("brochure.pdf");
  brochure.set_filename("Prospekt f\xC3\xBCr Kunden \xE2\x80\x94 2026 \xE2\x80\x94 Winterkollektion mit allen Preisen und Gr\xC3\xB6\xC3\x9F" "en.pdf");
  auto prepared_logo = PrepareAttachment(logo, dir);
  auto prepared_pdf = PrepareAttachment(brochure, dir);
  REQUIRE(prepared_logo.ok());
  REQUIRE(prepared_pdf.ok());
  std::vector<PreparedAttachment> attachments = {*prepared_logo, *prepared_pdf};

  const std::string long_line(2500, 'L');
  const std::string text = "Hello Zo\xC3\xAB,\n\nOur winter collection has arrived.\n" + long_line +
                           "\n.a line starting with a dot\nFrom here on\nends with spaces   \n"
                           "--=_hb3_0000000000000000\n=?utf-8?B?not-a-word?=\n";
  const std::string html = "<p>Hello Zo\xC3\xAB &amp; co,</p><img src=\"cid:logo@contoso.example.com\">" +
                           long_line + "<p>\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x8E\x89</p>";
  const std::string jp_subject =
      "\xE5\x86\xAC\xE3\x81\xAE\xE6\x96\xB0\xE4\xBD\x9C\xE3\x81\x8C\xE5\xB1\x8A\xE3\x81\x8D\xE3\x81\xBE"
      "\xE3\x81\x97\xE3\x81\x9F \xF0\x9F\x8E\x89 Zo\xC3\xAB, winter gear is here \xE2\x80\x94 up to 40% "
      "off everything in the store until the end of the month";
  const std::string ascii_subject =
      "A plain ASCII subject that is long enough to need folding because it runs well past "
      "seventy-eight characters, and then some more words to make it fold twice over the limit";
  const std::string list_unsub =
      "<mailto:unsubscribe@contoso.example.com?subject=unsubscribe%20abcDEF-_123.XYZ>, "
      "<https://contoso.example.com/unsubscribe?token=abcDEF-_123.XYZ>";

  MessageComposer composer("contoso.example.com");
  struct Case {
    std::string name;
    MessageContent content;
  };
  std::vector<Case> cases;
  {
    MessageContent c;
    c.from = "news@contoso.example.com";
    c.to = "bob@example.org";
    c.subject = ascii_subject;
    c.text = text;
    c.format = v1::MAIL_FORMAT_TEXT;
    cases.push_back({"text", c});
  }
  {
    MessageContent c;
    c.from = "Contoso \xC3\x96utdoor <news@contoso.example.com>";
    c.reply_to = "\"Help, Desk\" <help@contoso.example.com>";
    c.to = "zoe@example.org";
    c.to_name = "Zo\xC3\xAB O'Brien";
    c.subject = jp_subject;
    c.text = text;
    c.html = html;
    c.list_unsubscribe = list_unsub;
    cases.push_back({"mime", c});
  }
  {
    MessageContent c;
    c.from = "Contoso <news@contoso.example.com>";
    c.to = "ana@example.org";
    c.to_name = "Ana, \"the\" Buyer";
    c.subject = "Caf\xC3\xA9 cr\xC3\xA8me";
    c.text = "Caf\xC3\xA9 cr\xC3\xA8me br\xC3\xBBl\xC3\xA9" "e\n";
    c.html = "<p>Caf\xC3\xA9</p>";
    c.charset = "iso-8859-1";
    cases.push_back({"latin1", c});
  }
  {
    MessageContent c;
    c.from = "news@contoso.example.com";
    c.to = "ken@example.org";
    c.subject = "sjis";
    c.text = "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88\n";
    c.charset = "shift_jis";
    c.format = v1::MAIL_FORMAT_TEXT;
    cases.push_back({"sjis", c});
  }
  {
    MessageContent c;  // Japanese text cannot be Latin-1: falls back to UTF-8
    c.from = "news@contoso.example.com";
    c.to = "fallback@example.org";
    c.subject = "fallback";
    c.text = "\xE6\x97\xA5\xE6\x9C\xAC caf\xC3\xA9\n";
    c.charset = "iso-8859-1";
    c.format = v1::MAIL_FORMAT_TEXT;
    cases.push_back({"fallback", c});
  }
  {
    MessageContent c;
    c.from = "Contoso <news@contoso.example.com>";
    c.to = "mhtml@example.org";
    c.subject = "MHTML";
    c.text = text;
    c.html = html;
    c.format = v1::MAIL_FORMAT_MHTML;
    c.attachments = attachments;
    c.list_unsubscribe = list_unsub;
    cases.push_back({"mhtml", c});
  }
  std::vector<std::string> messages;
  std::vector<std::string> ids;
  for (auto& c : cases) {
    std::string out;
    absl::Status s = composer.Compose(c.content, out);
    INFO(c.name << ": " << s.message());
    REQUIRE(s.ok());
    messages.push_back(out);
    ids.push_back(std::string(composer.last_message_id()));
  }
  CHECK(composer.last_charset() == "utf-8");
  json parsed = ParseWithPython(messages);
  REQUIRE(parsed.size() == cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].name << "\n" << messages[i].substr(0, 3000));
    const json& m = parsed[i];
    CheckWellFormed(m);
    CHECK(Header(m, "mime-version") == "1.0");
    CHECK(Header(m, "message-id") == ids[i]);
    CHECK_THAT(ids[i], Catch::EndsWith("@contoso.example.com>"));
    CHECK(Header(m, "date").size() >= 29);  // "Thu, 01 Jan 2026 10:00:00 +0000"
    CHECK(Header(m, "subject") == std::string(cases[i].content.subject));
  }
  // text
  CHECK(Leaves(parsed[0]) == std::vector<std::string>{"text/plain"});
  CHECK(parsed[0]["parts"][0]["text"] == text);
  CHECK(parsed[0]["parts"][0]["cte"] == "quoted-printable");
  CHECK(Header(parsed[0], "to") == "bob@example.org");
  CHECK(Header(parsed[0], "list-unsubscribe") == "<missing>");
  // mime: non-ASCII names, alternative parts, RFC 8058 headers
  const json& mime = parsed[1];
  CHECK(Leaves(mime) == std::vector<std::string>{"multipart/alternative", "text/plain", "text/html"});
  CHECK(mime["parts"][1]["text"] == text);
  CHECK(mime["parts"][2]["text"] == html);
  CHECK(Header(mime, "from") == "Contoso \xC3\x96utdoor <news@contoso.example.com>");
  CHECK(Header(mime, "to") == "Zo\xC3\xAB O'Brien <zoe@example.org>");
  CHECK(Header(mime, "reply-to") == "\"Help, Desk\" <help@contoso.example.com>");
  CHECK(Header(mime, "list-unsubscribe") == list_unsub);
  CHECK(Header(mime, "list-unsubscribe-post") == "List-Unsubscribe=One-Click");
  // latin1
  const json& latin = parsed[2];
  CHECK(latin["parts"][1]["charset"] == "iso-8859-1");
  CHECK(latin["parts"][1]["text"] == "Caf\xC3\xA9 cr\xC3\xA8me br\xC3\xBBl\xC3\xA9" "e\n");
  CHECK(latin["parts"][2]["text"] == "<p>Caf\xC3\xA9</p>");
  CHECK(Header(latin, "to") == "\"Ana, \\\"the\\\" Buyer\" <ana@example.org>");
  CHECK(messages[2].find("Caf=E9 cr=E8me") != std::string::npos);
  // shift_jis
  CHECK(parsed[3]["parts"][0]["charset"] == "shift_jis");
  CHECK(parsed[3]["parts"][0]["text"] == std::string(cases[3].content.text));
  // fallback
  CHECK(parsed[4]["parts"][0]["charset"] == "utf-8");
  CHECK(parsed[4]["parts"][0]["text"] == std::string(cases[4].content.text));
  // mhtml: mixed { related { alternative { text, html }, image }, pdf }
  const json& mh = parsed[5];
  CHECK(Leaves(mh) == std::vector<std::string>{"multipart/mixed", "multipart/related", "multipart/alternative",
                                               "text/plain", "text/html", "image/png", "application/pdf"});
  CHECK(mh["parts"][3]["text"] == text);
  CHECK(mh["parts"][4]["text"] == html);
  CHECK(mh["parts"][5]["content_id"] == "<logo@contoso.example.com>");
  CHECK(mh["parts"][5]["disposition"] == "inline");
  std::string png_b64;
  mail::AppendBase64(png_b64, png, false);
  CHECK(mh["parts"][5]["base64"] == png_b64);
  CHECK(mh["parts"][6]["filename"] == "Prospekt f\xC3\xBCr Kunden \xE2\x80\x94 2026 \xE2\x80\x94 Winterkollektion mit allen Preisen und Gr\xC3\xB6\xC3\x9F" "en.pdf");
  CHECK(mh["parts"][6]["disposition"] == "attachment");
  std::string pdf_b64;
  mail::AppendBase64(pdf_b64, pdf, false);
  CHECK(mh["parts"][6]["base64"] == pdf_b64);
  RunCommand("rm -rf " + dir);
}

TEST_CASE("Recipient data cannot inject a header", "[mail][mime]") {
  MessageComposer composer("contoso.example.com");
  MessageContent c;
  c.from = "news@contoso.example.com";
  c.to = "bob@example.org";
  c.subject = "hi";
  c.text = "body";
  std::string out;
  c.to_name = "Bob\r\nBcc: everyone@example.org";
  CHECK(composer.Compose(c, out).code() == absl::StatusCode::kInvalidArgument);
  c.to_name = {};
  c.subject = "hi\nBcc: everyone@example.org";
  CHECK(composer.Compose(c, out).code() == absl::StatusCode::kInvalidArgument);
  c.subject = "hi";
  c.to = "bob@example.org>\r\nBcc: <x@example.org";
  CHECK(composer.Compose(c, out).code() == absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(ValidateAddress("bob@example.org\r\nBcc: x@example.org").ok());
  // Other control characters and encoded-word lookalikes are encoded, not emitted raw.
  c.to = "bob@example.org";
  c.subject = "tab\there =?utf-8?B?SGk=?= \x01";
  REQUIRE(composer.Compose(c, out).ok());
  json parsed = ParseWithPython({out});
  CHECK(Header(parsed[0], "subject") == "tab\there =?utf-8?B?SGk=?= \x01");
  // date from to subject message-id mime-version content-type content-transfer-encoding: nothing else
  CHECK(parsed[0]["headers"].size() == 8);
}

TEST_CASE("Boundaries never occur in encoded content", "[mail][mime]") {
  MessageComposer composer("x.example");
  MessageContent c;
  c.from = "a@x.example";
  c.to = "b@x.example";
  c.subject = "s";
  std::string evil;
  for (int i = 0; i < 20; ++i) evil += "--=_hb3_" + std::string(16, char('0' + i % 10)) + "\n";
  c.text = evil;
  c.html = evil;
  std::string out;
  REQUIRE(composer.Compose(c, out).ok());
  size_t at = out.find("boundary=\"");
  REQUIRE(at != std::string::npos);
  std::string boundary = out.substr(at + 10, out.find('"', at + 10) - at - 10);
  size_t count = 0;
  for (size_t p = out.find(boundary); p != std::string::npos; p = out.find(boundary, p + 1)) ++count;
  CHECK(count == 4);  // the parameter, two delimiters, the close
}

}  // namespace
}  // namespace herald
