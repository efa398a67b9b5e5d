"""MCP-Atlas adapter: rows of ScaleAI/MCP-Atlas run on the fleet's matching servers, judged claim by claim."""
