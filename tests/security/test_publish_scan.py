"""The publish scan reads decoded content and names file, row and column; the stage folder is
only ever one firefly created (issue 20, items 2 and 3). Driven through `firefly publish --dry-run`."""

import base64
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from firefly_eval.cli.main import app
from firefly_eval.leaderboard.publish import (
    STAGE_MARKER,
    StageError,
    UnverifiedScan,
    scan_hits,
    stage_dataset,
)

# made-up values in each real shape (none is a live credential)
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----"
SHAPES = {
    "aws": "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYZQ3Xr7TqLp",
    "github_pat": "github_pat_11AB3CDEF0qRsTuVwXyZ12_9aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789AbCdEfGhIjKlMnOpQ",
    "slack": "xoxb-1234567890123-1234567890123-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2",
    "google": "AIzaSyD4f3K9x2Lm8Qw7Er6Ty5Ui4Op3As2Df1G",
}


def _dataset(tmp_path: Path, cells: dict[str, list[str]]) -> Path:
    """A minimal dataset folder whose calls parquet (Snappy, the default) holds ``cells``."""
    ds = tmp_path / "run" / "dataset"
    (ds / "data").mkdir(parents=True)
    (ds / "calls").mkdir()
    (ds / "README.md").write_text("# card\n")
    pq.write_table(pa.table({"id": ["t0"], "question": ["What is 2+2?"]}), ds / "data" / "test-00000-of-00001.parquet")
    pq.write_table(pa.table(cells), ds / "calls" / "calls-00000-of-00001.parquet", compression="snappy",
                   write_statistics=False)
    return ds


def _dry_run(ds: Path, stage: Path, *extra: str):
    return CliRunner().invoke(app, ["publish", "dataset", str(ds), "--repo", "lumen/x", "--dry-run",
                                    "--stage", str(stage), *extra])


def test_private_key_in_snappy_parquet_is_found_with_row_and_column(tmp_path):
    # an earlier cell shares pieces of the header, so Snappy stores the key's header as back-references
    ds = _dataset(tmp_path, {"id": ["a", "b", "c"],
                             "result": ["header -----BEGIN RSA PRIVATE and RIVATE KEY----- parts", "fine",
                                        json.dumps({"text": PEM})]})
    raw = (ds / "calls" / "calls-00000-of-00001.parquet").read_bytes()
    assert b"BEGIN RSA PRIVATE KEY" not in raw  # a byte search cannot see it
    res = _dry_run(ds, tmp_path / "stage")
    assert res.exit_code == 1, res.output
    assert "calls/calls-00000-of-00001.parquet row 2 column result: Private Key" in " ".join(res.output.split())


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_each_key_shape_is_found(tmp_path, kind):
    ds = _dataset(tmp_path, {"id": ["a", "b"], "result": ["nothing here", f"config: {SHAPES[kind]}"]})
    hits = scan_hits(stage_dataset(ds, tmp_path / "stage"))
    assert [(h.file, h.row, h.column) for h in hits] == [("calls/calls-00000-of-00001.parquet", 1, "result")] * len(hits)
    assert hits, f"{kind} not found"


def test_base64_wrapped_key_is_found(tmp_path):
    wrapped = base64.b64encode(PEM.encode()).decode()
    ds = _dataset(tmp_path, {"id": ["a"], "result": [json.dumps({"blob": wrapped})]})
    hits = scan_hits(stage_dataset(ds, tmp_path / "stage"))
    assert [str(h) for h in hits] == ["calls/calls-00000-of-00001.parquet row 0 column result: base64-wrapped Private Key"]


def test_planted_env_value_of_the_runs_fleet_is_found_and_unset_variable_refuses(tmp_path, monkeypatch):
    """A secret with no known shape: found because the run's recorded fleet references it."""
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"mcpServers": {"db": {"command": "x", "env": {"DB_DSN": "${LUMEN_DSN}"}}}}))
    ds = _dataset(tmp_path, {"id": ["a", "b"], "result": ["x", "connected to zz-plain-7q3kd9"]})
    (ds.parent / "config.json").write_text(json.dumps({"fleet_file": str(fleet), "n_plans": 2}))
    monkeypatch.setenv("LUMEN_DSN", "zz-plain-7q3kd9")
    res = _dry_run(ds, tmp_path / "stage")  # no --fleet: the one in the run's config.json is used
    assert res.exit_code == 1, res.output
    assert "row 1 column result: value of ${LUMEN_DSN} of server db" in " ".join(res.output.split())

    monkeypatch.delenv("LUMEN_DSN")
    res = _dry_run(ds, tmp_path / "stage2")
    assert res.exit_code == 1
    assert "${LUMEN_DSN} (server db) is not set here" in " ".join(res.output.split())
    with pytest.raises(UnverifiedScan):
        scan_hits(tmp_path / "stage2")
    res = _dry_run(ds, tmp_path / "stage3", "--allow-unverified")
    assert res.exit_code == 0, res.output


def test_clean_dataset_passes(tmp_path):
    ds = _dataset(tmp_path, {"id": ["a", "b"], "result": ["42", json.dumps({"rows": [1, 2], "id": "1e39b86f02834d8b"})]})
    res = _dry_run(ds, tmp_path / "stage")
    assert res.exit_code == 0, res.output
    assert "would push 3 files" in res.output


# ---- the stage folder ------------------------------------------------------------------------------

def test_stage_refuses_a_users_folder_and_keeps_the_canary(tmp_path):
    ds = _dataset(tmp_path, {"id": ["a"], "result": ["ok"]})
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "canary.txt").write_text("do not delete")
    res = _dry_run(ds, mine)
    assert res.exit_code == 1
    assert "not empty and not a stage folder firefly created" in " ".join(res.output.split())
    assert (mine / "canary.txt").read_text() == "do not delete"
    assert sorted(p.name for p in mine.iterdir()) == ["canary.txt"]


def test_stage_never_the_dataset_or_run_dir(tmp_path):
    ds = _dataset(tmp_path, {"id": ["a"], "result": ["ok"]})
    (ds.parent / "config.json").write_text("{}")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    for target in (ds, ds.parent, ds / "data", tmp_path):
        res = _dry_run(ds, target)
        assert res.exit_code == 1, (target, res.output)
        assert "may not be, contain or lie inside" in " ".join(res.output.split())
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before


def test_restaging_replaces_only_what_firefly_staged(tmp_path):
    ds = _dataset(tmp_path, {"id": ["a"], "result": ["ok"]})
    stage = tmp_path / "stage"
    assert _dry_run(ds, stage).exit_code == 0
    assert (stage / STAGE_MARKER).exists()
    assert _dry_run(ds, stage).exit_code == 0  # its own folder: replaced
    (stage / "data" / "canary.txt").write_text("user file")
    with pytest.raises(StageError, match="holds files firefly did not stage"):
        stage_dataset(ds, stage)
    assert (stage / "data" / "canary.txt").read_text() == "user file"
