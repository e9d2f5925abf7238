#!/usr/bin/env python3
"""docs/api.md, the API reference of `herald serve`, generated from the
OpenAPI document docs/openapi.json (standard library only).

Usage:
  openapi_reference.py OPENAPI_JSON API_MD            rewrite API_MD
  openapi_reference.py --check OPENAPI_JSON API_MD    exit 1 when API_MD is stale

The document is the one source: endpoints with their parameters, request
and answer schemas and every error status come from it, so the page cannot
drift from what the server serves at /v1/openapi.json. Operations without a
tag are the decision API's; each tag (the Business Desk's admin API) gets its
own section, with its paths' own servers (path-level `servers`) and
security schemes of any kind (bearer, cookie, header).
"""
import json
import sys

METHOD_ORDER = ["get", "post", "put", "patch", "delete"]


def anchor(name):
    return "schema-" + name.lower()


def type_of(schema):
    """A short Markdown rendering of a schema's type."""
    if not isinstance(schema, dict) or not schema:
        return "any"
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{anchor(name)})"
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        text = " or ".join(type_of(dict(schema, type=k)) for k in kinds)
        return text + (" or null" if "null" in kind else "")
    if kind == "array" and "prefixItems" in schema:
        return "array [" + ", ".join(type_of(item) for item in schema["prefixItems"]) + "]"
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


def security_of(document, operation):
    return operation.get("security", document.get("security", []))


def scheme_label(document, name):
    scheme = document.get("components", {}).get("securitySchemes", {}).get(name, {})
    if scheme.get("type") == "http" and scheme.get("scheme") == "bearer":
        return "API key"
    if scheme.get("type") == "apiKey":
        where = {"cookie": "cookie", "header": "header", "query": "query parameter"}[scheme["in"]]
        return f"`{scheme['name']}` {where}"
    return f"`{name}`"


def auth_text(document, operation):
    """'none', 'API key', 'API key when the server requires keys', or the
    schemes each requirement combines ('`herald_desk` cookie and ...')."""
    security = security_of(document, operation)
    requirements = [r for r in security if r]
    if not requirements:
        return "none"
    text = " or ".join(" and ".join(scheme_label(document, name) for name in r) for r in requirements)
    if len(requirements) < len(security):  # an empty requirement: none needed
        return text + " when the server requires keys"
    return text


def scheme_text(name, scheme):
    if scheme.get("type") == "apiKey":
        kind = f"apiKey in {scheme.get('in')} `{scheme.get('name')}`"
    else:
        kind = f"{scheme.get('type')}, {scheme.get('scheme', '')}"
    return f"- `{name}` ({kind}): {cell(scheme.get('description', ''))}"


def resolve(document, value):
    """A `$ref` to #/components/... replaced by what it names."""
    while isinstance(value, dict) and "$ref" in value and value["$ref"].startswith("#/components/"):
        section, name = value["$ref"][len("#/components/"):].split("/", 1)
        value = document["components"][section][name]
    return value


def operations(document, tag=None):
    """The operations of `tag` (None: those without a tag), in document order."""
    for path, item in document["paths"].items():
        methods = [m for m in item if m in METHOD_ORDER]
        for method in sorted(methods, key=METHOD_ORDER.index):
            op = item[method]
            if (op.get("tags") or [None])[0] == tag:
                yield path, method, op


def servers_text(servers):
    return ", ".join(f"`{s['url']}`" + (f" ({cell(s['description'])})" if s.get("description") else "")
                     for s in servers)


def response_headers(response):
    headers = response.get("headers", {})
    return "".join(f" Header `{name}`: {cell(h['description'])}." for name, h in headers.items()
                   if h.get("description"))


