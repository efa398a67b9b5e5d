"""firefly-eval: verified tool-call data from real MCP servers, replayed offline, evaluated with Inspect."""

__version__ = "0.1.0"

__all__ = ["__version__"]
