"""Tool schemas with ``$ref`` reach the model with their real shape, in evaluation and in training.

Every ``$ref`` in a tool's input schema is walked in the source schema, and the node at the same
place in (a) the Inspect ``ToolInfo`` the held-out agent hands to ``model.generate`` and (b) the
chat-template tools the GRPO trainer renders must carry the target's type, its property names and
its enum, never ``{}``. The shipped held-out tools file (26 servers of the default fleet) is checked
offline; the whole installed default fleet (its live tool lists) behind the ``full_fleet`` marker.
"""

import asyncio
import copy
import json
from pathlib import Path

import pytest
from inspect_ai.tool import ToolParam

from firefly_eval.agent_tools import inline_refs, tool_info
from firefly_eval.schema import ToolSpec
from firefly_eval.tasks.heldout.interface import ToolInterface

SHIPPED = Path(__file__).parents[3] / "firefly_eval" / "data" / "heldout" / "tools.jsonl"


def _has_ref(spec: ToolSpec) -> bool:
    return '"$ref"' in json.dumps(spec.input_schema)


def _resolve(root, ref):
    node = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _ref_sites(root, node, path=(), stack=()):
    """(path in the converted schema, ref, target, recursive?) for every $ref reachable from ``node``."""
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target = _resolve(root, ref)
        yield path, ref, target, ref in stack
        if ref in stack:
            return
        stack, node = (*stack, ref), {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    for name, sub in (node.get("properties") or {}).items():
        yield from _ref_sites(root, sub, (*path, "properties", name), stack)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from _ref_sites(root, node[key], (*path, key), stack)
    for key in ("anyOf", "oneOf"):
        for i, sub in enumerate(node.get(key) or []):
            yield from _ref_sites(root, sub, (*path, "anyOf", i), stack)


def _at(tree, path):
    for part in path:
        tree = tree[part]
    return tree


def _check(specs: list[ToolSpec]) -> int:
    """Assert every $ref site is typed in both renderings; return how many sites were checked."""
    iface = ToolInterface(tuple(specs), {"type": "object", "properties": {}})
    rendered = {
        "eval": [i.parameters.model_dump(exclude_none=True) for i in iface.infos()[:-1]],
        "training": [t["function"]["parameters"] for t in iface.chat_tools()[:-1]],
    }
    sites = 0
    for k, spec in enumerate(specs):
        for path, ref, target, recursive in _ref_sites(spec.input_schema, spec.input_schema):
            sites += 1
            where = f"{spec.server}/{spec.name} at {'.'.join(map(str, path))} ({ref})"
            for side, params in rendered.items():
                got = _at(params[k], path)
                assert got.get("type") or got.get("anyOf"), f"{side}: {where} is untyped: {got}"
                if target.get("type"):
                    assert got.get("type") == target["type"], f"{side}: {where}: {got.get('type')}"
                if recursive:
                    assert "recursive" in got.get("description", ""), f"{side}: {where}: {got}"
                    continue
                if target.get("properties"):
                    assert set(got.get("properties", {})) == set(target["properties"]), f"{side}: {where}"
                if target.get("enum"):
                    assert got.get("enum") == target["enum"], f"{side}: {where}"
    return sites


def test_inline_refs_defs_siblings_cycles_and_depth():
    schema = {
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/A", "description": "beside the ref: wins"},
            "old": {"$ref": "#/definitions/Old"},
            "tree": {"$ref": "#/$defs/Node"},
            "far": {"$ref": "https://example.com/schema.json", "description": "not local"},
            "$ref": {"type": "string", "description": "a property named $ref is data"},
        },
        "$defs": {"A": {"type": "object", "description": "an A", "properties": {"b": {"$ref": "#/$defs/B"}}},
                  "B": {"type": "string", "enum": ["x", "y"]},
                  "Node": {"type": "object", "properties": {"children": {"type": "array",
                                                                          "items": {"$ref": "#/$defs/Node"}}}}},
        "definitions": {"Old": {"type": "integer", "minimum": 1}},
    }
    before = copy.deepcopy(schema)
    out = inline_refs(schema)
    assert schema == before  # not modified
    assert "$defs" not in out and "definitions" not in out and '"$ref": "#' not in json.dumps(out)
    assert out["properties"]["a"] == {"type": "object", "description": "beside the ref: wins",
                                      "properties": {"b": {"type": "string", "enum": ["x", "y"]}}}
    assert out["properties"]["old"] == {"type": "integer", "minimum": 1}
    child = out["properties"]["tree"]["properties"]["children"]["items"]
    assert child["type"] == "object" and "recursive" in child["description"] and "Node" in child["description"]
    assert out["properties"]["far"] == {"description": "not local"}
    assert out["properties"]["$ref"] == {"type": "string", "description": "a property named $ref is data"}
    # a chain deeper than the bound ends in a typed stub
    chain = {"type": "object", "properties": {"x": {"$ref": "#/$defs/D0"}},
             "$defs": {f"D{i}": {"type": "object", "properties": {"x": {"$ref": f"#/$defs/D{i + 1}"}}}
                       for i in range(10)} | {"D10": {"type": "string"}}}
    node, depth = inline_refs(chain, max_depth=3)["properties"]["x"], 0
    while "properties" in node:
        node, depth = node["properties"]["x"], depth + 1
    assert depth == 3 and node["type"] == "object" and "too deep" in node["description"]


