"""pyproject's pytest filterwarnings hide only the known third-party warnings: a new one still shows."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_known_warnings_are_filtered_and_a_new_one_still_shows(tmp_path):
    (tmp_path / "test_emit.py").write_text(textwrap.dedent("""
        import warnings

        def test_emit():
            # the known one, as inspect_ai's retry raises it (tenacity's message, attributed to inspect_ai)
            warnings.warn_explicit("The 'initial' parameter is deprecated, use 'multiplier' instead",
                                   DeprecationWarning, "_retry.py", 134, module="inspect_ai.model._retry")
            # the same message from our own code is not hidden
            warnings.warn_explicit("The 'initial' parameter is deprecated, use 'multiplier' instead",
                                   DeprecationWarning, "llm.py", 1, module="firefly_eval.generation.llm")
            warnings.warn("brand-new deprecation in our code", DeprecationWarning)
    """))
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
                          str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), str(tmp_path / "test_emit.py")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "1 passed, 2 warnings" in out
    assert "brand-new deprecation in our code" in out
    assert "llm.py:1: DeprecationWarning: The 'initial' parameter" in out
    assert "_retry.py" not in out
