"""Tool definitions shown to models: real names/descriptions/schemas, sanitised exposed names."""

from __future__ import annotations

import re
from typing import Any

from inspect_ai.tool import ToolInfo, ToolParam, ToolParams

from firefly_eval.schema import ToolSpec

__all__ = ["SUBMIT", "exposed_name", "submit_info", "tool_info"]

SUBMIT = "submit"
_BAD = re.compile(r"[^A-Za-z0-9_-]+")


def exposed_name(server: str, tool: str) -> str:
    """``server__tool`` made safe for every provider (``^[A-Za-z0-9_-]{1,64}$``)."""
    name = _BAD.sub("_", f"{server}__{tool}")
    return name[:64]


def _param(schema: Any) -> ToolParam:
    if not isinstance(schema, dict):
        return ToolParam()
    try:
        return ToolParam.model_validate(schema)
    except Exception:  # noqa: BLE001 - exotic schemas: keep type + description only
        typ = schema.get("type") if isinstance(schema.get("type"), str) else None
        return ToolParam(type=typ, description=schema.get("description"))  # type: ignore[arg-type]


def _params(schema: dict[str, Any]) -> ToolParams:
    props = schema.get("properties", {}) if isinstance(schema.get("properties"), dict) else {}
    required = [r for r in schema.get("required", []) or [] if r in props]
    return ToolParams(properties={k: _param(v) for k, v in props.items()}, required=required)


def tool_info(spec: ToolSpec) -> ToolInfo:
    desc = spec.description.strip() or f"{spec.name} (server {spec.server})"
    return ToolInfo(name=exposed_name(spec.server, spec.name), description=desc[:1024],
                    parameters=_params(spec.input_schema))


def submit_info(answer_schema: dict[str, Any]) -> ToolInfo:
    return ToolInfo(name=SUBMIT, description="Submit your final answer. Call it once, with every field filled "
                    "from what the tools returned.", parameters=_params(answer_schema))
