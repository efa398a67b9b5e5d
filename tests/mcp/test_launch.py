"""Servers die with the process that started them, even when it is killed with -9."""

import os
import signal
import subprocess
import sys
import time

import pytest

from firefly_eval.mcp.launch import wrap


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_a_launched_server_dies_when_its_parent_is_killed():
    # the parent starts a long-running "server" in its own session (as the MCP SDK does), prints its pid
    parent_code = (
        "import os, subprocess, sys, time\n"
        "from firefly_eval.mcp.launch import wrap\n"
        "cmd, args = wrap('sleep', ['300'], os.getpid())\n"
        "p = subprocess.Popen([cmd, *args], start_new_session=True)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    deadline = time.time() + 10
    while time.time() < deadline and not open(f"/proc/{child}/cmdline").read().startswith("sleep"):
        time.sleep(0.05)  # until the launcher has exec'ed into the server command
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 5
    while _alive(child) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the server outlived its killed parent"


def test_connections_start_servers_through_the_launcher(tmp_path):
    from firefly_eval.mcp.client import ServerConnection
    from firefly_eval.schema import ServerSpec

    spec = ServerSpec(name="echo", command=sys.executable, args=["-c", "print(1)"])
    params = ServerConnection(spec, sandbox=tmp_path)._params()
    cmd, args = wrap(sys.executable, ["-c", "print(1)"], os.getpid())
    assert params.command == cmd and params.args[:4] == args[:4] and params.args[-2:] == ["-c", "print(1)"]
