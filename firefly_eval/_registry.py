"""Inspect entry point: every @task and @modelapi of the package, imported flat."""

# ruff: noqa: F401
from firefly_eval.providers import FireflyModelAPI
from firefly_eval.tasks.heldout.task import heldout
