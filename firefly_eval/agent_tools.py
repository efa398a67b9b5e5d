"""Tool definitions shown to models: real names/descriptions/schemas, sanitised exposed names.

Evaluation (``tasks/heldout/interface.py``), training (the same interface's ``chat_tools``) and the LLM
explorer all build their tool definitions with :func:`tool_info`. A tool's input schema is first made
self-contained by :func:`inline_refs` (local ``$ref`` to ``$defs``/``definitions`` replaced by what they
point at), then mapped onto Inspect's ``ToolParam`` by :func:`model_schema`, which keeps the keywords
Inspect's model drops silently by rewriting them (``const`` -> ``enum``, ``oneOf`` -> ``anyOf``, a
one-element ``allOf`` merged, ``prefixItems`` -> ``items``).
"""

from __future__ import annotations

import re
from typing import Any

from inspect_ai.tool import ToolInfo, ToolParam, ToolParams

from firefly_eval.schema import ToolSpec

__all__ = ["MAX_REF_DEPTH", "SUBMIT", "exposed_name", "inline_refs", "model_schema", "submit_info", "tool_info"]

SUBMIT = "submit"
MAX_REF_DEPTH = 6  # nested $ref expansions along one path; deeper (or recursive) ones become a typed stub
_BAD = re.compile(r"[^A-Za-z0-9_-]+")
_DEFS = ("$defs", "definitions")
_NAMED = ("properties", "patternProperties", "dependentSchemas")
_DATA = ("enum", "const", "default", "examples", "required")


def exposed_name(server: str, tool: str) -> str:
    """``server__tool`` made safe for every provider (``^[A-Za-z0-9_-]{1,64}$``)."""
    name = _BAD.sub("_", f"{server}__{tool}")
    return name[:64]


def _pointer(root: dict[str, Any], ref: str) -> Any:
    """The schema a local ``#/...`` JSON pointer names in ``root``, or None."""
    node: Any = root
    for part in ref[2:].split("/") if ref.startswith("#/") else ([] if ref == "#" else [None]):
        if part is None:
            return None
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _stub(target: dict[str, Any], ref: str, why: str) -> dict[str, Any]:
    """A recursive or too-deep reference: the target's type and description, and which shape it repeats."""
    name = ref.rsplit("/", 1)[-1]
    desc = str(target.get("description") or "").strip()
    out: dict[str, Any] = {"type": target.get("type") or "object",
                           "description": f"{desc + ' ' if desc else ''}({why}: same shape as {name})"}
    if target.get("enum"):
        out["enum"] = target["enum"]
    return out


