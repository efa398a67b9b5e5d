"""Fleet configuration: the standard ``{"mcpServers": {...}}`` format plus firefly metadata.

Each entry is what Claude Desktop / Cursor / VS Code accept (``command``, ``args``, ``env``).
firefly adds an optional ``"firefly"`` object per server with the package pin, its extra
constraints, licence and behaviour flags. Placeholders:

* ``${SANDBOX}``: the per-run sandbox directory (fresh copy of the seed world);
* ``${VAR}``: any other variable, taken from the environment when the server is *launched*.
  Expanded values are secrets: they never appear in logs, errors or saved files.
"""

from __future__ import annotations

import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from firefly_eval.schema import ServerSpec

__all__ = [
    "FleetConfigError",
    "default_fleet_path",
    "expand",
    "firefly_home",
    "load_fleet",
    "redact",
    "test_fleet_path",
]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENTRY_KEYS = {"command", "args", "env", "firefly", "type", "cwd", "description", "disabled"}


class FleetConfigError(ValueError):
    """A fleet file is malformed; the message names the file and the field."""


def firefly_home() -> Path:
    """Project-local state folder (fleet installs, caches): ``$FIREFLY_HOME`` or ``./.firefly``."""
    return Path(os.environ.get("FIREFLY_HOME", ".firefly")).resolve()


def default_fleet_path() -> Path:
    """The shipped default offline fleet."""
    return Path(str(resources.files("firefly_eval") / "fleets" / "default.json"))


def test_fleet_path() -> Path:
    """A handful of quick servers used by the fast test suite."""
    return Path(str(resources.files("firefly_eval") / "fleets" / "test.json"))


def load_fleet(path: str | Path | None = None) -> list[ServerSpec]:
    """Read a fleet file into ServerSpecs, rejecting malformed input with a precise error."""
    path = Path(path) if path else default_fleet_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FleetConfigError(f"{path}: cannot read fleet file ({exc.strerror})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FleetConfigError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("mcpServers"), dict):
        raise FleetConfigError(f"{path}: expected an object with an 'mcpServers' object")
    specs: list[ServerSpec] = []
    for name, entry in data["mcpServers"].items():
        where = f"{path}: mcpServers.{name}"
        if not isinstance(entry, dict):
            raise FleetConfigError(f"{where}: expected an object, got {type(entry).__name__}")
        unknown = set(entry) - _ENTRY_KEYS
        if unknown:
            raise FleetConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
        if entry.get("disabled"):
            continue
        if entry.get("type", "stdio") != "stdio":
            raise FleetConfigError(f"{where}.type: only 'stdio' servers are supported, got {entry['type']!r}")
        if not isinstance(entry.get("command"), str) or not entry["command"]:
            raise FleetConfigError(f"{where}.command: required non-empty string")
        fields: dict[str, Any] = {
            "name": name,
            "command": entry["command"],
            "args": entry.get("args", []),
            "env": entry.get("env", {}),
        }
        meta = entry.get("firefly", {})
        if not isinstance(meta, dict):
            raise FleetConfigError(f"{where}.firefly: expected an object")
        fields.update(meta)
        try:
            specs.append(ServerSpec.model_validate(fields))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise FleetConfigError(f"{where}.{loc}: {err['msg']}") from None
    return specs


def expand(value: str, variables: dict[str, str]) -> str:
    """Expand ``${VAR}`` from ``variables`` then the environment; unknown variables are an error."""

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key in variables:
            return variables[key]
        if key in os.environ:
            return os.environ[key]
        raise FleetConfigError(f"variable ${{{key}}} is not set")

    return _VAR.sub(sub, value)


def redact(text: str, secrets: list[str]) -> str:
    """Replace every secret value (len >= 4) in ``text`` by ``***``."""
    for s in sorted(secrets, key=len, reverse=True):
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return text
