from inspect_ai.model import ModelOutput, ModelUsage, get_model

from firefly_eval.tasks.heldout.doctor import run_doctor


def test_doctor_passes_the_oracle(tmp_path):
    checks = run_doctor("firefly/oracle", n=2, log_dir=str(tmp_path))
    assert all(c.ok for c in checks), checks


def test_doctor_flags_a_model_that_never_calls_tools(tmp_path):
    out = ModelOutput.from_content("mockllm/model", "The answer is 42.")
    out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    model = get_model("mockllm/model", custom_outputs=[out] * 40)
    checks = {c.name: c for c in run_doctor(model, n=2, log_dir=str(tmp_path))}
    assert checks["model answered"].ok
    assert not checks["tool calls emitted"].ok and not checks["valid submit"].ok
