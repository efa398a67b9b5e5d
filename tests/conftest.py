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
