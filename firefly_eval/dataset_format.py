"""The dataset format (Hub layout), read and written by the generator, the harness and training alike.

A dataset folder holds ``data/<split>-*.parquet`` (one row per Task: nested fields JSON-encoded,
``task_to_row`` / ``task_from_row``), ``calls/*.parquet`` (one row per CallRecord, the simulator's
data: ``record_to_row`` / ``row_to_record``, kept in ``firefly_eval.simulator.records`` and re-exported
here), ``tools.jsonl`` and ``meta.json``. The writer (splits, card, report) is
``firefly_eval.generation.dataset.build_dataset``; readers need only this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from firefly_eval.schema import Task
from firefly_eval.simulator.records import record_to_row, row_to_record

__all__ = ["load_tasks", "record_to_row", "row_to_record", "task_from_row", "task_to_row"]

_JSON_FIELDS = ("answer_schema", "answer", "reference_arguments", "dag", "provenance", "quality")


def task_to_row(t: Task) -> dict[str, Any]:
    """Flat row of a Task (nested fields as sorted JSON strings: a stable Arrow schema)."""
    d = t.model_dump(mode="json")
    for k in _JSON_FIELDS:
        d[k] = json.dumps(d[k], ensure_ascii=False, sort_keys=True)
    d["tools"] = [list(x) for x in t.tools]
    return d


def task_from_row(row: dict[str, Any]) -> Task:
    """The Task of a row written by ``task_to_row`` (or loaded from the Hub)."""
    row = dict(row)
    for k in _JSON_FIELDS:
        if isinstance(row.get(k), str):
            row[k] = json.loads(row[k])
    row["tools"] = [tuple(x) for x in row.get("tools", [])]
    return Task.model_validate(row)


def load_tasks(source: str | Path, split: str = "test") -> list[Task]:
    """Tasks of a split from a dataset folder (Hub layout) or a Hub id."""
    path = Path(source)
    if path.exists():
        import pyarrow.parquet as pq

        files = sorted((path / "data").glob(f"{split}-*.parquet"))
        if not files:
            raise FileNotFoundError(f"{path}: no data/{split}-*.parquet (splits: "
                                    f"{sorted({f.name.split('-')[0] for f in (path / 'data').glob('*.parquet')})})")
        return [task_from_row(r) for f in files for r in pq.read_table(f).to_pylist()]
    from datasets import load_dataset

    ds = load_dataset(str(source), split=split)
    return [task_from_row(r) for r in ds]