def render_operation(document, path, method, op, out, servers=None):
    out.append(f"### `{method.upper()} {path}`")
    out.append("")
    out.append(f"{op.get('summary', '')} (operationId `{op.get('operationId', '')}`; authentication: "
               f"{auth_text(document, op)})")
    out.append("")
    if op.get("description"):
        out += [cell(op["description"]), ""]
    if servers:
        out += ["Server: " + servers_text(servers) + ".", ""]
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
        note = f" ({cell(body['description'])})" if body.get("description") else ""
        out.append(f"Request body{' (required)' if body.get('required') else ''}: {body_schema(body.get('content'))}"
                   f"{note}")
        out.append("")
    out.append("| status | when | body |")
    out.append("|---|---|---|")
    for status in sorted(op.get("responses", {})):
        response = resolve(document, op["responses"][status])
        when = cell(response.get("description", "")) + response_headers(response)
        out.append(f"| {status} | {when} | {body_schema(response.get('content'))} |")
    out.append("")


def request_schemas(document):
    """The names of the schemas a request body uses, directly or within."""
    names, todo = set(), []
    for path, item in document["paths"].items():
        for method in METHOD_ORDER:
            body = item.get(method, {}).get("requestBody", {})
            todo += [v.get("schema", {}) for v in body.get("content", {}).values()]
    while todo:
        value = todo.pop()
        if isinstance(value, dict):
            target = value.get("$ref", "")
            if target.startswith("#/components/schemas/") and target.rsplit("/", 1)[-1] not in names:
                names.add(target.rsplit("/", 1)[-1])
                todo.append(document["components"]["schemas"][target.rsplit("/", 1)[-1]])
            todo += value.values()
        elif isinstance(value, list):
            todo += value
    return names


def fields(schema, prefix=""):
    """(name, schema, required) of each property, then those of an inline
    object within it as `name.field` (`name[].field` in an array's items)."""
    required = set(schema.get("required", []))
    for field, value in schema.get("properties", {}).items():
        yield prefix + field, value, field in required
        if not isinstance(value, dict):
            continue
        if value.get("properties"):
            yield from fields(value, f"{prefix}{field}.")
        elif isinstance(value.get("items"), dict) and value["items"].get("properties"):
            yield from fields(value["items"], f"{prefix}{field}[].")


def render_schema(name, schema, out, in_requests=True):
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
    out.append("| field | type | required | description |")
    out.append("|---|---|---|---|")
    for field, value, required in fields(schema):
        out.append(f"| `{field}` | {type_of(value)} | {'yes' if required else 'no'} | {describe(value)} |")
    out.append("")
    if schema.get("additionalProperties") is False:
        out.append("Unknown fields are refused (400, `field` names them)." if in_requests
                   else "The server sends no other fields.")
        out.append("")


def render_section(document, tag, out):
    """The endpoint table of `tag`'s operations (None: the untagged ones), then each operation."""
    ops = list(operations(document, tag))
    common = None
    if tag is not None:
        path_servers = [document["paths"][path].get("servers") for path, _, _ in ops]
        if path_servers and all(s == path_servers[0] for s in path_servers) and path_servers[0]:
            common = path_servers[0]
            out += ["Server: " + servers_text(common) + ".", ""]
    out += ["| method | path | what | authentication |", "|---|---|---|---|"]
    for path, method, op in ops:
        out.append(f"| {method.upper()} | `{path}` | {cell(op.get('summary', ''))} | {auth_text(document, op)} |")
    out.append("")
    for path, method, op in ops:
        servers = document["paths"][path].get("servers")
        render_operation(document, path, method, op, out, servers if servers and servers != common else None)


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
            out.append(scheme_text(name, scheme))
        out.append("")
    out += ["## Endpoints", ""]
    render_section(document, None, out)
    for tag in document.get("tags", []):
        out += [f"## {tag['name']} API", ""]
        if tag.get("description"):
            out += [cell(tag["description"]), ""]
        render_section(document, tag["name"], out)
    out += ["## Schemas", ""]
    in_requests = request_schemas(document)
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        render_schema(name, schema, out, name in in_requests)
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
