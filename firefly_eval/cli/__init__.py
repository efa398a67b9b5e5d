"""The ``firefly`` command line: ``main.py`` holds the app, one module per command group.

``firefly_eval.cli.app`` is resolved lazily (PEP 562) so console scripts installed before the entry
point moved to ``firefly_eval.cli.main:app`` keep working, and importing a command module does not
build the whole app.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from firefly_eval.cli.main import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
