#!/usr/bin/env python3
"""Parses RFC 5322 messages with Python's email package (an independent
parser) and prints, per message file given, a JSON object:
  {"headers": {name: [decoded values]}, "defects": [...],
   "addresses": {"from" | "to" | "reply-to" | "cc": [[display name, addr-spec]]}
     (see mailboxes() for which decoder),
   "parts": [{"content_type", "charset", "filename", "content_id",
              "disposition", "text" | "base64"}],
   "max_line": longest line in octets, "max_folded_line": the same without
   List-Unsubscribe, "bare_lf": lines not ending in CRLF}
Decoded text parts are returned with CRLF line ends turned into LF.
Used by test/mail/mime_test.cc."""
import base64
import email
import email.header
import email.policy
import email.utils
import json
import sys


def mailboxes(raw_values):
    """[display name, addr-spec] of address header values, display names
    decoded with the package's RFC 2047 decoder (email.header). Not
    policy.default's address parser: up to CPython 3.13 it keeps the white
    space between adjacent encoded words of a display name, against RFC 2047
    section 6.2 (python/cpython#128110), and splits long names wrongly."""
    out = []
    for name, addr in email.utils.getaddresses(raw_values):
        out.append([str(email.header.make_header(email.header.decode_header(name))), addr])
    return out


def describe(path):
    raw = open(path, "rb").read()
    lines = raw.split(b"\r\n")
    bare_lf = sum(1 for l in lines if b"\n" in l or b"\r" in l)
    max_line = max(len(l) for l in lines)
    # Lines other than List-Unsubscribe's (its URIs cannot be folded inside).
    folded, in_unsub = 0, False
    for l in lines:
        if l.lower().startswith(b"list-unsubscribe:"):
            in_unsub = True
        elif not l[:1] in (b" ", b"\t"):
            in_unsub = False
        if not in_unsub:
            folded = max(folded, len(l))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    raw_msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    headers = {}
    addresses = {}
    for name, value in msg.items():
        headers.setdefault(name.lower(), []).append(str(value))
        if name.lower() in ("from", "to", "reply-to", "cc"):
            addresses.setdefault(name.lower(), []).extend(mailboxes(raw_msg.get_all(name)))
    defects = [type(d).__name__ for d in msg.defects]
    parts = []
    for part in msg.walk():
        defects += [type(d).__name__ for d in part.defects]
        if part.is_multipart():
            parts.append({"content_type": part.get_content_type(),
                          "boundary": part.get_boundary()})
            continue
        entry = {"content_type": part.get_content_type(),
                 "charset": part.get_content_charset(),
                 "filename": part.get_filename(),
                 "content_id": part.get("Content-ID"),
                 "disposition": part.get_content_disposition(),
                 "cte": part.get("Content-Transfer-Encoding")}
        content = part.get_content()
        if isinstance(content, str):
            entry["text"] = content.replace("\r\n", "\n")
        else:
            entry["base64"] = base64.b64encode(content).decode()
        parts.append(entry)
    return {"headers": headers, "addresses": addresses, "defects": defects, "parts": parts,
            "max_line": max_line, "max_folded_line": folded, "bare_lf": bare_lf}


print(json.dumps([describe(p) for p in sys.argv[1:]]))
