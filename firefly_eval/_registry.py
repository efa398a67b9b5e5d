"""Inspect entry point: every @task and @modelapi of the package, imported flat."""

# ruff: noqa: F401
from firefly_eval.providers import FireflyModelAPI
from firefly_eval.tasks.heldout.task import heldout
from firefly_eval.tasks.mcp_atlas.task import mcp_atlas
from firefly_eval.tasks.mcpmark.task import mcpmark

try:  # Tau2-Bench adapters need inspect_evals (extra `benchmarks`)
    from firefly_eval.tasks.tau2.task import tau2_airline, tau2_retail, tau2_telecom
except ImportError:  # pragma: no cover - registered only when inspect_evals is installed
    pass
