"""Sandbox roots: where live servers keep their files, and the canonical root records are written in.

Every process that runs servers gets a root of its own (``<SANDBOX_ROOT>-<pid>``, or
``<SANDBOX_ROOT>-w<k>-<pid>`` for worker ``k``): stateful servers of concurrent runs must not share
files. Recorded calls are stored as if they had run under ``SANDBOX_ROOT`` (the canonical root), so
questions, ids and the simulator's data do not depend on which process made them. ``relocate_value``
and ``relocate_record`` rewrite one root into the other, in either direction; ``Fleet`` does it for
live calls (``Fleet(..., canonical_root=SANDBOX_ROOT)``, ``Fleet.replay``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from firefly_eval.schema import CallRecord

__all__ = ["SANDBOX_ROOT", "process_root", "relocate_record", "relocate_value", "remove_stale_roots"]

SANDBOX_ROOT = Path("/tmp/firefly-world")


def process_root(worker: int | None = None, base: Path = SANDBOX_ROOT) -> Path:
    """This process's own sandbox root (not created): ``<base>-<pid>`` or ``<base>-w<worker>-<pid>``."""
    tag = f"w{worker}-" if worker is not None else ""
    return Path(f"{base}-{tag}{os.getpid()}")


def remove_stale_roots(base: Path = SANDBOX_ROOT) -> list[Path]:
    """Delete sandbox roots (``<base>-<pid>``, ``<base>-w<k>-<pid>``) of processes that no longer
    exist: a generate killed with -9 cannot clean up after itself."""
    removed = []
    for path in base.parent.glob(f"{base.name}-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        except PermissionError:  # someone else's live process
            pass
    return removed


def relocate_value(value: Any, src: str, dst: str) -> Any:
    """``value`` (JSON-like: strings, lists, dicts, keys too) with every ``src`` replaced by ``dst``."""
    if src == dst:
        return value
    if isinstance(value, str):
        return value.replace(src, dst)
    if isinstance(value, list):
        return [relocate_value(v, src, dst) for v in value]
    if isinstance(value, dict):
        return {relocate_value(k, src, dst): relocate_value(v, src, dst) for k, v in value.items()}
    return value


def relocate_record(rec: CallRecord, src: str, dst: str) -> CallRecord:
    """A copy of ``rec`` with ``src`` replaced by ``dst`` in its arguments and result; the id is
    recomputed from the relocated content (``rec`` itself when ``src == dst``)."""
    if src == dst:
        return rec
    data = rec.model_dump(mode="json")
    data["arguments"] = relocate_value(data["arguments"], src, dst)
    data["result"] = relocate_value(data["result"], src, dst)
    data["id"] = ""
    return CallRecord.model_validate(data)
