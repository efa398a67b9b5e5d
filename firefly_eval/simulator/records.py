"""CallRecords on disk: JSONL (run directories) and Parquet (datasets' ``calls`` table)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from firefly_eval.schema import CallRecord

__all__ = ["read_records", "record_to_row", "records_to_parquet", "row_to_record"]


def record_to_row(r: CallRecord) -> dict[str, Any]:
    """Flat row with JSON-encoded nested fields (stable Arrow schema)."""
    d = r.model_dump(mode="json")
    d["arguments"] = json.dumps(d["arguments"], ensure_ascii=False, sort_keys=True)
    d["result"] = json.dumps(d["result"], ensure_ascii=False, sort_keys=True)
    return d


def row_to_record(row: dict[str, Any]) -> CallRecord:
    row = dict(row)
    for key in ("arguments", "result"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return CallRecord.model_validate(row)


def records_to_parquet(records: Iterable[CallRecord], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [record_to_row(r) for r in records]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    tmp.replace(path)


def read_records(path: Path) -> list[CallRecord]:
    """Read records from a .parquet file, a .jsonl file, or a folder holding either."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("**/calls*.parquet")) or sorted(path.glob("**/calls*.jsonl"))
        if not files:
            raise FileNotFoundError(f"{path}: no calls*.parquet or calls*.jsonl inside")
        return [r for f in files for r in read_records(f)]
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return [row_to_record(row) for row in pq.read_table(path).to_pylist()]
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(CallRecord.model_validate_json(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{lineno}: invalid call record: {exc}") from None
    return out
