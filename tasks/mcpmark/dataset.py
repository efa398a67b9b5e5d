"""MCPMark task folders -> Inspect Samples, read from an upstream checkout as upstream reads them.

Layout (eval-sys/mcpmark): ``<checkout>/tasks/<service>/<suite>/<category>/<task>/`` with
``description.md`` (the instruction), ``meta.json`` (task_id, category_id, difficulty, ...),
``verify.py`` (exit 0 = pass) and, for some postgres tasks, ``prepare_environment.py``. Suites are
``standard`` (upstream's default) and ``easy``. The starting files of each filesystem category
ship separately (upstream's ``test_environments/<category>/``).

Selection follows upstream's ``--tasks`` filter (``BaseTaskManager.filter_tasks``): ``all``, a
category id, ``category/task``, or else a substring of the category or task name; several filters
may be given comma-separated here.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from inspect_ai.dataset import MemoryDataset, Sample

__all__ = ["SUITES", "instruction", "load_tasks", "resolve_initial_state", "select"]

SUITES = ("standard", "easy")

# The note upstream appends to description.md (src/base/task_manager.py and
# src/mcp_services/postgres/postgres_task_manager.py, ``_format_task_instruction``; commit 89d7967).
_NOTE_DEFAULT = ("\n\nNote: Based on your understanding, solve the task all at once by yourself, "
                 "don't ask for my opinions on anything.")
_NOTE_POSTGRES = ("\n\nNote: Use PostgreSQL MCP tools to complete this task. The database connection is "
                  "already configured.")


def instruction(description: str, service: str) -> str:
    """The user message upstream sends: description.md plus the service's note."""
    return description + (_NOTE_POSTGRES if service == "postgres" else _NOTE_DEFAULT)


def _service_dir(root: Path, service: str, suite: str) -> Path:
    base = root / "tasks" / service if (root / "tasks" / service).is_dir() else root / service
    if not base.is_dir():
        raise ValueError(f"tasks_dir: no {service!r} tasks under {root} (expected {root}/tasks/{service}/)")
    if not (base / suite).is_dir():
        found = sorted(p.name for p in base.iterdir() if p.is_dir())
        raise ValueError(f"{base}: no suite {suite!r} (MCPMark layout tasks/<service>/<suite>/<category>/<task>; "
                         f"suites here: {found})")
    return base / suite


def select(samples: list[Sample], task_filter: str) -> list[Sample]:
    """Upstream's filter, per comma-separated part: all | category | category/task | substring."""
    if not task_filter or task_filter.strip().lower() == "all":
        return samples
    chosen: dict[str, Sample] = {}
    categories = {s.metadata["category"] for s in samples if s.metadata}
    for part in (p.strip() for p in task_filter.split(",") if p.strip()):
        if part in categories:
            hits = [s for s in samples if s.metadata and s.metadata["category"] == part]
        elif "/" in part and any(str(s.id) == part for s in samples):
            hits = [s for s in samples if str(s.id) == part]
        else:
            hits = [s for s in samples if s.metadata and (part in s.metadata["category"] or part in str(s.id))]
        if not hits:
            raise ValueError(f"tasks: {part!r} matches no task (categories: {sorted(categories)})")
        chosen.update({str(s.id): s for s in hits})
    return [s for s in samples if str(s.id) in chosen]


def load_tasks(tasks_dir: str | Path, service: str, suite: str = "standard", tasks: str = "all") -> MemoryDataset:
    """One Sample per task folder of ``service`` in ``suite``; malformed folders raise naming the folder."""
    if suite not in SUITES:
        raise ValueError(f"suite must be one of {SUITES}, got {suite!r}")
    base = _service_dir(Path(tasks_dir), service, suite)
    samples = []
    for task_dir in sorted(p.parent for p in base.glob("*/*/description.md")):
        category = task_dir.parent.name
        missing = [f for f in ("meta.json", "verify.py") if not (task_dir / f).exists()]
        if missing:
            raise ValueError(f"{task_dir}: MCPMark task folder lacks {missing}")
        try:
            meta = json.loads((task_dir / "meta.json").read_text())
        except ValueError as exc:
            raise ValueError(f"{task_dir / 'meta.json'}: invalid JSON ({exc})") from None
        samples.append(Sample(
            id=f"{category}/{task_dir.name}",
            input=instruction((task_dir / "description.md").read_text(encoding="utf-8"), service),
            metadata={"task_dir": str(task_dir), "category": category, "service": service, "suite": suite,
                      "difficulty": meta.get("difficulty", ""), "task_id": str(meta.get("task_id", task_dir.name))},
        ))
    if not samples:
        raise ValueError(f"{base}: no MCPMark tasks found")
    return MemoryDataset(select(samples, tasks), name=f"mcpmark-{service}-{suite}")


def resolve_initial_state(initial_state: str | Path, cache: Path) -> Path:
    """A folder with one sub-folder per category (upstream's test_environments/); a .zip is extracted once."""
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
