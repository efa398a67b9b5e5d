"""Discovery: each server's own read-only listings and getters, called once before sampling.

Their values go into that server's value bank, so exploration uses ids, names and paths the server
itself holds instead of the seed world's. Getters whose required arguments the server's own data can
fill (an enum's "all", the server's own file of the kind, a table or id a listing returned) are called
too, after the listings.
"""

from __future__ import annotations

import re
from typing import Any

from firefly_eval.facts import UUID_PATTERN, parse_result, succeeded
from firefly_eval.generation.graph import param_concept
from firefly_eval.generation.values import deref, discovered_values
from firefly_eval.mcp.fleet import Fleet
from firefly_eval.mutation import is_mutating
from firefly_eval.sandbox import relocate_record
from firefly_eval.schema import ToolSpec, result_text

__all__ = ["discover", "discovery_args", "discovery_tools", "more_values"]


_READS = re.compile(r"(^|_)(list|get|read|show|describe|status|log|logs|info|view|tables|schema|summary|stats|"
                    r"tree|current|version|whoami|inspect|overview)(_|$)")
# servers on their own data (no curated cards) also: all_table_names, get_collection_count, peek_collection
_OWN_READS = re.compile(r"(^|_)(names|count|peek)(_|$)")
_ALL = ("all", "any", "*")
_UUID = re.compile(rf"\b{UUID_PATTERN}\b", re.IGNORECASE)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("-", "_")


def _reads(t: ToolSpec, own: bool = False) -> bool:
    """A listing or getter that changes nothing (by its name and annotations); ``own``: of a server on its
    own data (a few more names read as getters)."""
    name = _snake(t.name)
    ann = t.annotations or {}
    if ann.get("readOnlyHint") is False or ann.get("destructiveHint") is True:
        return False
    if not (_READS.search(name) or (own and _OWN_READS.search(name))):
        return False
    return ann.get("readOnlyHint") is True or not is_mutating(re.sub(r"(^|_)logs?(_|$)", "_", name), {})


def discovery_tools(fleet: Fleet, skip: set[tuple[str, str]], per_server: int = 8) -> dict[str, list[ToolSpec]]:
    """Per live server, its read-only tools that take no required argument and read as listings or getters."""
    out: dict[str, list[ToolSpec]] = {}
    world = getattr(fleet, "world_servers", None)
    for t in sorted(fleet.tools.values(), key=lambda t: t.key):
        own = world is not None and t.server not in world
        if t.key in skip or t.server in fleet.failed or t.input_schema.get("required") or not _reads(t, own):
            continue
        bucket = out.setdefault(t.server, [])
        if len(bucket) < per_server:
            bucket.append(t)
    return out


def _getters(fleet: Fleet, skip: set[tuple[str, str]], server: str, per_server: int = 6) -> list[ToolSpec]:
    """The server's read-only getters that have required arguments (tried with :func:`discovery_args`)."""
    return [t for t in sorted(fleet.tools.values(), key=lambda t: t.key)
            if t.server == server and t.key not in skip and t.input_schema.get("required") and _reads(t, True)
            ][:per_server]


def _own_value(param: str, schema: dict[str, Any], values: dict[str, list[Any]], files: list[str],
               context: str) -> Any:
    """A value of the server's own data for one required parameter; None when it has none."""
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return next((v for v in schema["enum"] if str(v).lower() in _ALL), schema["enum"][0])
    typ = schema.get("type")
    if typ == "array":
        inner = _own_value(param.rstrip("s") if param.endswith("s") else param,
                           schema.get("items") if isinstance(schema.get("items"), dict) else {}, values, files, context)
        found = _named(param.rstrip("s"), values) if inner is not None else []
        return found[:5] or ([inner] if inner is not None else None)
    if typ not in (None, "string"):
        return None
    concept = param_concept(param, schema)
    if concept == "path":
        ext = re.findall(r"\.(xlsx|xlsm|csv|docx|db|sqlite|md|txt|json|py|pdf)\b", f"{context} {param}", re.IGNORECASE)
        kinds = tuple(f".{e.lower()}" for e in ext)
        own = [f for f in files if not kinds or f.lower().endswith(kinds)]
        return own[0] if own else None
    found = _named(param, values)
    return found[0] if found else None


def _named(param: str, values: dict[str, list[Any]]) -> list[Any]:
    """Values discovered under the parameter's own name, its noun (``table_names`` -> table) or its concept."""
    low = _snake(param)
    noun = re.sub(r"_(name|names|id|ids)$", "", low)
    concept = param_concept(param, {})
    for key in (param, low, noun, concept):
        if key and values.get(key):
            return [v for v in values[key] if isinstance(v, (str, int)) and not isinstance(v, bool)]
    return []


def discovery_args(tool: ToolSpec, values: dict[str, list[Any]], files: list[str]) -> dict[str, Any] | None:
    """Arguments for a getter's required parameters from the server's own data (``values``: what its
    listings returned; ``files``: its own files); None when one of them cannot be filled."""
    root = tool.input_schema if isinstance(tool.input_schema, dict) else {}
    props = root.get("properties") or {}
    args: dict[str, Any] = {}
    for p in root.get("required") or []:
        schema = deref(props.get(p, {}), root) if isinstance(props.get(p), dict) else {}
        v = _own_value(p, schema, values, files, f"{tool.name} {tool.description or ''}")
        if v is None:
            return None
        args[p] = v
    return args