def test_const_oneof_allof_prefixitems_keep_their_meaning():
    spec = ToolSpec(server="s", name="t", input_schema={"type": "object", "properties": {
        "kind": {"const": "line"},
        "either": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        "wrapped": {"allOf": [{"$ref": "#/$defs/E"}], "description": "pydantic's ref-with-description"},
        "size": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}], "items": False},
    }, "$defs": {"E": {"type": "string", "enum": ["a", "b"]}}})
    p = tool_info(spec).parameters.model_dump(exclude_none=True)["properties"]
    assert p["kind"] == {"enum": ["line"]}
    assert p["either"] == {"anyOf": [{"type": "string"}, {"type": "number"}]}
    assert p["wrapped"] == {"type": "string", "enum": ["a", "b"], "description": "pydantic's ref-with-description"}
    assert p["size"] == {"type": "array", "items": {"type": "number"}}


def test_every_ref_parameter_of_the_shipped_tools_reaches_the_model_typed():
    specs = [ToolSpec.model_validate_json(line) for line in SHIPPED.read_text().splitlines() if line.strip()]
    with_refs = [s for s in specs if _has_ref(s)]
    # the shipped set (task version 1.2.0) offers 13 of the default fleet's 14 tools with $ref parameters
    # (the installed-fleet test below checks all 14)
    assert len(with_refs) >= 13, [f"{s.server}/{s.name}" for s in with_refs]
    # the check can fail: Inspect's ToolParam on the raw schema drops every $ref to {}
    raw = [ToolParam.model_validate(_at(s.input_schema, p[:-1])[p[-1]]).model_dump(exclude_none=True)
           for s in with_refs for p, *_ in _ref_sites(s.input_schema, s.input_schema) if len(p) == 2]
    assert raw and all(not (r.get("type") or r.get("properties")) for r in raw)
    assert _check(with_refs) >= 45


@pytest.mark.slow
@pytest.mark.full_fleet
def test_every_ref_parameter_of_the_installed_default_fleet_reaches_the_model_typed(tmp_path):
    from firefly_eval.mcp.config import firefly_home, load_fleet
    from firefly_eval.mcp.fleet import Fleet

    specs = load_fleet()
    missing = [s.name for s in specs if not (firefly_home() / "fleet" / s.name / ".firefly-installed").exists()]
    if missing:
        pytest.skip(f"default fleet not installed (`firefly fleet install`): {missing[:5]}")

    async def tools() -> list[ToolSpec]:
        fleet = Fleet(specs, sandbox_root=tmp_path / "sandbox")
        try:
            await fleet.start()
            return sorted(fleet.tools.values(), key=lambda t: t.key)
        finally:
            await fleet.close()

    live = asyncio.run(tools())
    with_refs = [s for s in live if _has_ref(s)]
    assert len(with_refs) >= 14, [f"{s.server}/{s.name}" for s in with_refs]
    assert _check(with_refs) >= 47
