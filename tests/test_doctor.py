"""`firefly doctor`: unreachable models are told apart from models that answer without tool calls.

Offline: scripted ``mockllm/model`` outputs (each with ``usage`` set, so no tokenizer download), the
oracle, and a provider without its key; the CLI through typer's runner.
"""

import re
from pathlib import Path

from inspect_ai.model import ModelOutput, ModelUsage, get_model
from typer.testing import CliRunner

from firefly_eval.cli.main import app
from firefly_eval.tasks.heldout.doctor import error_cause, run_doctor

USAGE = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)


def _text(content: str) -> ModelOutput:
    out = ModelOutput.from_content("mockllm/model", content)
    out.usage = USAGE
    return out


def _call(function: str, arguments: dict) -> ModelOutput:
    out = ModelOutput.for_tool_call("mockllm/model", function, arguments)
    out.usage = USAGE
    return out


def _report_text(report) -> str:
    return "\n".join([report.verdict, *(c.detail for c in report.checks)])


def test_doctor_passes_the_oracle(tmp_path):
    report = run_doctor("firefly/oracle", n=2, log_dir=str(tmp_path))
    assert report.ok and all(c.status == "ok" for c in report.checks), report.checks
    assert report.model == "firefly/oracle" and report.verdict.startswith("ready")
    assert Path(report.log_path).is_file() and Path(report.log_path).parent == tmp_path


def test_a_model_that_answers_without_tool_calls_is_not_called_unreachable(tmp_path):
    model = get_model("mockllm/model", custom_outputs=[_text("The answer is 42.")] * 40)
    report = run_doctor(model, n=2, log_dir=str(tmp_path))
    checks = {c.name: c for c in report.checks}
    assert checks["model reached"].status == "ok" and report.cause is None
    assert checks["tool calls emitted"].status == "fail"
    assert checks["tool calls parse"].status == "skipped"  # not "0 of 0 failed to parse"
    assert checks["valid submit"].status == "fail"
    assert "answered but produced no parseable tool calls" in report.verdict
    assert "as text" not in report.verdict  # plain prose, no tool-call-like text: no parser claim


def test_tool_calls_left_in_the_text_point_at_the_parser(tmp_path):
    raw = '<tool_call>\n{"name": "read_query", "arguments": {"query": "SELECT 1"}}\n</tool_call>'
    model = get_model("mockllm/model", custom_outputs=[_text(raw)] * 40)
    report = run_doctor(model, n=1, log_dir=str(tmp_path))
    assert not report.ok and "tool-call parser" in report.verdict and "as text" in report.verdict
    assert "--tool-call-parser" in {c.name: c for c in report.checks}["tool calls emitted"].detail


def test_an_erroring_model_is_reported_once_with_its_cause(tmp_path):
    def refuse(*_args):
        raise ConnectionRefusedError("[Errno 111] Connection refused: http://127.0.0.1:9/v1")

    report = run_doctor(get_model("mockllm/model", custom_outputs=refuse), n=3, log_dir=str(tmp_path))
    checks = {c.name: c for c in report.checks}
    assert checks["model reached"].status == "fail"
    assert [c.status for c in report.checks[1:]] == ["skipped"] * 4
    assert "could not be reached" in report.verdict and "tool-call parser" not in _report_text(report)
    assert report.errored == report.samples == 3
    assert _report_text(report).count("Connection refused") == 1  # three errors, one cause
    assert "ConnectionRefusedError" in report.cause and report.hint and "base URL" in report.hint
    assert Path(report.log_path).is_file()


def test_calls_to_unknown_tools_are_counted(tmp_path):
    model = get_model("mockllm/model", custom_outputs=[_call("no_such_tool", {"x": 1}), _text("done")] * 20)
    report = run_doctor(model, n=1, log_dir=str(tmp_path))
    checks = {c.name: c for c in report.checks}
    assert checks["model reached"].ok and checks["tool calls emitted"].ok and checks["tool calls parse"].ok
    assert checks["tool names exist"].status == "fail" and re.match(r"(\d+) of \1 calls", checks["tool names exist"].detail)
    assert "unknown tools" in report.verdict


def test_error_cause_unwraps_retry_errors():
    tb = ("Traceback (most recent call last):\n"
          "httpcore.ConnectError: All connection attempts failed\n\nThe above exception ...\n"
          "openai.APIConnectionError: Connection error.\n\nThe above exception ...\n"
          "tenacity.RetryError: RetryError[<Future at 0x1 state=finished raised APIConnectionError>]\n")
    cause = error_cause("RetryError(<Future at 0x1 state=finished raised APIConnectionError>)", tb)
    assert cause == ("openai.APIConnectionError: Connection error. "
                     "(caused by httpcore.ConnectError: All connection attempts failed)")
    assert error_cause("plain message\nsecond line") == "plain message"


def test_cli_names_the_missing_key_once_and_blames_nothing_else(tmp_path, monkeypatch):
    for var in ("OPENAI_API_KEY", "AZUREAI_OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    res = CliRunner().invoke(app, ["doctor", "--model", "openai/gpt-4.1", "--log-dir", str(tmp_path)])
    out = " ".join(res.output.split())
    assert res.exit_code == 1, res.output
    assert "model: openai/gpt-4.1" in out and "verdict: the model could not be reached" in out
    # the provider's own error: the key, or the package when the providers extra is not installed
    named = len(re.findall(r"(?<![A-Z_])OPENAI_API_KEY", out)) or out.count("pip install openai")
    assert named == 1, res.output
    assert "parser" not in out and "0 of 0" not in out


def test_cli_prints_model_verdict_and_log(tmp_path):
    res = CliRunner().invoke(app, ["doctor", "--model", "firefly/oracle", "-n", "1", "--log-dir", str(tmp_path)])
    out = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert "model: firefly/oracle" in out and "verdict: ready" in out
    logs = list(tmp_path.glob("*.eval"))
    assert len(logs) == 1 and f"wrote {logs[0]}" in res.output.replace("\n", "")
