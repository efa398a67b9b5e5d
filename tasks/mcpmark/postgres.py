"""A real local PostgreSQL server for MCPMark postgres tasks (Debian ``postgresql`` binaries).

The cluster lives in a temp folder, owned by the ``postgres`` system user when running as root
(initdb refuses root), listens on 127.0.0.1 with trust auth, and is stopped at exit. Each
sample gets a fresh database; samples are serialised because tasks may create server-wide roles.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["LocalPostgres", "pg_bin", "shared_postgres"]

_SHARED: "LocalPostgres | None" = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(name: str) -> str | None:
    """A PostgreSQL server binary: on PATH, or where Debian puts it (/usr/lib/postgresql/<v>/bin)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: p.parts[-3])
    return str(candidates[-1]) if candidates else None


class LocalPostgres:
    def __init__(self) -> None:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("PostgreSQL server binaries not found: install Debian `postgresql` (make system-deps)")
        self._pg_ctl = pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="firefly-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "postgres"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run([*self._as, initdb, "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True, text=True)
        subprocess.run([*self._as, pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                        f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start"],
                       check=True, capture_output=True, text=True)
        atexit.register(self.stop)

    def env(self, database: str) -> dict[str, str]:
        return {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(self.port), "POSTGRES_USERNAME": self.user,
                "POSTGRES_PASSWORD": "", "POSTGRES_DATABASE": database, "PGHOST": "127.0.0.1",
                "PGPORT": str(self.port), "PGUSER": self.user, "PGDATABASE": database}

    def dsn(self, database: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql],
                             env={**os.environ, **self.env(database)}, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout.strip()

    def fresh_database(self, name: str) -> str:
        self.psql(f'DROP DATABASE IF EXISTS "{name}"')
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run([*self._as, self._pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
                           capture_output=True, text=True)
            shutil.rmtree(self.root, ignore_errors=True)


def shared_postgres() -> LocalPostgres:
    """One server per process, started on first use."""
    global _SHARED
    if _SHARED is None:
        _SHARED = LocalPostgres()
    return _SHARED
