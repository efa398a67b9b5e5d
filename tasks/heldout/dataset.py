"""Held-out dataset: shipped default, a local folder or a Hub id -> Inspect Samples + simulator."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from inspect_ai.dataset import MemoryDataset, Sample

from firefly_eval.dataset_format import load_tasks
from firefly_eval.grading import required_fields
from firefly_eval.schema import Task, ToolSpec
from firefly_eval.simulator import CallIndex, read_records

__all__ = ["DEFAULT_DATASET", "TASKS_BY_ID", "load_bundle", "record_to_sample"]

DEFAULT_DATASET = "shipped"
TASKS_BY_ID: dict[str, Task] = {}  # filled on load; read by the firefly/oracle provider


def shipped_path() -> Path:
    return Path(str(resources.files("firefly_eval") / "data" / "heldout"))


def _resolve(dataset: str) -> Path | str:
    if dataset in ("", DEFAULT_DATASET):
        return shipped_path()
    p = Path(dataset)
    if p.exists():
        return p
    if "/" in dataset and not dataset.startswith((".", "/")):
        return dataset  # Hub id
    raise ValueError(f"dataset must be 'shipped', an existing folder or a Hub id, got {dataset!r}")


def record_to_sample(task: Task) -> Sample:
    """Map one Task row to an Inspect Sample (rejecting tasks that could pass on nothing)."""
    if not required_fields(task.answer_schema):
        raise ValueError(f"task {task.id}: answer schema has no required field")
    return Sample(
        id=task.id,
        input=task.question,
        target=json.dumps(task.answer, ensure_ascii=False, sort_keys=True),
        metadata={"tools": [list(t) for t in task.tools], "servers": task.servers, "pattern": task.pattern,
                  "answer_schema": task.answer_schema, "n_reference_calls": len(task.reference_calls)},
    )


@lru_cache(maxsize=8)
def load_bundle(dataset: str, split: str) -> tuple[list[Task], CallIndex, dict[tuple[str, str], ToolSpec]]:
    """Tasks, the call index and tool specs of a dataset (cached per process)."""
    src = _resolve(dataset)
    tasks = load_tasks(src, split)
    if isinstance(src, Path):
        records = read_records(src / "calls")
        tools_file = src / "tools.jsonl"
    else:
        from datasets import load_dataset
        from huggingface_hub import hf_hub_download

        from firefly_eval.simulator.records import row_to_record

        records = [row_to_record(r) for r in load_dataset(src, data_files={"calls": "calls/*.parquet"}, split="calls")]
        tools_file = Path(hf_hub_download(src, "tools.jsonl", repo_type="dataset"))
    tools: dict[tuple[str, str], ToolSpec] = {}
    if tools_file.exists():
        for line in tools_file.read_text().splitlines():
            if line.strip():
                t = ToolSpec.model_validate_json(line)
                tools[t.key] = t
    for t in tasks:
        TASKS_BY_ID[t.id] = t
    return tasks, CallIndex(records), tools


def dataset_revision(dataset: str) -> str:
    """Content hash of a local dataset's files (what the leaderboard compares runs by)."""
    import hashlib

    src = _resolve(dataset)
    if not isinstance(src, Path):
        return f"hub:{src}"
    h = hashlib.sha256()
    for f in sorted(p for p in src.rglob("*") if p.is_file() and p.suffix in (".parquet", ".jsonl", ".json")):
        h.update(f.relative_to(src).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def stateful_servers(dataset: str) -> set[str]:
    """Servers whose replies depend on earlier state-changing calls (from the dataset's meta.json)."""
    src = _resolve(dataset)
    if isinstance(src, Path):
        meta = src / "meta.json"
    else:
        from huggingface_hub import hf_hub_download

        meta = Path(hf_hub_download(src, "meta.json", repo_type="dataset"))
    if not meta.exists():
        raise FileNotFoundError(f"{meta}: missing (the dataset was not built by firefly generate)")
    return set(json.loads(meta.read_text())["stateful_servers"])


def task_tools(task: Task, tools: dict[tuple[str, str], ToolSpec], mode: str, rng_seed: int = 0) -> list[ToolSpec]:
    """The tools offered for a task: its own, all of its servers', or its own plus N distractors."""
    own = [tools[k] for k in dict.fromkeys(map(tuple, task.tools)) if k in tools]
    if mode == "task":
        return own
    if mode == "servers":
        return [t for k, t in sorted(tools.items()) if k[0] in task.servers]
    if mode.startswith("distractors:"):
        import random

        n = int(mode.split(":", 1)[1])
        others = [t for k, t in sorted(tools.items()) if t not in own]
        rng = random.Random(f"{rng_seed}:{task.id}")
        return own + rng.sample(others, min(n, len(others)))
    raise ValueError(f"tools must be 'task', 'servers' or 'distractors:N', got {mode!r}")


def samples(tasks: list[Task]) -> MemoryDataset:
    return MemoryDataset([record_to_sample(t) for t in tasks], name="firefly-heldout")


def metadata_of(task: Task) -> dict[str, Any]:
    return {"id": task.id, "pattern": task.pattern}
