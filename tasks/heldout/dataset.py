"""Held-out dataset: shipped default, a local folder or a Hub id -> Inspect Samples + simulator."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from inspect_ai.dataset import MemoryDataset, Sample

from firefly_eval.dataset_format import task_from_row
from firefly_eval.grading import required_fields
from firefly_eval.schema import Task, ToolSpec
from firefly_eval.simulator import CallIndex, read_records

__all__ = ["DEFAULT_DATASET", "TASKS_BY_ID", "DatasetError", "load_bundle", "record_to_sample", "task_problem"]

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


class DatasetError(ValueError):
    """A dataset file is missing or holds invalid rows; the message names file, row and task id."""


_MAX_LISTED = 10


def task_problem(task: Task) -> str | None:
    """What makes a task unusable by the harness (``None``: it is fine)."""
    schema = task.answer_schema
    props = schema.get("properties")
    if not isinstance(props, dict):
        return f"answer_schema.properties must be an object, got {json.dumps(props)[:60]}"
    odd = sorted(k for k, v in props.items() if not isinstance(v, dict))
    if odd:
        return f"answer_schema.properties.{odd[0]} must be an object schema"
    req = schema.get("required")
    if not isinstance(req, list) or not req or not all(isinstance(r, str) for r in req):
        return "answer_schema.required must be a non-empty list of field names (a task must be able to fail)"
    unknown = [r for r in req if r not in props]
    if unknown:
        return f"answer_schema.required names field(s) not in its properties: {unknown}"
    missing = [r for r in req if r not in task.answer]
    if missing:
        return f"answer lacks required field(s) {missing}"
    if not task.tools:
        return "offers no tool"
    return None


def _raise_if(problems: list[str], what: str) -> None:
    if problems:
        more = f" (and {len(problems) - _MAX_LISTED} more)" if len(problems) > _MAX_LISTED else ""
        raise DatasetError(f"{what}: {len(problems)} invalid row(s){more}:\n  " + "\n  ".join(problems[:_MAX_LISTED]))


def _validated_tasks(rows: list[tuple[str, int, dict[str, Any]]]) -> list[Task]:
    """Tasks of ``(file, row index, row)``; every bad row is named (file, row, task id) before anything runs."""
    tasks, problems = [], []
    for where, i, row in rows:
        tid = row.get("id") if isinstance(row.get("id"), str) and row.get("id") else "?"
        try:
            task = task_from_row(row)
        except (ValueError, TypeError) as exc:
            errors = getattr(exc, "errors", None)
            if callable(errors):
                err = exc.errors()[0]
                msg = f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            else:
                msg = f"{type(exc).__name__}: {exc}"
            problems.append(f"{where} row {i} (task {tid}): {msg[:200]}")
            continue
        problem = task_problem(task)
        if problem:
            problems.append(f"{where} row {i} (task {task.id}): {problem}")
        else:
            tasks.append(task)
    _raise_if(problems, "dataset")
    return tasks


def _task_rows(src: Path | str, split: str) -> list[tuple[str, int, dict[str, Any]]]:
    if isinstance(src, Path):
        import pyarrow.parquet as pq

        files = sorted((src / "data").glob(f"{split}-*.parquet"))
        if not files:
            splits = sorted({f.name.split("-")[0] for f in (src / "data").glob("*.parquet")})
            raise FileNotFoundError(f"{src}: no data/{split}-*.parquet (splits: {splits})")
        rows = []
        for f in files:
            try:
                table = pq.read_table(f)
            except Exception as exc:  # noqa: BLE001 - a truncated or foreign file is named
                raise DatasetError(f"{f}: not a readable parquet file ({type(exc).__name__}: {exc})") from None
            rows += [(str(f), i, r) for i, r in enumerate(table.to_pylist())]
        return rows
    from datasets import load_dataset

    return [(f"{src} ({split} split)", i, dict(r)) for i, r in enumerate(load_dataset(src, split=split))]


def _tool_specs(tools_file: Path) -> dict[tuple[str, str], ToolSpec]:
    if not tools_file.exists():
        raise DatasetError(f"{tools_file}: missing; a dataset needs its tool specs (without them every call "
                           "would answer 'Unknown tool' and the scores would mean nothing)")
    tools: dict[tuple[str, str], ToolSpec] = {}
    problems = []
    for n, line in enumerate(tools_file.read_text().splitlines(), 1):
        if line.strip():
            try:
                t = ToolSpec.model_validate_json(line)
            except ValueError as exc:
                problems.append(f"{tools_file} line {n}: {str(exc).splitlines()[0][:200]}")
                continue
            tools[t.key] = t
    _raise_if(problems, str(tools_file))
    return tools


def _call_records(calls: Path) -> list:
    import pyarrow.parquet as pq

    from firefly_eval.simulator.records import row_to_record

    files = sorted(calls.glob("**/calls*.parquet"))
    if not files:
        return read_records(calls)  # jsonl calls (or its clear error)
    out, problems = [], []
    for f in files:
        try:
            rows = pq.read_table(f).to_pylist()
        except Exception as exc:  # noqa: BLE001
            raise DatasetError(f"{f}: not a readable parquet file ({type(exc).__name__}: {exc})") from None
        for i, row in enumerate(rows):
            try:
                out.append(row_to_record(row))
            except (ValueError, TypeError) as exc:
                problems.append(f"{f} row {i} (call {row.get('id', '?')}): {str(exc).splitlines()[0][:200]}")
    _raise_if(problems, str(calls))
    return out


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
    """Tasks, the call index and tool specs of a dataset (cached per process).

    Every file is validated first: a bad row raises :class:`DatasetError` naming file, row and task id;
    a dataset without ``tools.jsonl``, or whose tasks offer tools it does not specify, is refused.
    """
    src = _resolve(dataset)
    rows = _task_rows(src, split)
    tasks = _validated_tasks(rows)
    if isinstance(src, Path):
        records = _call_records(src / "calls")
        tools_file = src / "tools.jsonl"
    else:
        from datasets import load_dataset
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        from firefly_eval.simulator.records import row_to_record

        records = [row_to_record(r) for r in load_dataset(src, data_files={"calls": "calls/*.parquet"}, split="calls")]
        try:
            tools_file = Path(hf_hub_download(src, "tools.jsonl", repo_type="dataset"))
        except EntryNotFoundError:
            tools_file = Path(f"{src}/tools.jsonl (on the Hub)")
    tools = _tool_specs(tools_file)
    where = {t.id: f"{w} row {i}" for (w, i, _), t in zip(rows, tasks, strict=True)} if len(rows) == len(tasks) else {}
    unknown = [f"{where.get(t.id, 'task')} (task {t.id}): offers tool(s) not in tools.jsonl: "
               f"{sorted('/'.join(k) for k in map(tuple, t.tools) if k not in tools)}"
               for t in tasks if any(tuple(k) not in tools for k in t.tools)]
    _raise_if(unknown, str(tools_file))
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
