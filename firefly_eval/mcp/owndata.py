"""A server's own data: per-plan copies of its ``cwd`` and of the files its args/env name.

A user's ``mcpServers`` entry points a server at the user's things: ``"cwd": "/home/me/repo"``,
``"--db-path", "/home/me/shop.db"``, ``"MEMORY_FILE_PATH": "/home/me/kg.json"``. Generation must
neither change them nor carry state from one plan to the next, so (unless the entry says
``firefly.isolate: false``) the server runs on copies inside its sandbox:

    <sandbox>/<basename of cwd>/          the copy of ``cwd`` (the server's working directory)
    <sandbox>/files/<absolute path>       each other file or folder named in args/env

Args and env are rewritten to the copies, so recorded paths are sandbox paths and are relocated
to the canonical root like the seed world's. The originals are read once, into a pristine copy
(``<root>/.pristine/<server>``); every reset restores the live copies from it. A path that does
not exist yet (a memory file the server will create) is pointed into the sandbox as well.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from firefly_eval.mcp.config import FleetConfigError, firefly_home
from firefly_eval.schema import ServerSpec
from firefly_eval.treesync import remove_path, sync_path

__all__ = ["MAX_COPY_BYTES", "OwnData", "own_data", "own_paths", "uses_world"]

MAX_COPY_BYTES = 512 * 1024 * 1024
_URL_PATH = re.compile(r"^([a-z][\w+.-]*://)(/.+)$", re.I)  # sqlite:///abs/path.db
_PROGRAM = (".py", ".js", ".mjs", ".cjs", ".ts", ".sh", ".exe", ".jar")
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/proc", "/sys", "/dev", "/opt", "/snap", "/var/lib",
           "/nix")


def _system_prefixes() -> tuple[str, ...]:
    return (*_SYSTEM, sys.prefix, sys.base_prefix, str(firefly_home()))


def _split(value: str) -> tuple[str, str] | None:
    """(prefix, absolute path) of an arg/env value that names a path: ``/x``, ``--opt=/x``, ``sqlite:///x``."""
    if "${" in value:
        return None
    m = _URL_PATH.match(value)
    if m:  # sqlite:////abs/x.db (SQLAlchemy) names /abs/x.db: the extra slashes stay in the prefix
        extra = len(m.group(2)) - len(m.group(2).lstrip("/")) - 1
        return m.group(1) + "/" * extra, m.group(2)[extra:]
    if value.startswith("/"):
        return "", value
    if value.startswith("-") and "=" in value:
        head, _, tail = value.partition("=")
        if tail.startswith("/"):
            return head + "=", tail
    return None


def _is_data_path(raw: str) -> bool:
    """An absolute path to the user's data (not a program, not a system or environment folder)."""
    path = Path(raw)
    if any(raw == p or raw.startswith(p.rstrip("/") + "/") for p in _system_prefixes()):
        return False
    if path.suffix.lower() in _PROGRAM or (path.is_file() and os.access(path, os.X_OK)):
        return False
    return path.exists() or path.parent.is_dir()


def own_paths(spec: ServerSpec) -> list[str]:
    """The absolute data paths a server's args and env name (in order, once each)."""
    out: list[str] = []
    for value in [*spec.args, *spec.env.values()]:
        hit = _split(value)
        if hit and _is_data_path(hit[1]) and hit[1] not in out:
            out.append(hit[1])
    return out


def uses_world(spec: ServerSpec) -> bool:
    """Does the server work on the seed world? ``firefly.world`` when set; else: it has no ``cwd`` and
    names no data of its own (every shipped fleet's entries; a user's entry with a ``cwd`` does not)."""
    if spec.world is not None:
        return spec.world
    return not spec.cwd and not own_paths(spec)


def _size(path: Path, limit: int) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                continue
            if total > limit:
                return total
    return total


