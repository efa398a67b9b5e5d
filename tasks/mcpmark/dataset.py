"""MCPMark task folders -> Inspect Samples.

Layout (MCPMark): ``<tasks_dir>/tasks/<service>/<category>/<task>/`` with ``description.md``
(the instruction), ``meta.json`` (task_id, category_id, difficulty, ...) and ``verify.py``
(exit code 0 = pass). The starting files of each category ship separately: ``initial_state``
is a folder (or .zip) holding one sub-folder per category.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from inspect_ai.dataset import MemoryDataset, Sample

__all__ = ["load_tasks", "resolve_initial_state"]


def load_tasks(tasks_dir: str | Path, service: str, categories: list[str] | None = None) -> MemoryDataset:
    """One Sample per task folder of ``service``; malformed folders raise naming the folder."""
    root = Path(tasks_dir)
    base = root / "tasks" / service if (root / "tasks" / service).is_dir() else root / service
    if not base.is_dir():
        raise ValueError(f"tasks_dir: no {service!r} tasks under {root} (expected {root}/tasks/{service}/)")
    samples = []
    for task_dir in sorted(p.parent for p in base.glob("*/*/description.md")):
        category = task_dir.parent.name
        if categories and category not in categories:
            continue
        missing = [f for f in ("meta.json", "verify.py") if not (task_dir / f).exists()]
        if missing:
            raise ValueError(f"{task_dir}: MCPMark task folder lacks {missing}")
        try:
            meta = json.loads((task_dir / "meta.json").read_text())
        except ValueError as exc:
            raise ValueError(f"{task_dir / 'meta.json'}: invalid JSON ({exc})") from None
        samples.append(Sample(
            id=f"{category}/{task_dir.name}",
            input=(task_dir / "description.md").read_text(),
            metadata={"task_dir": str(task_dir), "category": category, "service": service,
                      "difficulty": meta.get("difficulty", ""), "task_id": meta.get("task_id", task_dir.name)},
        ))
    if not samples:
        raise ValueError(f"{base}: no MCPMark tasks found" + (f" in categories {categories}" if categories else ""))
    return MemoryDataset(samples, name=f"mcpmark-{service}")


def resolve_initial_state(initial_state: str | Path, cache: Path) -> Path:
    """A folder with one sub-folder per category; a .zip is extracted once into ``cache``."""
    src = Path(initial_state)
    if src.is_dir():
        return src
    if src.suffix == ".zip" and src.exists():
        dest = cache / src.stem
        if not (dest / ".extracted").exists():
            with zipfile.ZipFile(src) as zf:
                zf.extractall(dest)
            (dest / ".extracted").write_text("ok")
        return dest
    raise ValueError(f"initial_state must be a folder or a .zip, got {initial_state!r}")
