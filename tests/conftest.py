import json
import sys
from pathlib import Path

import pytest

from firefly_eval.schema import ServerSpec

CHAOS = Path(__file__).parent / "mcp" / "chaos_server.py"


@pytest.fixture
def chaos_spec():
    def make(*extra: str, env: dict | None = None) -> ServerSpec:
        return ServerSpec(name="chaos", command=sys.executable, args=[str(CHAOS), *extra], env=env or {})

    return make


@pytest.fixture
def write_fleet(tmp_path):
    def write(obj) -> Path:
        p = tmp_path / "fleet.json"
        p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
        return p

    return write


@pytest.fixture(scope="session")
def installed_fleet():
    """``installed_fleet(path=None, only=())``: the specs of a fleet file (default: the test fleet), the
    servers named in ``only`` if given; skips the test when one of them is not installed."""
    from firefly_eval.mcp.config import firefly_home, load_fleet, test_fleet_path

    def specs(path: Path | None = None, only: tuple[str, ...] = ()) -> list[ServerSpec]:
        found = [s for s in load_fleet(path or test_fleet_path()) if not only or s.name in only]
        missing = [s.name for s in found if not (firefly_home() / "fleet" / s.name / ".firefly-installed").exists()]
        if missing:
            pytest.skip(f"test fleet not installed ({', '.join(missing)})")
        return found

    return specs
