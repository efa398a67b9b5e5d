"""Secrets never reach anything firefly keeps: results, shards, calls parquet, datasets, stderr files (issue 20, item 1)."""

import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from firefly_eval.mcp.client import ServerConnection, ServerError
from firefly_eval.mcp.config import firefly_home, redact_value, secret_values
from firefly_eval.schema import ServerSpec

LEAKY = Path(__file__).parent / "leaky_server.py"
TOKEN = "zq-planted-token-7f3a91c2"
API_KEY = "literal-api-key-55d0e1"  # written into the fleet itself; marked secret by its name


def test_secret_values_cover_var_references_and_marked_entries(monkeypatch):
    monkeypatch.setenv("MY_TOKEN", TOKEN)
    spec = ServerSpec(name="s", command="x", args=["--token", "${MY_TOKEN}"],
                      env={"API_KEY": API_KEY, "REGION": "eu-west-1-long", "DB": "${SANDBOX}/db",
                           "OPAQUE": "hunter2-opaque"}, secret_env=["OPAQUE"])
    assert secret_values(spec) == {"MY_TOKEN": TOKEN, "API_KEY": API_KEY, "OPAQUE": "hunter2-opaque"}


def test_redact_value_reaches_nested_json_escaped_and_base64_content():
    secret = 'pa"ss\\word-123'
    result = {"content": [{"type": "text", "text": json.dumps({"pw": secret})},
                          {"type": "image", "data": base64.b64encode(f"x{secret}y".encode()).decode(),
                           "mimeType": "image/png"}],
              "structuredContent": {"nested": [{"pw": secret}]}}
    out = redact_value(result, {"PW": secret})
    dumped = json.dumps(out)
    assert "ss\\\\word" not in dumped and "«redacted:PW»" in out["content"][0]["text"]
    assert out["structuredContent"] == {"nested": [{"pw": "«redacted:PW»"}]}
    assert base64.b64decode(out["content"][1]["data"]) == "x«redacted:PW»y".encode()


def _leaky(**env: str) -> ServerSpec:
    return ServerSpec(name="leaky", command=sys.executable, args=[str(LEAKY)],
                      env={"LEAKY_TOKEN": "${LEAKY_TOKEN_SRC}", "LEAKY_API_KEY": API_KEY, **env})


def test_results_and_stderr_files_are_redacted_and_cleaned_up(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKY_TOKEN_SRC", TOKEN)
    before = set(Path(tempfile.gettempdir()).glob("firefly-leaky-*.stderr"))
    sandbox = tmp_path / "root" / "leaky"
    sandbox.mkdir(parents=True)

    async def go() -> tuple[dict, str, list[Path], str]:
        conn = ServerConnection(_leaky(), sandbox=sandbox)
        await conn.start()
        res = await conn.call_tool("leak", {})
        await asyncio.sleep(0.5)
        files = list((tmp_path / "root" / ".stderr").glob("*.stderr"))
        on_disk = "".join(f.read_text() for f in files)
        with pytest.raises(ServerError) as info:
            await conn.call_tool("crash", {})
        await conn.close()
        return res, on_disk, files, str(info.value)

    res, on_disk, files, crash = asyncio.run(go())
    text = json.dumps(res)
    assert TOKEN not in text and API_KEY not in text
    assert json.loads(res["content"][0]["text"])["b64"].startswith("«redacted:LEAKY_TOKEN_SRC»")  # base64 form too
    assert json.loads(res["content"][0]["text"])["token"] == "«redacted:LEAKY_TOKEN_SRC»"
    assert json.loads(res["content"][0]["text"])["key"] == "«redacted:LEAKY_API_KEY»"
    assert len(files) == 1  # inside the sandbox root, not the temp dir
    assert "starting with token «redacted:LEAKY_TOKEN_SRC»" in on_disk and "key=«redacted:LEAKY_API_KEY»" in on_disk
    assert TOKEN not in on_disk and API_KEY not in on_disk
    assert "dying, token «redacted:LEAKY_TOKEN_SRC»" in crash and TOKEN not in crash
    assert not any(f.exists() for f in files)  # removed on close
    assert set(Path(tempfile.gettempdir()).glob("firefly-leaky-*.stderr")) == before


def _everything_fleet(tmp_path: Path, extra: tuple[str, ...] = ()) -> Path:
    """The everything server with ``MY_TOKEN`` in its env; ``extra``: test-fleet servers beside it, the token in
    their env too (the everything server alone gives no task: its tools are chatter or common knowledge)."""
    from firefly_eval.mcp.config import default_fleet_path, test_fleet_path

    servers = {"everything": json.loads(default_fleet_path().read_text())["mcpServers"]["everything"]}
    servers |= {k: json.loads(test_fleet_path().read_text())["mcpServers"][k] for k in extra}
    servers = {k: {**e, "env": {**e.get("env", {}), "MY_TOKEN": "${MY_TOKEN}"}} for k, e in servers.items()}
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"mcpServers": servers}))
    return fleet


_everything = pytest.mark.skipif(not (firefly_home() / "fleet" / "everything").exists(),
                                 reason="the everything server is not installed (`firefly fleet install`)")


@pytest.mark.fleet
@_everything
def test_planted_env_var_through_get_env_is_recorded_redacted(tmp_path, monkeypatch):
    """The everything server's get-env returns the server's whole environment, the planted token included."""
    from firefly_eval.mcp.config import load_fleet
    from firefly_eval.mcp.fleet import Fleet
    from firefly_eval.simulator.records import record_to_row

    monkeypatch.setenv("MY_TOKEN", TOKEN)

    async def go():
        fleet = Fleet(load_fleet(_everything_fleet(tmp_path)), sandbox_root=tmp_path / "root")
        try:
            await fleet.start()
            return await fleet.call("everything", "get-env", {})
        finally:
            await fleet.close()

    rec = asyncio.run(go())
    assert not rec.is_error
    env = json.loads(rec.text())
    assert env["MY_TOKEN"] == "«redacted:MY_TOKEN»"  # the server had it; the record does not
    assert TOKEN not in rec.model_dump_json() and TOKEN not in json.dumps(record_to_row(rec), default=str)


@pytest.mark.fleet
@pytest.mark.slow
@_everything
def test_planted_env_var_never_reaches_a_generate_run(tmp_path):
    """`firefly generate` on the everything server: no file of the run holds the token (parquet decoded)."""
    run = tmp_path / "run"
    env = dict(os.environ, MY_TOKEN=TOKEN, FIREFLY_HOME=str(firefly_home()))
    firefly = Path(sys.executable).with_name("firefly")
    proc = subprocess.run([str(firefly), "generate", "-o", str(run), "-n", "30", "-f",
                           str(_everything_fleet(tmp_path, extra=("sqlite",)))],
                          env=env, capture_output=True, text=True, timeout=500)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert TOKEN not in proc.stdout + proc.stderr
    files = [f for f in run.rglob("*") if f.is_file()]
    assert any(f.suffix == ".parquet" for f in files) and list((run / "shards").glob("*.json"))
    for f in files:  # every file, decoded: parquet cells, JSON, text
        text = " ".join(json.dumps(r, default=str) for r in pq.read_table(f).to_pylist()) \
            if f.suffix == ".parquet" else f.read_text(errors="replace")
        assert TOKEN not in text, f
