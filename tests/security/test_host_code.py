"""Servers that run code on the host are refused where a model or any MCP client drives them
(issue 20 "host code execution"; the behaviour is issue 18 item 6: ``firefly.host_code: true``
servers are refused by ``generate --explorer MODEL`` and ``--miss-policy live`` unless
``--allow-host-code``)."""

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from firefly_eval.cli.main import app
from firefly_eval.mcp.config import (
    FleetConfigError,
    HostCodeRefused,
    firefly_home,
    load_fleet,
    refuse_host_code,
)
from firefly_eval.tasks.heldout.dataset import shipped_path

# the escape issue 20 found: an object-graph walk from a literal to os, then a file created outside the sandbox
ESCAPE = ("[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]"
          ".__init__.__globals__['open']({target!r}, 65)")


def _default_entry(name: str) -> dict | None:
    from firefly_eval.mcp.config import default_fleet_path

    return json.loads(default_fleet_path().read_text())["mcpServers"].get(name)


def _host_code_fleet(tmp_path: Path) -> Path:
    entry = _default_entry("gnomon") or {"command": "uvx", "args": ["--from", "gnomon-mcp==0.1.2", "gnomon-mcp"],
                                         "firefly": {"registry": "pypi", "package": "gnomon-mcp", "version": "0.1.2"}}
    entry = json.loads(json.dumps(entry))
    entry.setdefault("firefly", {})["host_code"] = True
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"mcpServers": {"gnomon": entry}}))
    return fleet


def test_refusal_names_every_host_code_server(tmp_path):
    specs = load_fleet(_host_code_fleet(tmp_path))
    with pytest.raises(HostCodeRefused, match=r"generate --explorer MODEL: refusing server\(s\) that run code on "
                                              r"this machine \(firefly.host_code: true\): gnomon; .*--allow-host-code"):
        refuse_host_code(specs, "generate --explorer MODEL")
    assert issubclass(HostCodeRefused, FleetConfigError)
    refuse_host_code(specs, "generate --explorer MODEL", allow=True)  # explicitly allowed: no error


def test_simulate_live_refuses_host_code_servers(tmp_path):
    fleet = _host_code_fleet(tmp_path)
    res = CliRunner().invoke(app, ["simulate", "--calls", str(shipped_path()), "--miss-policy", "live",
                                   "--fleet", str(fleet)])
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    assert "simulate --miss-policy live: refusing server(s) that run code on this machine" in out
    assert "gnomon" in out and "--allow-host-code" in out


def test_generate_with_a_model_explorer_refuses_host_code_servers(tmp_path):
    res = CliRunner().invoke(app, ["generate", "-o", str(tmp_path / "run"), "-n", "2", "-f",
                                   str(_host_code_fleet(tmp_path)), "--explorer", "mockllm/model"])
    assert res.exit_code != 0
    assert "refusing server(s) that run code on this machine" in " ".join(res.output.split())
    assert not (tmp_path / "run" / "shards").exists()  # refused before any server started


def _gnomon_escapes(tmp_path: Path) -> bool:
    from firefly_eval.mcp.client import ServerConnection

    spec = next(s for s in load_fleet(_host_code_fleet(tmp_path)))
    target = tmp_path / "outside" / "escaped.txt"
    target.parent.mkdir()

    async def go() -> None:
        conn = ServerConnection(spec, sandbox=tmp_path / "sandbox" / "gnomon")
        try:
            await conn.start()
            await conn.call_tool("calc", {"expressions": [ESCAPE.format(target=str(target))]})
        finally:
            await conn.close()

    asyncio.run(go())
    return target.exists()


_gnomon = _default_entry("gnomon")
_installed = (firefly_home() / "fleet" / "gnomon").exists()


@pytest.mark.fleet
@pytest.mark.skipif(not _installed, reason="gnomon is not installed (`firefly fleet install`)")
@pytest.mark.xfail(condition=bool(_gnomon) and not (_gnomon or {}).get("firefly", {}).get("host_code"), strict=True,
                   reason="default fleet ships gnomon unmarked: remove it or mark it firefly.host_code (issue 18 item 6)")
def test_gnomon_calc_escape_is_refused_or_confined(tmp_path):
    """The escape is real (a file appears outside the sandbox), so the default fleet must either drop
    gnomon or mark it host_code, which the explorer and the live miss policy then refuse."""
    assert _gnomon_escapes(tmp_path), "the escape no longer works: the server is confined, nothing to refuse"
    entry = _default_entry("gnomon")
    assert entry is None or entry.get("firefly", {}).get("host_code") is True
