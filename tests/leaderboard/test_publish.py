"""Publishing through the real huggingface_hub upload path, against a local fake Hub on 127.0.0.1."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from firefly_eval.leaderboard.publish import SecretFound, find_secrets, publish_folder, stage_dataset
from firefly_eval.tasks.heldout.dataset import shipped_path

HERE = Path(__file__).resolve().parents[1]


def _push(folder: Path, repo: str, url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run the upload in a subprocess: HF_ENDPOINT is read when huggingface_hub is imported."""
    code = ("import sys, json; from pathlib import Path; "
            "from firefly_eval.leaderboard.publish import publish_folder; "
            f"print(json.dumps(publish_folder(Path({str(folder)!r}), {repo!r})))")
    env = dict(os.environ, HF_ENDPOINT=url, HF_TOKEN="hf_fake_token_for_tests", HF_HUB_DISABLE_XET="1",
               HF_HOME=str(tmp_path / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_OFFLINE="0")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_dataset_push_is_real_and_idempotent(tmp_path):
    sys.path.insert(0, str(HERE))
    from helpers.fake_hub import FakeHub

    folder = stage_dataset(shipped_path(), tmp_path / "stage")
    assert (folder / "data" / "test-00000-of-00001.parquet").exists() and (folder / "calls").is_dir()
    with FakeHub() as hub:
        first = _push(folder, "lumen/firefly-heldout", hub.url, tmp_path)
        assert first.returncode == 0, first.stderr[-2000:]
        assert hub.commits["lumen/firefly-heldout"] == 1
        stored = hub.repos["lumen/firefly-heldout"]
        assert stored["README.md"] == (folder / "README.md").read_bytes()
        assert "calls/calls-00000-of-00001.parquet" in stored
        again = _push(folder, "lumen/firefly-heldout", hub.url, tmp_path)
        assert again.returncode == 0, again.stderr[-2000:]
        assert hub.commits["lumen/firefly-heldout"] == 1  # same content: no new commit


def test_secrets_are_refused_before_anything_is_pushed(tmp_path, monkeypatch):
    folder = stage_dataset(shipped_path(), tmp_path / "stage")
    (folder / "notes.txt").write_text("debug: token hf_" + "a" * 34)
    with pytest.raises(SecretFound, match="Hugging Face token"):
        publish_folder(folder, "lumen/x")
    (folder / "notes.txt").unlink()
    monkeypatch.setenv("LUMEN_DB_PASSWORD", "pw-0123456789")
    fleet = tmp_path / "fleet.json"
    fleet.write_text('{"mcpServers": {"db": {"command": "x", "env": {"PW": "${LUMEN_DB_PASSWORD}"}}}}')
    (folder / "leak.json").write_text('{"dsn": "postgres://u:pw-0123456789@h"}')
    found = find_secrets(folder, fleet)
    assert found == ["leak.json column dsn: value of ${LUMEN_DB_PASSWORD} of server db",
                     "leak.json column dsn: Basic Auth Credentials"]


def test_a_run_of_the_shipped_fleet_is_scanned_against_it(tmp_path):
    """`firefly generate` without --fleet records fleet_file "default": the scan reads the shipped fleet."""
    from firefly_eval.leaderboard.publish import STAGE_MARKER, _needles

    (tmp_path / STAGE_MARKER).write_text(json.dumps({"fleets": ["default"]}))
    _, unverified = _needles(tmp_path, None)
    assert not any("cannot be read" in u for u in unverified), unverified