def _record_ids(key: str, v: Any, out: dict[str, list[Any]], depth: int = 0) -> None:
    """Ids of records under ``<noun>Id``/``<noun>_id`` (a record's ``id`` under its collection's noun) and
    fields already named like ids (``requestId``)."""
    if depth > 3:
        return
    if isinstance(v, list):
        for x in v[:30]:
            _record_ids(key, x, out, depth + 1)
        return
    if not isinstance(v, dict):
        return
    single = key[:-1] if key.endswith("s") else key
    for k, x in list(v.items())[:30]:
        scalar = isinstance(x, (str, int)) and not isinstance(x, bool)
        if scalar and k.lower() == "id" and single:
            out.setdefault(f"{single}Id", []).append(x)
            out.setdefault(f"{single}_id", []).append(x)
        elif scalar and re.search(r"[a-z]Id$|_id$", k):
            out.setdefault(k, []).append(x)
        elif isinstance(x, (dict, list)):
            _record_ids(k, x, out, depth + 1)


def more_values(tool: str, result: dict[str, Any]) -> dict[str, list[Any]]:
    """Values :func:`values.discovered_values` leaves out: a listing's single name ("garden_notes" from a
    list of one collection) under the tool's noun, ids of records under ``<noun>Id`` (``requestId`` from
    ``{"requests": [{"requestId": ...}]}``, ``taskId`` from ``{"task": {"id": ...}}``), and the uuids a
    listing's text shows under the noun's id."""
    out: dict[str, list[Any]] = {}
    words = _snake(tool).split("_")
    noun = next((w for w in reversed(words) if w not in ("tool", "all", "list", "get", "names", "read")), words[-1])
    one = noun[:-1] if noun.endswith("s") else noun
    text = result_text(result).strip()
    data = parse_result(result)
    if isinstance(data, str) and "\n" not in text and 0 < len(text) <= 80 and re.fullmatch(r"[\w.\- ]+", text):
        out[one] = [text]
        out["_listed"] = [text]
    _record_ids(one, data, out)
    uuids = list(dict.fromkeys(_UUID.findall(text)))
    if uuids and not isinstance(data, (dict, list)):
        out.setdefault(f"{one}Id", []).extend(uuids)
        out.setdefault(f"{one}_id", []).extend(uuids)
    return {k: list(dict.fromkeys(v))[:20] for k, v in out.items() if k}


async def _call(fleet: Fleet, server: str, t: ToolSpec, args: dict[str, Any], calls: list[dict[str, Any]],
                values: dict[str, list[Any]]) -> None:
    try:
        rec = await fleet.call(server, t.name, args)
    except Exception as exc:  # noqa: BLE001 - a crash is reported per server, generation goes on
        calls.append({"tool": t.name, "error": str(exc).splitlines()[0][:200]})
        return
    rec = relocate_record(rec, str(fleet.sandbox_root), fleet.canonical_root)
    calls.append(rec.model_dump(mode="json"))
    if succeeded(rec):
        found = discovered_values(t.name, rec.result)
        if server not in getattr(fleet, "world_servers", {server}):  # the seed world's servers: as before
            for concept, vals in more_values(t.name, rec.result).items():
                found[concept] = [*found.get(concept, []), *vals]
        for concept, vals in found.items():
            bucket = values.setdefault(concept, [])
            bucket.extend(v for v in vals if v not in bucket)


async def discover(fleet: Fleet, skip: set[tuple[str, str]], servers: set[str] | None = None) -> dict[str, Any]:
    """Call each server's listings/getters once (:func:`discovery_tools`), then its getters whose required
    arguments its own data fills (:func:`discovery_args`); server -> its calls (canonical) and the values
    they returned (concept -> values), for that server's value bank. ``servers``: only those (a local run
    discovers a server just before its first plan). The servers are then reset in the background (each
    plan awaits the resets of its own servers)."""
    out: dict[str, Any] = {}
    listings = discovery_tools(fleet, skip)
    own = getattr(fleet, "own", {})
    for server in sorted({t.server for t in fleet.tools.values()} - set(fleet.failed)):
        if servers is not None and server not in servers:
            continue
        on_own = server in own and server not in getattr(fleet, "world_servers", set())
        getters = _getters(fleet, skip, server) if on_own else []
        if not listings.get(server) and not getters:
            continue
        calls: list[dict[str, Any]] = []
        values: dict[str, list[Any]] = {}
        for t in listings.get(server, []):
            await _call(fleet, server, t, {}, calls, values)
        files = own[server].files() if server in own else []
        for t in getters:  # only servers on their own data: the seed world's servers have curated cards
            live = {k: fleet.to_live(v) if k != "_listed" else v for k, v in values.items()}
            args = discovery_args(t, live, files)
            if args is not None:
                await _call(fleet, server, t, args, calls, values)
        out[server] = {"calls": calls, "values": {k: v[:20] for k, v in values.items()}}
    await fleet.reset_episode(servers, only=servers is not None, wait=False)
    return out
