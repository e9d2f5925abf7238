// Composing personalized MIME messages: Herald's MessageComposer against
// GMime 3 (the reference), on the same recipients and the same content.
//
// Each message: Date, From (display name), To (the recipient's name, some
// non-ASCII), Subject personalized (some non-ASCII, RFC 2047), Message-ID,
// List-Unsubscribe + List-Unsubscribe-Post, multipart/alternative with a
// text/plain and a text/html part in quoted-printable, personalized bodies
// (about 1 KB of text, 2 KB of HTML). Both sides personalize with the same
// precomputed split of the template; the work measured is building the
// message bytes.
//
//   bench_compose --benchmark_filter=Compose
#include <benchmark/benchmark.h>
#include <gmime/gmime.h>

#include <string>
#include <vector>

#include "herald/mail.h"

namespace {

struct Recipient {
  std::string email, name, first_name, token;
};

const std::vector<Recipient>& Recipients() {
  static const std::vector<Recipient> r = [] {
    std::vector<Recipient> out;
    const char* firsts[] = {"Ann", "Bob", "Zo\xC3\xAB", "Ren\xC3\xA9", "\xE5\x81\xA5", "Carl", "Dora", "Eve"};
    for (int i = 0; i < 1000; ++i) {
      std::string first = firsts[i % 8];
      out.push_back({"user" + std::to_string(i) + "@example.org", first + " Example" + std::to_string(i), first,
                     "bmV3c2xldHRlcgp1c2VyQGV4YW1wbGUub3Jn.c2lnbmF0dXJlMTIzNDU2" + std::to_string(i)});
    }
    return out;
  }();
  return r;
}

// The template split around the {{first_name}} placeholders.
struct Split {
  std::vector<std::string> pieces;  // pieces[0] NAME pieces[1] NAME ...
  void Render(const std::string& name, std::string& out) const {
    out.clear();
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (i > 0) out += name;
      out += pieces[i];
    }
  }
};

Split MakeSplit(const std::string& text) {
  Split s;
  size_t pos = 0;
  while (true) {
    size_t at = text.find("{{first_name}}", pos);
    s.pieces.push_back(text.substr(pos, at == std::string::npos ? std::string::npos : at - pos));
    if (at == std::string::npos) break;
    pos = at + 14;
  }
  return s;
}

struct Content {
  Split subject, text, html;
  std::string from = "Contoso Outdoor <news@contoso.example.com>";
};

const Content& Template() {
  static const Content c = [] {
    Content c;
    c.subject = MakeSplit("{{first_name}}, winter gear is here \xE2\x80\x94 up to 40% off");
    std::string text = "Hello {{first_name}},\n\n";
    std::string html = "<html><body><p>Hello {{first_name}},</p>\n";
    for (int i = 0; i < 12; ++i) {
      text += "Our winter collection has arrived: jackets, boots and tents for every trail. Line " +
              std::to_string(i) + "\n";
      html += "<p style=\"margin:0\">Our winter collection has arrived: <b>jackets</b>, boots &amp; tents "
              "for every trail. Line " + std::to_string(i) + "</p>\n";
    }
    text += "\nSee you soon, {{first_name}}!\n";
    html += "<p>See you soon, {{first_name}}!</p></body></html>\n";
    c.text = MakeSplit(text);
    c.html = MakeSplit(html);
    return c;
  }();
  return c;
}

std::string ListUnsubscribe(const Recipient& r) {
  return "<mailto:unsubscribe@contoso.example.com?subject=unsubscribe%20" + r.token +
         ">, <https://contoso.example.com/unsubscribe?token=" + r.token + ">";
}

void BM_Compose_Herald(benchmark::State& state) {
  const auto& recipients = Recipients();
  const Content& t = Template();
  herald::MessageComposer composer("contoso.example.com");
  std::string subject, text, html, unsub, out;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const Recipient& r = recipients[i++ % recipients.size()];
    t.subject.Render(r.first_name, subject);
    t.text.Render(r.first_name, text);
    t.html.Render(r.first_name, html);  // (names here need no HTML escaping)
    unsub = ListUnsubscribe(r);
    herald::MessageContent c;
    c.from = t.from;
    c.to = r.email;
    c.to_name = r.name;
    c.subject = subject;
    c.text = text;
    c.html = html;
    c.list_unsubscribe = unsub;
    if (!composer.Compose(c, out).ok()) state.SkipWithError("compose failed");
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_message"] = double(bytes) / double(state.iterations());
}
BENCHMARK(BM_Compose_Herald);

GMimePart* TextPart(const char* subtype, const std::string& body) {
  GMimeTextPart* part = g_mime_text_part_new_with_subtype(subtype);
  g_mime_text_part_set_text(part, body.c_str());  // sets charset utf-8 as needed
  g_mime_part_set_content_encoding(GMIME_PART(part), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  return GMIME_PART(part);
}

void BM_Compose_Reference(benchmark::State& state) {
  static bool init = [] {
    g_mime_init();
    return true;
  }();
  (void)init;
  const auto& recipients = Recipients();
  const Content& t = Template();
  std::string subject, text, html, unsub;
  size_t i = 0, bytes = 0;
  GMimeFormatOptions* options = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(options, GMIME_NEWLINE_FORMAT_DOS);
  for (auto _ : state) {
    const Recipient& r = recipients[i++ % recipients.size()];
    t.subject.Render(r.first_name, subject);
    t.text.Render(r.first_name, text);
    t.html.Render(r.first_name, html);
    unsub = ListUnsubscribe(r);
    GMimeMessage* message = g_mime_message_new(TRUE);
    g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_FROM, "Contoso Outdoor", "news@contoso.example.com");
    g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_TO, r.name.c_str(), r.email.c_str());
    g_mime_message_set_subject(message, subject.c_str(), "utf-8");
    GDateTime* now = g_date_time_new_now_utc();
    g_mime_message_set_date(message, now);
    g_date_time_unref(now);
    char* id = g_mime_utils_generate_message_id("contoso.example.com");
    g_mime_message_set_message_id(message, id);
    g_free(id);
    GMimeObject* object = GMIME_OBJECT(message);
    g_mime_object_set_header(object, "List-Unsubscribe", unsub.c_str(), nullptr);
    g_mime_object_set_header(object, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click", nullptr);
    GMimeMultipart* alternative = g_mime_multipart_new_with_subtype("alternative");
    GMimePart* plain = TextPart("plain", text);
    GMimePart* rich = TextPart("html", html);
    g_mime_multipart_add(alternative, GMIME_OBJECT(plain));
    g_mime_multipart_add(alternative, GMIME_OBJECT(rich));
    g_object_unref(plain);
    g_object_unref(rich);
    g_mime_message_set_mime_part(message, GMIME_OBJECT(alternative));
    g_object_unref(alternative);
    char* out = g_mime_object_to_string(object, options);
    bytes += strlen(out);
    benchmark::DoNotOptimize(out);
    g_free(out);
    g_object_unref(message);
  }
  g_mime_format_options_free(options);
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_message"] = double(bytes) / double(state.iterations());
}
BENCHMARK(BM_Compose_Reference);

}  // namespace

BENCHMARK_MAIN();