def inline_refs(schema: dict[str, Any], max_depth: int = MAX_REF_DEPTH) -> dict[str, Any]:
    """``schema`` with every local ``$ref`` replaced by the schema it points at (``#/$defs/X``,
    ``#/definitions/X`` or any ``#/...`` pointer into the schema), ``$defs``/``definitions`` removed.

    Keywords beside a ``$ref`` (a ``description``, a ``default``) are kept and win over the target's.
    Cycle-safe and bounded: a reference already being expanded on the same path (a recursive type) or
    one nested deeper than ``max_depth`` becomes a stub with the target's type and description that
    names the shape it repeats. A reference that is not local (``http://...``) or does not resolve is
    dropped, its sibling keywords kept. The input is not modified.
    """
    if not isinstance(schema, dict):
        return schema

    def walk(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(x, stack) for x in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        siblings = {k: v for k, v in node.items() if k != "$ref" and k not in _DEFS}
        if isinstance(ref, str):
            target = _pointer(schema, ref)
            if not isinstance(target, dict):
                return walk(siblings, stack)
            if ref in stack or len(stack) >= max_depth:
                return {**_stub(target, ref, "recursive" if ref in stack else "nested too deep"),
                        **{k: walk(v, stack) for k, v in siblings.items()}}
            resolved = walk({k: v for k, v in target.items() if k not in _DEFS}, (*stack, ref))
            return {**resolved, **{k: walk(v, stack) for k, v in siblings.items()}}
        out: dict[str, Any] = {}
        for k, v in siblings.items():
            if k in _NAMED and isinstance(v, dict):  # name -> schema: the names are not schemas
                out[k] = {name: walk(sub, stack) for name, sub in v.items()}
            else:  # enum/const/default/examples values are data, left as they are
                out[k] = v if k in _DATA else walk(v, stack)
        return out

    return walk(schema, ())


def _flatten(s: dict[str, Any]) -> dict[str, Any]:
    """Merge an ``allOf`` of schemas (the node's own keywords win); ``const``/``oneOf``/``prefixItems`` renamed."""
    all_of = s.pop("allOf", None)
    if isinstance(all_of, list) and all_of and all(isinstance(x, dict) for x in all_of):
        merged: dict[str, Any] = {}
        for part in all_of:
            merged.update(part)
        s = {**merged, **s}
    if "const" in s and "enum" not in s:
        s["enum"] = [s.pop("const")]
    if "oneOf" in s and "anyOf" not in s:
        s["anyOf"] = s.pop("oneOf")
    prefix = s.pop("prefixItems", None)
    if not isinstance(s.get("items"), dict):
        s.pop("items", None)  # boolean items: nothing for the model
        if isinstance(prefix, list) and prefix:
            uniq = [p for i, p in enumerate(prefix) if p not in prefix[:i]]
            s["items"] = uniq[0] if len(uniq) == 1 else {"anyOf": uniq}
    return s


def model_schema(schema: Any) -> Any:
    """A JSON schema rewritten into what Inspect's ``JSONSchema`` model keeps: ``const`` as a one-value
    ``enum``, ``oneOf`` as ``anyOf``, an ``allOf`` of schemas merged, ``prefixItems`` as ``items`` (one
    schema, or ``anyOf`` of them), boolean ``items`` dropped; other keywords the model does not know
    are dropped by it as before."""
    if not isinstance(schema, dict):
        return schema
    s = _flatten(dict(schema))
    for key in ("items", "additionalProperties"):
        if isinstance(s.get(key), dict):
            s[key] = model_schema(s[key])
    if isinstance(s.get("properties"), dict):
        s["properties"] = {k: model_schema(v) for k, v in s["properties"].items()}
    if isinstance(s.get("anyOf"), list):
        s["anyOf"] = [model_schema(v) for v in s["anyOf"] if isinstance(v, dict)]
    return s


def _param(schema: Any) -> ToolParam:
    if not isinstance(schema, dict):
        return ToolParam()
    schema = model_schema(schema)
    try:
        return ToolParam.model_validate(schema)
    except Exception:  # noqa: BLE001 - exotic schemas: keep type + description only
        typ = schema.get("type") if isinstance(schema.get("type"), str) else None
        return ToolParam(type=typ, description=schema.get("description"))  # type: ignore[arg-type]


def _params(schema: dict[str, Any]) -> ToolParams:
    schema = inline_refs(schema)
    props = schema.get("properties", {}) if isinstance(schema.get("properties"), dict) else {}
    required = [r for r in schema.get("required", []) or [] if r in props]
    return ToolParams(properties={k: _param(v) for k, v in props.items()}, required=required)


def tool_info(spec: ToolSpec) -> ToolInfo:
    """The Inspect definition of a real tool: exposed name, description, input schema with refs inlined."""
    desc = spec.description.strip() or f"{spec.name} (server {spec.server})"
    return ToolInfo(name=exposed_name(spec.server, spec.name), description=desc[:1024],
                    parameters=_params(spec.input_schema))


def submit_info(answer_schema: dict[str, Any]) -> ToolInfo:
    """The ``submit`` tool, its parameters the task's answer schema."""
    return ToolInfo(name=SUBMIT, description="Submit your final answer. Call it once, with every field filled "
                    "from what the tools returned.", parameters=_params(answer_schema))
