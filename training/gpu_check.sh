#!/usr/bin/env bash
# GPU check of the GRPO recipe (< 5 minutes on one GPU, nothing downloaded): a tiny random Qwen3 saved in
# bf16 is built locally, warmed up on two tasks' gold trajectories, then trained 2 GRPO steps with vLLM
# colocated (training/configs/tiny_gpu_check.yaml). Fails unless the loss is finite, the master weights
# are float32 before and after, the weights changed, and a rollout called a tool through the simulator.
# Needs the train and gpu extras:  make install-train && .venv/bin/pip install -e ".[gpu]"
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${1:-runs/train/gpu-check}
rm -rf "$OUT"
timeout "${GPU_CHECK_TIMEOUT:-300}" "$PY" - "$OUT" <<'PYEOF'
import json, math, sys, time
from pathlib import Path

import torch
assert torch.cuda.is_available(), "no CUDA device visible"
import vllm  # noqa: F401  (the gpu extra)

from firefly_eval.training.config import load_config
from firefly_eval.training.train import train

out = Path(sys.argv[1])
t0 = time.time()
train(load_config("training/configs/tiny_gpu_check.yaml", output_dir=str(out)))
s = json.loads((out / "firefly_train.json").read_text())
steps = [h for h in s["log_history"] if "loss" in h and "tools/call_frequency" in h]
report = {"seconds": round(time.time() - t0), "global_step": s["global_step"], "master_dtype": s["master_dtype"],
          "master_dtype_after": s["master_dtype_after"], "weight_change_l2": s["weight_change_l2"],
          "sft_loss_first_last": [s["sft_warmup_losses"][0], s["sft_warmup_losses"][-1]],
          "steps": [{k: h.get(k) for k in ("loss", "reward", "tools/call_frequency", "rewards/sim_calls/mean",
                                           "rewards/sim_tier_exact/mean", "rewards/FireflyEnv/mean")} for h in steps]}
print(json.dumps(report, indent=1))
assert s["global_step"] == 2 and len(steps) == 2, "expected 2 logged GRPO steps"
assert all(math.isfinite(float(h["loss"])) for h in steps), "loss not finite"
assert s["master_dtype"] == s["master_dtype_after"] == "torch.float32", "master weights are not float32"
assert s["weight_change_l2"] > 0, "weights did not change"
assert any(float(h["rewards/sim_calls/mean"]) > 0 for h in steps), "no rollout called a tool through the simulator"
print("GPU check passed")
PYEOF
