"""A small JSON Schema validator for the subset sim/schemas/*.json use.

Supported keywords: type (a name or a list; "integer" excludes bool and
non-integral numbers, "number" excludes bool), enum, properties, required,
additionalProperties (false only), items, minItems, maxItems, minimum,
maximum, pattern, oneOf, and $ref to "#/$defs/<name>". An unsupported
keyword is an error, so a schema cannot silently check less than it says.
"""

from __future__ import annotations

import re

_TYPES = {
    "object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool), "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
}
_KNOWN = {"type", "enum", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "minimum",
          "maximum", "pattern", "oneOf", "$ref", "$schema", "$id", "$defs", "title", "description"}


def errors(value, schema: dict, root: dict | None = None, where: str = "$") -> list[str]:
    """Every violation of ``schema`` by ``value``, as ``path: problem`` lines (empty: valid)."""
    root = root or schema
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"{where}: unsupported schema keywords {sorted(unknown)}")
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return errors(value, root["$defs"][name], root, where)
    out: list[str] = []
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[k](value) for k in kinds):
            return [f"{where}: expected {' or '.join(kinds)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} not in {schema['enum']}")
    if "oneOf" in schema:
        ok = sum(not errors(value, s, root, where) for s in schema["oneOf"])
        if ok != 1:
            out.append(f"{where}: matches {ok} of oneOf's schemas, not exactly one")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out += [f"{where}: missing {k!r}" for k in schema.get("required", []) if k not in value]
        if schema.get("additionalProperties") is False:
            out += [f"{where}: unexpected {k!r}" for k in value if k not in props]
        for k, v in value.items():
            if k in props:
                out += errors(v, props[k], root, f"{where}.{k}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            out.append(f"{where}: {len(value)} items, outside [{schema.get('minItems')}, {schema.get('maxItems')}]")
        if "items" in schema:
            for i, v in enumerate(value):
                out += errors(v, schema["items"], root, f"{where}[{i}]")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"] or "maximum" in schema and value > schema["maximum"]:
            out.append(f"{where}: {value} outside [{schema.get('minimum')}, {schema.get('maximum')}]")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        out.append(f"{where}: {value!r} does not match {schema['pattern']}")
    return out