def _copy(src: Path, dst: Path) -> None:
    """Make ``dst`` a copy of ``src`` in place (:func:`firefly_eval.treesync.sync_path`: a folder keeps its
    identity, so a running server's cwd stays valid; a changed file keeps its inode)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    sync_path(src, dst)


@dataclass
class OwnData:
    """Where a server's copies live, and its args/env rewritten to them."""

    server: str
    cwd: Path | None
    args: list[str]
    env: dict[str, str]
    pairs: list[tuple[Path, Path, Path]] = field(default_factory=list)  # (original, pristine, live)
    created: list[Path] = field(default_factory=list)  # live paths of files that did not exist

    def snapshot(self) -> None:
        """Read the originals once into the pristine copies (nothing is written outside the sandbox root)."""
        for orig, pristine, _ in self.pairs:
            size = _size(orig, MAX_COPY_BYTES)
            if size > MAX_COPY_BYTES:
                raise FleetConfigError(
                    f"server {self.server!r}: {orig} holds more than {MAX_COPY_BYTES >> 20} MiB, too much to copy "
                    f"for every plan; point the entry at a smaller folder or set firefly.isolate: false "
                    f"(the server then changes the original files)")
            _copy(orig, pristine)

    def restore(self) -> None:
        """Put every live copy back to the pristine state; files the server created are removed."""
        for _, pristine, live in self.pairs:
            _copy(pristine, live)
        for live in self.created:
            if os.path.lexists(live):
                remove_path(live)
            live.parent.mkdir(parents=True, exist_ok=True)

    def top_names(self, sandbox: Path) -> set[str]:
        """Names of the sandbox's entries that hold the copies (left in place by an in-place reset)."""
        return {live.relative_to(sandbox).parts[0] for _, _, live in self.pairs if live.is_relative_to(sandbox)}

    def files(self, limit: int = 200) -> list[str]:
        """Absolute live paths of the server's own files (the explorer's path candidates)."""
        out: list[str] = []
        for _, _, live in self.pairs:
            if live.is_file():
                out.append(str(live))
                continue
            for root, dirs, names in os.walk(live):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for n in sorted(names):
                    if not n.startswith("."):
                        out.append(os.path.join(root, n))
                if len(out) >= limit:
                    return out[:limit]
        return out


def own_data(spec: ServerSpec, sandbox: Path, pristine: Path) -> OwnData | None:
    """The copies a server needs (None when it names no data of its own or opts out with ``isolate: false``)."""
    paths = own_paths(spec)
    cwd = Path(spec.cwd) if spec.cwd and "${" not in spec.cwd else None
    if not spec.isolate or (cwd is None and not paths):
        return None
    mapping: dict[str, Path] = {}
    pairs: list[tuple[Path, Path, Path]] = []
    created: list[Path] = []
    live_cwd = None
    if cwd is not None:
        name = cwd.name or "cwd"
        if name in ("files", ".home", ".tmp"):
            name += "-cwd"
        live_cwd = sandbox / name
        pairs.append((cwd, pristine / name, live_cwd))
        mapping[str(cwd)] = live_cwd
    for raw in paths:
        under = next((c for c in mapping if raw == c or raw.startswith(c + "/")), None)
        if under is not None:
            continue  # inside the cwd copy
        live = sandbox / "files" / raw.lstrip("/")
        mapping[raw] = live
        if Path(raw).exists():
            pairs.append((Path(raw), pristine / "files" / raw.lstrip("/"), live))
        else:
            created.append(live)

    def rewrite(value: str) -> str:
        hit = _split(value)
        if not hit:
            return value
        prefix, raw = hit
        for orig in sorted(mapping, key=len, reverse=True):
            if raw == orig or raw.startswith(orig + "/"):
                return prefix + str(mapping[orig]) + raw[len(orig):]
        return value

    return OwnData(spec.name, live_cwd, [rewrite(a) for a in spec.args],
                   {k: rewrite(v) for k, v in spec.env.items()}, pairs, created)
