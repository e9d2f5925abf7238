#!/usr/bin/env python3
"""docs/api.md, the API reference of `herald serve`, generated from the
OpenAPI document docs/openapi.json (standard library only).

Usage:
  openapi_reference.py OPENAPI_JSON API_MD            rewrite API_MD
  openapi_reference.py --check OPENAPI_JSON API_MD    exit 1 when API_MD is stale

The document is the one source: endpoints with their parameters, request
and answer schemas and every error status come from it, so the page cannot
drift from what the server serves at /v1/openapi.json.
"""
import json
import sys

METHOD_ORDER = ["get", "post", "put", "patch", "delete"]


def anchor(name):
    return "schema-" + name.lower()


def type_of(schema):
    """A short Markdown rendering of a schema's type."""
    if not schema:
        return "any"
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{anchor(name)})"
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        text = " or ".join(type_of(dict(schema, type=k)) for k in kinds)
        return text + (" or null" if "null" in kind else "")
    if kind == "array":
        return "array of " + type_of(schema.get("items", {}))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict) and not schema.get("properties"):
        return "object of " + type_of(schema["additionalProperties"])
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return kind or "any"


def constraints(schema):
    parts = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"]))
    if "minimum" in schema or "maximum" in schema:
        parts.append(f"{schema.get('minimum', '')}..{schema.get('maximum', '')}")
    for key, word in (("maxLength", "at most {} characters"), ("minLength", "at least {} characters")):
        if key in schema:
            parts.append(word.format(schema[key]))
    items = schema.get("items", {})
    if "maxLength" in items:
        parts.append(f"each at most {items['maxLength']} characters")
    return parts


def cell(text):
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;")  # hk_<id>_<secret> is text, not a tag


def describe(schema):
    parts = [schema.get("description", "")] + constraints(schema)
    return cell("; ".join(p for p in parts if p))


def body_schema(content):
    if not content:
        return ""
    media, value = next(iter(content.items()))
    return f"`{media}` {type_of(value.get('schema', {}))}"


def needs_key(document, operation):
    security = operation.get("security", document.get("security", []))
    return bool(security) and all(requirement for requirement in security)


def key_optional(document, operation):
    security = operation.get("security", document.get("security", []))
    return any(requirement for requirement in security)


def auth_text(document, operation):
    if not key_optional(document, operation):
        return "none"
    if needs_key(document, operation):
        return "API key"
    return "API key when the server requires keys"


def operations(document):
    for path, item in document["paths"].items():
        for method in sorted(item, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 99):
            yield path, method, item[method]


def render_operation(document, path, method, op, out):
    out.append(f"### `{method.upper()} {path}`")
    out.append("")
    out.append(f"{op.get('summary', '')} (operationId `{op.get('operationId', '')}`; authentication: "
               f"{auth_text(document, op)})")
    out.append("")
    if op.get("parameters"):
        out.append("| parameter | in | required | type | description |")
        out.append("|---|---|---|---|---|")
        for p in op["parameters"]:
            schema = p.get("schema", {})
            text = "; ".join(x for x in [p.get("description", "")] + constraints(schema) if x)
            out.append(f"| `{p['name']}` | {p['in']} | {'yes' if p.get('required') else 'no'} | "
                       f"{type_of(schema)} | {cell(text)} |")
        out.append("")
    if "requestBody" in op:
        body = op["requestBody"]
        out.append(f"Request body{' (required)' if body.get('required') else ''}: {body_schema(body.get('content'))}")
        out.append("")
    out.append("| status | when | body |")
    out.append("|---|---|---|")
    for status in sorted(op.get("responses", {})):
        response = op["responses"][status]
        out.append(f"| {status} | {cell(response.get('description', ''))} | {body_schema(response.get('content'))} |")
    out.append("")


def render_schema(name, schema, out):
    out.append(f'<a id="{anchor(name)}"></a>')
    out.append(f"### {name}")
    out.append("")
    if schema.get("description"):
        out.append(cell(schema["description"]))
        out.append("")
    properties = schema.get("properties")
    if not properties:
        out.append(f"Type: {type_of(schema)}.")
        if constraints(schema):
            out.append(f"({'; '.join(constraints(schema))})")
        out.append("")
        return
    required = set(schema.get("required", []))
    out.append("| field | type | required | description |")
    out.append("|---|---|---|---|")
    for field, value in properties.items():
        out.append(f"| `{field}` | {type_of(value)} | {'yes' if field in required else 'no'} | {describe(value)} |")
    out.append("")
    if schema.get("additionalProperties") is False:
        out.append("Unknown fields are refused (400, `field` names them).")
        out.append("")


def render(document):
    info = document["info"]
    out = [f"# {info['title']} {info['version']}: API reference", "",
           "<!-- Generated from docs/openapi.json by scripts/openapi_reference.py: do not edit; run",
           "     `cmake --build build --target api_reference_update` after changing the document. -->", "",
           cell(info.get("description", "")), "",
           "Server: " + ", ".join(f"`{s['url']}`" for s in document.get("servers", [])) +
           ". Guide: [server.md](server.md). The document itself: [openapi.json](openapi.json), also served "
           "at `GET /v1/openapi.json`.", ""]
    schemes = document.get("components", {}).get("securitySchemes", {})
    if schemes:
        out += ["## Authentication", ""]
        for name, scheme in schemes.items():
            out.append(f"- `{name}` ({scheme.get('type')}, {scheme.get('scheme', '')}): "
                       f"{cell(scheme.get('description', ''))}")
        out.append("")
    out += ["## Endpoints", "", "| method | path | what | authentication |", "|---|---|---|---|"]
    for path, method, op in operations(document):
        out.append(f"| {method.upper()} | `{path}` | {cell(op.get('summary', ''))} | {auth_text(document, op)} |")
    out.append("")
    for path, method, op in operations(document):
        render_operation(document, path, method, op, out)
    out += ["## Schemas", ""]
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        render_schema(name, schema, out)
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv):
    check = argv[1:2] == ["--check"]
    args = argv[2:] if check else argv[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    source, target = args
    with open(source) as f:
        text = render(json.load(f))
    if check:
        try:
            with open(target) as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print(f"{target} is stale: it does not match {source}; run "
                  "`cmake --build build --target api_reference_update` (scripts/openapi_reference.py)",
                  file=sys.stderr)
            return 1
        return 0
    with open(target, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
