"""MCP client layer: fleet configs, isolated installs, live stdio connections."""

from firefly_eval.mcp.client import ServerConnection, ServerError, ServerStartError, ToolCallTimeout
from firefly_eval.mcp.config import FleetConfigError, default_fleet_path, load_fleet
from firefly_eval.mcp.fleet import Fleet

__all__ = [
    "Fleet",
    "FleetConfigError",
    "ServerConnection",
    "ServerError",
    "ServerStartError",
    "ToolCallTimeout",
    "default_fleet_path",
    "load_fleet",
]
