"""``FireflyGRPOConfig``: TRL's GRPOConfig plus the firefly dataset/simulator/reward knobs, from YAML."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trl import GRPOConfig

__all__ = ["FireflyGRPOConfig", "load_config"]


@dataclass
class FireflyGRPOConfig(GRPOConfig):
    """GRPO on FireFly tasks with simulator-backed multi-turn rollouts."""

    model_name_or_path: str = field(default="Qwen/Qwen3-4B", metadata={"help": "Policy model (HF id or local path)."})
    dataset: str = field(default="shipped", metadata={"help": "'shipped', a dataset folder or a Hub id."})
    dataset_split: str = field(default="train", metadata={"help": "Split to train on."})
    max_tasks: int | None = field(default=None, metadata={"help": "Use only the first N tasks (smoke runs)."})
    task_ids: list[str] | None = field(default=None, metadata={"help": "Use only these task ids (smoke runs)."})
    simulator_tier: str = field(default="fuzzy", metadata={"help": "'exact' (strict replay) or 'fuzzy'."})
    partial_credit: bool = field(default=False, metadata={"help": "Reward the share of matching fields."})
    malformed_penalty: float = field(default=0.1, metadata={"help": "Penalty per malformed tool call."})
    tools: str = field(default="servers", metadata={
        "help": "Tools offered per task, as the heldout task's `tools`: 'task', 'servers' or 'distractors:N'."})
    max_tool_output_bytes: int | None = field(default=4096, metadata={
        "help": "Cut each tool result to this many UTF-8 bytes (with a note) so turns fit max_completion_length; "
                "null: never. The harness agent does not cut results."})
    enable_thinking: bool = field(default=False, metadata={
        "help": "Qwen3 thinking mode, passed to the chat template as `enable_thinking` (rollouts and SFT warm-up)."})
    tiny_model: bool = field(default=False, metadata={"help": "Build a tiny random Qwen3 locally (CPU smoke)."})
    tiny_hidden_size: int = field(default=64, metadata={"help": "Hidden size of the tiny model."})
    tiny_head_dim: int = field(default=16, metadata={"help": "Attention head size of the tiny model (vLLM: >= 64)."})
    tiny_dtype: str = field(default="float32", metadata={"help": "dtype the tiny model is saved in ('bfloat16' "
                                                                   "like Qwen3 checkpoints)."})
    sft_warmup_steps: int = field(default=0, metadata={
        "help": "Before GRPO, this many SFT steps on the tasks' gold trajectories (replayed through the "
                "environment), so a tiny model emits tool calls. 0: none."})
    sft_learning_rate: float = field(default=3e-3, metadata={"help": "Learning rate of the SFT warm-up."})

    bf16_requested: bool | None = field(default=None, metadata={
        "help": "Set by load_config: the file's bf16 (a dry run on a CPU plans bf16 without enabling it)."})

    def __post_init__(self) -> None:
        if self.simulator_tier not in ("exact", "fuzzy"):
            raise ValueError(f"simulator_tier must be 'exact' or 'fuzzy', got {self.simulator_tier!r}")
        if not 0 <= self.malformed_penalty <= 1:
            raise ValueError(f"malformed_penalty must be in [0, 1], got {self.malformed_penalty}")
        if self.tools not in ("task", "servers") and not self.tools.startswith("distractors:"):
            raise ValueError(f"tools must be 'task', 'servers' or 'distractors:N', got {self.tools!r}")
        if self.max_tool_output_bytes is not None and self.max_tool_output_bytes < 1:
            raise ValueError(f"max_tool_output_bytes must be >= 1 or null, got {self.max_tool_output_bytes}")
        if self.sft_warmup_steps < 0:
            raise ValueError(f"sft_warmup_steps must be >= 0, got {self.sft_warmup_steps}")
        if self.tiny_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"tiny_dtype must be 'float32' or 'bfloat16', got {self.tiny_dtype!r}")
        if self.bf16 and self.use_transformers_continuous_batching:
            # TRL casts the policy itself to bf16 before continuous-batching generation: the fp32 master is lost.
            raise ValueError("bf16 with use_transformers_continuous_batching casts the fp32 master weights to bf16; "
                             "use vLLM or plain generation")
        kwargs = self.chat_template_kwargs or {}
        kwargs = json.loads(kwargs) if isinstance(kwargs, str) else dict(kwargs)
        if kwargs.get("enable_thinking", self.enable_thinking) != self.enable_thinking:
            raise ValueError("set thinking with enable_thinking, not chat_template_kwargs.enable_thinking")
        self.chat_template_kwargs = {**kwargs, "enable_thinking": self.enable_thinking}
        super().__post_init__()


def load_config(path: str | Path, dry_run: bool = False, **overrides: Any) -> FireflyGRPOConfig:
    """Read a YAML file into FireflyGRPOConfig; unknown keys are an error naming the key.

    With ``dry_run`` on a machine without CUDA, ``bf16`` is switched off (transformers refuses bf16 on
    a CPU) and the requested value is kept in ``bf16_requested``, so a GPU config can be planned here.
    """
    import dataclasses

    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    requested = bool(data.get("bf16", False))
    if dry_run:
        import torch

        if not torch.cuda.is_available():
            data.update(bf16=False, use_cpu=True)
    known = {f.name for f in dataclasses.fields(FireflyGRPOConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown config key(s) {unknown}")
    cfg = FireflyGRPOConfig(**data)
    cfg.bf16_requested = requested
    return cfg
