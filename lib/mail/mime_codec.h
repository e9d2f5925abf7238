// Internal: the encoders behind MessageComposer (herald/mail.h).
//
// All functions append to `out` and never fail; they are pure and reentrant.
#ifndef HERALD_LIB_MAIL_MIME_CODEC_H_
#define HERALD_LIB_MAIL_MIME_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace herald::mail {

// Base64 (RFC 2045) in lines of 76 characters, each ending with CRLF
// (`line_breaks` false: one unbroken line, no CRLF).
void AppendBase64(std::string& out, std::string_view data, bool line_breaks = true);
// base64url without padding (RFC 4648 section 5).
void AppendBase64Url(std::string& out, std::string_view data);
// Decodes base64url without padding; false on a bad character.
bool DecodeBase64Url(std::string_view in, std::string& out);

// Quoted-printable (RFC 2045 6.7): any of CRLF, LF or CR in `text` is a hard
// line break (written CRLF); encoded lines are at most 76 characters (soft
// breaks "=" CRLF); '=', controls, bytes >= 0x7F, a space or tab before a
// line break, and a '.' or "From " starting a line are encoded. No final
// line break is added: the caller ends the body (see mime.cc).
void AppendQuotedPrintable(std::string& out, std::string_view text);

// True when `value` can go into a header as it is: printable ASCII and
// spaces, no "=?" (which would read as an encoded word).
bool IsPlainHeaderText(std::string_view value);

// Appends `value` as RFC 2047 "B" encoded words in UTF-8 ("=?utf-8?B?...?="),
// each at most 75 characters, split on UTF-8 character boundaries, separated
// by CRLF SP (folding). `column` is the length of the line so far and is
// updated.
void AppendEncodedWords(std::string& out, std::string_view value, size_t& column);

// Appends an unstructured header value (Subject): plain text folded at spaces
// to keep lines within 78 characters, or encoded words when it is not plain
// ASCII or cannot fold that way (a word longer than a line, runs of spaces).
// `column` as above.
void AppendUnstructured(std::string& out, std::string_view value, size_t& column);

// Appends a mailbox: `name` (may be empty) and `address`. The name goes out
// as atoms folded at their spaces, a quoted-string (when it fits the line),
// or encoded words (not ASCII, or too long): every line within 78
// characters except one holding an address longer than that.
void AppendMailbox(std::string& out, std::string_view name, std::string_view address,
                   size_t& column);

// Splits "Display Name <addr>" (or a bare address) into the display name,
// unquoted (quoted-pairs such as \" and \\ unescaped), and the address.
void SplitMailbox(std::string_view mailbox, std::string& name, std::string_view& address);

// RFC 2231 parameter: name*=utf-8''percent-encoded, or name="value" when the
// value is plain ASCII without quotes or backslashes.
void AppendMimeParameter(std::string& out, std::string_view name, std::string_view value);

// RFC 5322 date-time of `unix_seconds` in UTC: "Thu, 01 Jan 2026 10:00:00 +0000".
void AppendRfc5322Date(std::string& out, int64_t unix_seconds);

// HTML-escapes & < > " ' into `out`.
void AppendHtmlEscaped(std::string& out, std::string_view text);

// Percent-encodes everything except unreserved characters (RFC 3986).
void AppendUrlEncoded(std::string& out, std::string_view text);

}  // namespace herald::mail

#endif  // HERALD_LIB_MAIL_MIME_CODEC_H_
