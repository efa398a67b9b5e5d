"""`firefly fleet install`: bytecode compiled at install time, bounded concurrency, npm overrides."""

import base64
import hashlib
import json
import threading
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firefly_eval.cli.main import app
from firefly_eval.mcp import install
from firefly_eval.mcp.config import load_fleet
from firefly_eval.mcp.install import ADAPTERS, InstallResult, install_fleet, install_server, npm_manifest
from firefly_eval.schema import ServerSpec

runner = CliRunner()


def _wheel(folder: Path, name: str = "tinypkg", version: str = "0.1") -> None:
    """A minimal pure-Python wheel (one module), so uv installs it with no index and no network."""
    files = {
        f"{name}/__init__.py": "VALUE = 42\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                             "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)


def _pypi_spec(tmp_path: Path) -> ServerSpec:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels)
    return ServerSpec(name="tiny", command="uvx", args=["--from", "tinypkg==0.1", "tiny"], registry="pypi",
                      package="tinypkg", version="0.1",
                      install_env={"UV_FIND_LINKS": str(wheels), "UV_NO_INDEX": "1",
                                   "UV_CACHE_DIR": str(tmp_path / "uv-cache")})


def test_python_server_is_installed_with_bytecode(tmp_path):
    spec = _pypi_spec(tmp_path)
    res = install_server(spec, tmp_path / "fleet")
    assert res.status == "installed", res.detail
    site = next((tmp_path / "fleet" / "tiny" / "lib").glob("python*/site-packages"))
    assert (site / "tinypkg" / "__init__.py").exists()
    # nothing imported it: a .pyc is there only because the install compiled it
    assert list((site / "tinypkg" / "__pycache__").glob("__init__.cpython-*.pyc"))
    assert install_server(spec, tmp_path / "fleet").status == "skipped"


def test_installs_run_jobs_at_a_time(monkeypatch, tmp_path):
    jobs = 3
    barrier = threading.Barrier(jobs, timeout=30)  # passes only when `jobs` installs run at once
    lock = threading.Lock()
    running, peak = [0], [0]

    def fake(spec, fleet_dir, timeout=900):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        barrier.wait()
        with lock:
            running[0] -= 1
        return InstallResult(spec.name, "installed", 0.0)

    monkeypatch.setattr(install, "install_server", fake)
    specs = [ServerSpec(name=f"s{i}", command="x") for i in range(2 * jobs)]
    started, done = [], []
    results = install_fleet(specs, tmp_path, jobs=jobs, on_start=started.append, on_done=done.append)
    assert peak[0] == jobs
    assert [r.server for r in results] == sorted(s.name for s in specs)
    assert sorted(started) == sorted(r.server for r in done) == sorted(s.name for s in specs)


def test_jobs_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="jobs must be at least 1, got 0"):
        install_fleet([], tmp_path, jobs=0)
    res = runner.invoke(app, ["fleet", "install", "--jobs", "0"])
    assert res.exit_code == 2 and "--jobs" in res.output


def test_only_names_an_unknown_server(tmp_path):
    fleet = tmp_path / "f.json"
    fleet.write_text(json.dumps({"mcpServers": {"a": {"command": "true"}}}))
    res = runner.invoke(app, ["fleet", "install", "--fleet", str(fleet), "--only", "nope"])
    assert res.exit_code == 2
    assert "error: --only: no server nope in the fleet" in res.output


def test_npm_overrides_go_into_the_prefix_manifest():
    spec = ServerSpec(name="db", command="npx", registry="npm", package="some-db-server", version="1.0.0",
                      npm_overrides={"sqlite3": "firefly:sqlite3", "better-sqlite3": "npm:libsql@0.5.29"})
    manifest, adapters = npm_manifest(spec)
    assert manifest["overrides"] == {"sqlite3": "file:.firefly-adapters/sqlite3",
                                     "better-sqlite3": "npm:libsql@0.5.29"}
    assert adapters == {"sqlite3": ADAPTERS["sqlite3"]}
    pkg = json.loads(ADAPTERS["sqlite3"]["package.json"])
    assert pkg["name"] == "sqlite3" and pkg["main"] == "index.js" and "@appthreat/sqlite3" in pkg["dependencies"]
    assert "require('@appthreat/sqlite3')" in ADAPTERS["sqlite3"]["index.js"]
    plain = ServerSpec(name="p", command="npx", registry="npm", package="x", version="1")
    assert npm_manifest(plain) == ({"name": "firefly-server-p", "private": True}, {})


def test_unknown_adapter_is_a_clear_failure(tmp_path):
    spec = ServerSpec(name="db", command="npx", registry="npm", package="x", version="1",
                      npm_overrides={"sqlite3": "firefly:nope"})
    with pytest.raises(ValueError, match=r"server 'db': firefly.npm_overrides.sqlite3: unknown adapter "
                                         r"'firefly:nope' \(known: firefly:sqlite3\)"):
        npm_manifest(spec)
    res = install_server(spec, tmp_path)
    assert res.status == "failed" and "unknown adapter 'firefly:nope'" in res.detail
    assert not (tmp_path / "db").exists()


def test_default_fleet_native_sqlite_servers_use_prebuilt_substitutes():
    specs = {s.name: s for s in load_fleet()}
    assert specs["mcpsqlite"].npm_overrides == specs["eadb"].npm_overrides == {"sqlite3": "firefly:sqlite3"}
    assert specs["dbhub"].npm_overrides == specs["memkeeper"].npm_overrides == \
        {"better-sqlite3": "npm:libsql@0.5.29"}
    for spec in specs.values():
        npm_manifest(spec)  # every override resolves


def test_marker_changes_with_overrides_and_install_env():
    base = ServerSpec(name="db", command="npx", registry="npm", package="x", version="1")
    assert install._marker(base) == "x@1"
    assert install._marker(base.model_copy(update={"npm_overrides": {"a": "npm:b@1"}})) == "x@1 a=npm:b@1"
    assert install._marker(base.model_copy(update={"install_env": {"K": "v"}})) == "x@1 env:K=v"
