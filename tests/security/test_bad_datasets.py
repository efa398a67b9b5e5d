"""Bad input to the harness is refused up front, naming file, row and task id (issue 20, item 4)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from firefly_eval.tasks.heldout.dataset import DatasetError, load_bundle, shipped_path

SPLIT_FILE = "data/test-00000-of-00001.parquet"


def _copy(tmp_path: Path, name: str = "ds") -> Path:
    dest = tmp_path / name
    shutil.copytree(shipped_path(), dest)
    return dest


def _edit_rows(ds: Path, edits: dict[int, dict]) -> list[str]:
    """Overwrite fields of some rows of the test split; returns the task ids of the edited rows."""
    path = ds / SPLIT_FILE
    table = pq.read_table(path)
    rows = table.to_pylist()
    for i, fields in edits.items():
        rows[i].update(fields)
    pq.write_table(type(table).from_pylist(rows, schema=table.schema), path)
    return [rows[i]["id"] for i in edits]


def _schema_without_properties(ds: Path, i: int) -> str:
    row = pq.read_table(ds / SPLIT_FILE).to_pylist()[i]
    schema = json.loads(row["answer_schema"])
    schema["properties"] = None
    return json.dumps(schema)


def test_bad_rows_are_named_by_file_row_and_task_id(tmp_path):
    ds = _copy(tmp_path)
    ids = _edit_rows(ds, {3: {"answer_schema": "5"}, 7: {"answer_schema": _schema_without_properties(ds, 7)}})
    with pytest.raises(DatasetError) as info:
        load_bundle(str(ds), "test")
    msg = str(info.value)
    assert "2 invalid row(s)" in msg
    assert f"{ds / SPLIT_FILE} row 3 (task {ids[0]}): answer_schema" in msg
    assert f"{ds / SPLIT_FILE} row 7 (task {ids[1]}): answer_schema.properties must be an object, got null" in msg


def test_missing_tools_jsonl_is_refused(tmp_path):
    ds = _copy(tmp_path)
    (ds / "tools.jsonl").unlink()
    with pytest.raises(DatasetError, match=r"tools.jsonl: missing; a dataset needs its tool specs"):
        load_bundle(str(ds), "test")


def test_a_tool_missing_from_tools_jsonl_is_refused(tmp_path):
    ds = _copy(tmp_path)
    first = pq.read_table(ds / SPLIT_FILE).to_pylist()[0]
    server, tool = first["tools"][0]
    lines = (ds / "tools.jsonl").read_text().splitlines()
    kept = [x for x in lines if not (json.loads(x)["server"] == server and json.loads(x)["name"] == tool)]
    assert len(kept) == len(lines) - 1
    (ds / "tools.jsonl").write_text("\n".join(kept) + "\n")
    with pytest.raises(DatasetError, match=rf"row 0 \(task {first['id']}\): offers tool\(s\) not in tools.jsonl: "
                                           rf"\['{server}/{tool}'\]"):
        load_bundle(str(ds), "test")


def test_truncated_calls_parquet_is_named(tmp_path):
    ds = _copy(tmp_path)
    calls = next((ds / "calls").glob("*.parquet"))
    calls.write_bytes(calls.read_bytes()[: calls.stat().st_size // 2])
    with pytest.raises(DatasetError, match=rf"{calls.name}: not a readable parquet file"):
        load_bundle(str(ds), "test")


def test_inspect_eval_of_a_bad_dataset_exits_non_zero_with_the_row_named(tmp_path):
    """Through the real CLI: the eval does not start (it used to run, error samples and exit 0)."""
    ds = _copy(tmp_path)
    (ids,) = [_edit_rows(ds, {5: {"answer_schema": _schema_without_properties(ds, 5)}})]
    env = dict(os.environ, FIREFLY_HOME=str(Path.cwd() / ".firefly"), INSPECT_LOG_DIR=str(tmp_path / "logs"))
    inspect = Path(sys.executable).with_name("inspect")
    proc = subprocess.run([str(inspect), "eval", "firefly_eval/heldout", "--model", "firefly/oracle",
                           "-T", f"dataset={ds}", "--limit", "3", "--display", "plain"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert f"row 5 (task {ids[0]}): answer_schema.properties must be an object" in " ".join(out.split())
