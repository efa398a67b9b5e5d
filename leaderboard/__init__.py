"""Leaderboard: Inspect logs -> result rows -> paper tables, HTML page (published numbers alongside)."""
