"""``FireflyGRPOConfig``: TRL's GRPOConfig plus the firefly dataset/simulator/reward knobs, from YAML."""

from __future__ import annotations

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
    simulator_tier: str = field(default="fuzzy", metadata={"help": "'exact' (strict replay) or 'fuzzy'."})
    partial_credit: bool = field(default=False, metadata={"help": "Reward the share of matching fields."})
    malformed_penalty: float = field(default=0.1, metadata={"help": "Penalty per malformed tool call."})
    tiny_model: bool = field(default=False, metadata={"help": "Build a tiny random Qwen3 locally (CPU smoke)."})

    def __post_init__(self) -> None:
        if self.simulator_tier not in ("exact", "fuzzy"):
            raise ValueError(f"simulator_tier must be 'exact' or 'fuzzy', got {self.simulator_tier!r}")
        if not 0 <= self.malformed_penalty <= 1:
            raise ValueError(f"malformed_penalty must be in [0, 1], got {self.malformed_penalty}")
        super().__post_init__()


def load_config(path: str | Path, **overrides: Any) -> FireflyGRPOConfig:
    """Read a YAML file into FireflyGRPOConfig; unknown keys are an error naming the key."""
    import dataclasses

    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(FireflyGRPOConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown config key(s) {unknown}")
    return FireflyGRPOConfig(**data)
