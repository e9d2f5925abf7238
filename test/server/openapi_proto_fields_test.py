#!/usr/bin/env python3
"""Every field of a herald.v1 message is in the OpenAPI schema that stands for
it: a schema whose description starts "herald.v1.Name" (a message of
include/herald/model/*.proto) and that refuses unknown properties must list each field of
that message under its lowerCamelCase JSON name. Otherwise a real answer
carrying a new field would break every client that validates against
docs/openapi.json.

Usage: openapi_proto_fields_test.py OPENAPI_JSON REPOSITORY_ROOT
"""
import glob
import json
import re
import sys

openapi_path, root = sys.argv[1:3]
with open(openapi_path) as f:
    schemas = json.load(f)["components"]["schemas"]

FIELD = re.compile(r"^\s*(?:repeated\s+|optional\s+)?(?:map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*\d+")


def message_fields(text, name):
    """The fields of `message name` (its oneofs' too, not nested messages')."""
    start = re.search(r"^message\s+" + re.escape(name) + r"\s*\{", text, re.M)
    if not start:
        return None
    depth, fields, stack = 1, [], ["message"]
    for line in text[start.end():].splitlines():
        code = line.split("//")[0]
        opened = re.match(r"^\s*(message|enum|oneof)\b", code)
        if stack[-1] in ("message", "oneof") and len(stack) <= 2 and (len(stack) == 1 or stack[-1] == "oneof"):
            m = FIELD.match(code)
            if m and not opened:
                fields.append(m.group(1))
        for ch in code:
            if ch == "{":
                stack.append(opened.group(1) if opened else "block")
                opened = None
            elif ch == "}":
                stack.pop()
        if not stack:
            return fields
    return fields


def camel(name):
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


problems, checked = [], 0
for schema_name, schema in schemas.items():
    m = re.match(r"herald\.v1\.(\w+)", schema.get("description", ""))
    if not m or schema.get("additionalProperties", True) is not False:
        continue
    message, fields, proto = m.group(1), None, None
    for proto in sorted(glob.glob(f"{root}/include/herald/model/*.proto")):
        with open(proto) as f:
            fields = message_fields(f.read(), message)
        if fields is not None:
            break
    if fields is None:
        problems.append(f"{schema_name}: no message {message} in include/herald/model/*.proto")
        continue
    checked += 1
    listed = set(schema.get("properties", {}))
    for field in fields:
        if camel(field) not in listed:
            problems.append(f"{schema_name}: field {field} of herald.v1.{message} ({proto}) is not among its "
                            f"properties (as {camel(field)})")
for p in problems:
    print(p)
print(f"{checked} schemas checked against their messages, {len(problems)} problems")
sys.exit(1 if problems or checked == 0 else 0)
