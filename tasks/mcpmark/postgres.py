"""A real local PostgreSQL server for MCPMark postgres tasks (Debian ``postgresql`` binaries).

The cluster lives in a temp folder, owned by the ``postgres`` system user when running as root
(initdb refuses root), listens on 127.0.0.1 with trust auth, and is stopped at exit. Each
sample gets a fresh database named as upstream names it (``mcpmark_<category>_<task>_<timestamp>``,
``PostgresStateManager._create_initial_state``), cloned from a template database named after the
category when one exists (upstream restores ``<category>.backup`` files; ``restore_templates``),
and is dropped afterwards together with every role created since the cluster started, so each
epoch starts from the same cluster state. Samples are serialised (tasks create server-wide roles).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["LocalPostgres", "pg_bin", "shared_postgres"]

_SHARED: LocalPostgres | None = None


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
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # as root the server runs as the postgres user, who must reach the data folder: a caller's TMPDIR
        # (a root-only pytest tmp folder, a scripted run's workdir) may not be traversable, /tmp is
        self.root = Path(tempfile.mkdtemp(prefix="firefly-pg-", dir="/tmp" if self._as else None))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "postgres"
        if self._as:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run([*self._as, initdb, "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True, text=True)
        subprocess.run([*self._as, pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                        f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start"],
                       check=True, capture_output=True, text=True)
        atexit.register(self.stop)
        self._baseline_roles = set(self.roles())

    def roles(self) -> list[str]:
        """Role names in the cluster."""
        return self.psql("SELECT rolname FROM pg_roles ORDER BY 1").splitlines()

    def databases(self) -> list[str]:
        """Database names in the cluster (templates excluded)."""
        return self.psql("SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1").splitlines()

    def env(self, database: str) -> dict[str, str]:
        return {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(self.port), "POSTGRES_USERNAME": self.user,
                "POSTGRES_PASSWORD": "", "POSTGRES_DATABASE": database, "PGHOST": "127.0.0.1",
                "PGPORT": str(self.port), "PGUSER": self.user, "PGDATABASE": database,
                "DATABASE_URL": f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"}

    def dsn(self, database: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql],
                             env={**os.environ, **self.env(database)}, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout.strip()

    def task_database(self, category: str, task: str) -> tuple[str, bool]:
        """A new database for one run of a task; True when it was cloned from the category's template."""
        name = f"mcpmark_{category}_{task}_{time.strftime('%Y%m%d%H%M%S')}{time.time_ns() % 10**6:06d}"
        templated = category in self.databases()
        self.psql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{category}"' if templated else ""))
        return name, templated

    def reset(self, database: str) -> None:
        """Drop ``database`` and every role created since the cluster started."""
        self.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' "
                  "AND pid <> pg_backend_pid()")
        self.psql(f'DROP DATABASE IF EXISTS "{database}"')
        for role in set(self.roles()) - self._baseline_roles:
            self.psql(f'DROP OWNED BY "{role}" CASCADE; DROP ROLE IF EXISTS "{role}"')

    def restore_templates(self, state_dir: Path) -> list[str]:
        """Restore each ``<db>.backup`` (pg_dump custom format) of ``state_dir`` once, as upstream does."""
        restored = []
        for backup in sorted(Path(state_dir).glob("*.backup")):
            if backup.stem in self.databases():
                continue
            self.psql(f'CREATE DATABASE "{backup.stem}"')
            out = subprocess.run([pg_bin("pg_restore") or "pg_restore", "-h", "127.0.0.1", "-p", str(self.port),
                                  "-U", self.user, "-d", backup.stem, "--no-owner", str(backup)],
                                 capture_output=True, text=True)
            if out.returncode != 0 and "ERROR" in out.stderr:
                raise RuntimeError(f"pg_restore {backup.name} failed: {out.stderr.strip()[-800:]}")
            restored.append(backup.stem)
        return restored

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
