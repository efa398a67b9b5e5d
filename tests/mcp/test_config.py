import pytest

from firefly_eval.mcp.config import FleetConfigError, expand, load_fleet, redact


def test_default_fleet_has_40_pinned_servers():
    specs = load_fleet()
    assert len(specs) >= 40
    assert all(s.package and s.version for s in specs)
    assert not [s.name for s in specs if s.host_code]


def test_malformed_json_names_file_and_line(write_fleet):
    p = write_fleet('{"mcpServers": {"a": {"command": "x",}}}')
    with pytest.raises(FleetConfigError, match=r"fleet.json: invalid JSON at line 1"):
        load_fleet(p)


def test_unknown_key_is_named(write_fleet):
    p = write_fleet({"mcpServers": {"a": {"command": "x", "argz": []}}})
    with pytest.raises(FleetConfigError, match=r"mcpServers.a: unknown key\(s\) \['argz'\]"):
        load_fleet(p)


def test_bad_metadata_field_is_named(write_fleet):
    p = write_fleet({"mcpServers": {"a": {"command": "x", "firefly": {"stateful": "maybe"}}}})
    with pytest.raises(FleetConfigError, match=r"mcpServers.a.stateful"):
        load_fleet(p)


def test_missing_command(write_fleet):
    with pytest.raises(FleetConfigError, match=r"mcpServers.a.command: required"):
        load_fleet(write_fleet({"mcpServers": {"a": {"args": []}}}))


def test_env_expansion_and_redaction(monkeypatch):
    monkeypatch.setenv("MY_TOKEN", "s3cr3t-value")
    assert expand("Bearer ${MY_TOKEN}", {}) == "Bearer s3cr3t-value"
    assert expand("${SANDBOX}/db", {"SANDBOX": "/tmp/x"}) == "/tmp/x/db"
    with pytest.raises(FleetConfigError, match="NOPE_VAR"):
        expand("${NOPE_VAR}", {})
    assert redact("failed with s3cr3t-value", {"MY_TOKEN": "s3cr3t-value"}) == "failed with «redacted:MY_TOKEN»"
