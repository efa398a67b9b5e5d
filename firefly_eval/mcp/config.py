"""Fleet configuration: the standard ``{"mcpServers": {...}}`` format plus firefly metadata.

Each entry is what Claude Desktop / Cursor / VS Code accept (``command``, ``args``, ``env``).
firefly adds an optional ``"firefly"`` object per server with the package pin, its extra
constraints, licence and behaviour flags. Placeholders:

* ``${SANDBOX}``: the per-run sandbox directory (fresh copy of the seed world);
* ``${VAR}``: any other variable, taken from the environment when the server is *launched*.
  Expanded values are secrets: they never appear in logs, errors or saved files.

Secrets are the values of ``${VAR}`` references (in ``env`` and ``args``), the values of env
entries listed in ``firefly.secret_env`` and of env entries whose name says secret (``*TOKEN*``,
``*SECRET*``, ``*PASSWORD*``, ``*API_KEY*``, ...). :func:`redact` replaces each by
``«redacted:NAME»`` (the variable or env entry name) wherever a server's output is kept.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from firefly_eval.schema import ServerSpec

__all__ = [
    "FleetConfigError",
    "HostCodeRefused",
    "default_fleet_path",
    "expand",
    "firefly_home",
    "load_fleet",
    "redact",
    "redact_value",
    "referenced_variables",
    "refuse_host_code",
    "secret_values",
    "test_fleet_path",
]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENTRY_KEYS = {"command", "args", "env", "firefly", "type", "cwd", "description", "disabled"}
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH", re.I)
_MIN_SECRET = 4  # shorter values ("1", "on") would redact ordinary text
_FIREFLY_VARS = {"SANDBOX"}


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
        if "cwd" in entry:
            fields["cwd"] = _check_cwd(entry["cwd"], path, where)
        meta = entry.get("firefly", {})
        if not isinstance(meta, dict):
            raise FleetConfigError(f"{where}.firefly: expected an object")
        if "cwd" in meta:
            raise FleetConfigError(f"{where}.firefly.cwd: set `cwd` on the entry itself (the standard key)")
        fields.update({k: v for k, v in _pinned_package(entry["command"], fields["args"]).items() if k not in meta}
                      if "package" not in meta else {})
        fields.update(meta)
        try:
            specs.append(ServerSpec.model_validate(fields))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise FleetConfigError(f"{where}.{loc}: {err['msg']}") from None
    return specs


def _pinned_package(command: str, args: Any) -> dict[str, Any]:
    """Registry, package, version (and ``uvx --with`` constraints) read from a pinned launcher command:
    ``npx -y PKG@V ...`` or ``uvx [--with C]... --from PKG==V BIN ...``, so a plain ``mcpServers`` entry
    installs with ``firefly fleet install`` without a ``firefly`` object. Unpinned commands give nothing."""
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return {}
    name = Path(command).name
    if name == "npx":
        pkg = next((a for a in args if not a.startswith("-")), "")
        head, sep, version = pkg.rpartition("@")
        if sep and head and head != "@" and version and re.fullmatch(r"[\w.+-]+", version):
            return {"registry": "npm", "package": head, "version": version}
    if name == "uvx" and "--from" in args:
        i = args.index("--from")
        pkg = args[i + 1] if i + 1 < len(args) else ""
        m = re.fullmatch(r"([A-Za-z0-9][\w.\-\[\],]*)==([\w.+!-]+)", pkg)
        if m:
            constraints = [args[j + 1] for j in range(i) if args[j] == "--with" and j + 1 < i]
            return {"registry": "pypi", "package": m.group(1), "version": m.group(2),
                    **({"constraints": constraints} if constraints else {})}
    return {}


def _check_cwd(value: Any, fleet_file: Path, where: str) -> str:
    """The entry's ``cwd`` as an absolute path (a relative one is relative to the fleet file's folder)."""
    if not isinstance(value, str) or not value:
        raise FleetConfigError(f"{where}.cwd: expected a non-empty string, got {value!r}")
    if _VAR.search(value):
        return value  # ${SANDBOX} or a variable: expanded at launch
    cwd = Path(value).expanduser()
    if not cwd.is_absolute():
        cwd = (fleet_file.resolve().parent / cwd).resolve()
    if not cwd.is_dir():
        raise FleetConfigError(f"{where}.cwd: no such directory: {cwd}")
    return str(cwd)


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


def referenced_variables(specs: Iterable[ServerSpec]) -> dict[str, list[str]]:
    """``${VAR}`` names (other than firefly's own ``SANDBOX``) referenced by each server, as var -> servers."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        for value in [*spec.env.values(), *spec.args]:
            for name in _VAR.findall(value):
                if name not in _FIREFLY_VARS and spec.name not in out.setdefault(name, []):
                    out[name].append(spec.name)
    return out


def secret_values(spec: ServerSpec, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secrets of one server as name -> value: every ``${VAR}`` it references (set ones only),
    and the expanded value of each env entry marked secret (``secret_env`` or a secret-looking name)."""
    environ = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for value in [*spec.env.values(), *spec.args]:
        for name in _VAR.findall(value):
            if name not in _FIREFLY_VARS and len(environ.get(name, "")) >= _MIN_SECRET:
                out[name] = environ[name]
    for key, value in spec.env.items():
        if key in spec.secret_env or _SECRET_NAME.search(key):
            if "${SANDBOX}" in value:
                continue
            expanded = _VAR.sub(lambda m: environ.get(m.group(1), ""), value)
            if len(expanded) >= _MIN_SECRET and expanded not in out.values():
                out[key] = expanded
    return out


def _needles(secrets: Mapping[str, str] | Iterable[str]) -> list[tuple[str, str]]:
    pairs = secrets.items() if isinstance(secrets, Mapping) else ((None, s) for s in secrets)
    out = []
    for name, value in pairs:
        if not value or len(value) < _MIN_SECRET:
            continue
        mark = f"«redacted:{name}»" if name else "«redacted»"
        out.append((value, mark))
        escaped = json.dumps(value)[1:-1]  # the value inside a JSON string a server printed
        if escaped != value:
            out.append((escaped, mark))
        out += [(b, mark) for b in _base64_forms(value)]
    return sorted(out, key=lambda p: len(p[0]), reverse=True)


def _base64_forms(value: str) -> list[str]:
    """The part of ``value``'s base64 encoding that is the same wherever it starts in a longer text
    (one form per byte alignment; characters that mix in neighbouring bytes are left out)."""
    raw = value.encode()
    forms = []
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + raw).decode().rstrip("=")
        start = 4 if k else 0  # the first group holds the padding bytes' bits
        stop = len(enc) - (1 if (k + len(raw)) % 3 else 0)  # the last char may hold the next byte's bits
        if stop - start >= 8:
            forms.append(enc[start:stop])
    return forms


def redact(text: str, secrets: Mapping[str, str] | Iterable[str]) -> str:
    """Replace every secret value (len >= 4) in ``text`` by ``«redacted:NAME»``.

    ``secrets`` maps names to values (see :func:`secret_values`); a plain list gives ``«redacted»``.
    """
    for value, mark in _needles(secrets):
        text = text.replace(value, mark)
    return text


def _redact_b64(data: str, secrets: Mapping[str, str]) -> str:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return redact(data, secrets)
    changed = raw
    for value, mark in _needles(secrets):
        changed = changed.replace(value.encode(), mark.encode())
    return base64.b64encode(changed).decode() if changed != raw else data


def redact_value(value: Any, secrets: Mapping[str, str]) -> Any:
    """:func:`redact` applied to every string (and dict key) of a JSON-like value; base64 ``data`` and
    ``blob`` fields of MCP content blocks are decoded, redacted and re-encoded."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list):
        return [redact_value(v, secrets) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("data", "blob") and isinstance(v, str):
                out[k] = _redact_b64(v, secrets)
            else:
                out[redact(k, secrets) if isinstance(k, str) else k] = redact_value(v, secrets)
        return out
    return value


class HostCodeRefused(FleetConfigError):
    """A server that runs code on the host (``firefly.host_code: true``) was asked for where it may not run."""


def refuse_host_code(specs: Iterable[ServerSpec], purpose: str, allow: bool = False) -> None:
    """Raise :class:`HostCodeRefused` naming every ``host_code`` server, unless ``allow``.

    ``purpose`` says who would drive the server (``generate --explorer MODEL``, ``--miss-policy live``):
    there, a model's or any MCP client's arguments reach a server that evaluates code on this machine.
    """
    names = sorted(s.name for s in specs if s.host_code)
    if names and not allow:
        raise HostCodeRefused(
            f"{purpose}: refusing server(s) that run code on this machine (firefly.host_code: true): "
            f"{', '.join(names)}; remove them from the fleet or pass --allow-host-code")
