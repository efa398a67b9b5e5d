"""Inspect entry point: every @task and @modelapi of the package, imported flat."""
