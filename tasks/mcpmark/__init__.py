"""MCPMark adapter: a user's checkout of MCPMark tasks, run against real MCP servers in fresh sandboxes."""
