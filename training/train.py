"""``firefly train --config YAML``: GRPO with TRL, rollouts answered by the simulator.

:func:`build_recipe` builds everything but the weights (dataset rows, tool interfaces, simulator,
tokenizer with its tool-call round trip); :func:`plan` reports it for a dry run; :func:`train`
loads fp32 master weights (bf16 autocast comes from ``bf16: true``), optionally warms a tiny model
up on gold trajectories, and runs GRPO.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firefly_eval.training.config import FireflyGRPOConfig

__all__ = ["Recipe", "build_recipe", "check_tool_call_roundtrip", "load_policy", "plan", "train"]

_EXTRAS = ("torch", "transformers", "trl", "accelerate", "datasets", "vllm")


def check_tool_call_roundtrip(tokenizer: Any, chat_template_kwargs: dict[str, Any] | None = None) -> None:
    """Render single and parallel tool calls with the chat template and parse them back with TRL.

    Raises RuntimeError when they do not round-trip: training would otherwise see every tool
    call as plain text and silently earn zero reward.
    """
    from trl.chat_template_utils import add_response_schema, parse_response

    try:
        add_response_schema(tokenizer)
    except ValueError as exc:
        raise RuntimeError(f"chat template tool-call round trip failed: TRL cannot parse this template ({exc})") from exc
    cases = [
        [{"name": "filesystem__read_file", "arguments": {"path": "/a"}}],
        [{"name": "calc__add", "arguments": {"a": 1, "b": "two"}},
         {"name": "submit", "arguments": {"total": 2, "names": ["x"]}}],
    ]
    kwargs = dict(chat_template_kwargs or {})
    for calls in cases:
        prompt = [{"role": "user", "content": "hi"}]
        full = prompt + [{"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": c} for c in calls]}]
        prefix_ids = list(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True,
                                                        return_dict=False, **kwargs))
        full_ids = list(tokenizer.apply_chat_template(full, tokenize=True, return_dict=False, **kwargs))
        completion = full_ids[len(prefix_ids):]
        parsed = parse_response(tokenizer, completion, prefix=prefix_ids)
        got = [(c["function"]["name"], c["function"]["arguments"]) for c in parsed.get("tool_calls") or []]
        want = [(c["name"], c["arguments"]) for c in calls]
        if got != want:
            raise RuntimeError(f"chat template tool-call round trip failed: rendered {want}, parsed {got}; "
                               "use a tokenizer whose chat template TRL can parse (see trl/chat_templates)")


def load_policy(path: str) -> Any:
    """The policy with fp32 master weights, whatever dtype the checkpoint was saved in.

    transformers 5 loads ``dtype="auto"`` (a bf16 checkpoint stays bf16, and AdamW would then update
    bf16 weights, losing small updates); compute still runs in bf16 under ``bf16: true`` autocast.
    """
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)


@dataclass
class Recipe:
    """Everything a run needs except the weights."""

    cfg: FireflyGRPOConfig
    tasks: list[Any]
    rows: list[dict[str, Any]]
    interfaces: dict[str, Any]
    golds: dict[str, dict[str, Any]]
    sim: Any
    model_path: str
    tokenizer: Any
    tokenizer_note: str

    def env_factories(self) -> dict[str, Any]:
        """``environment_factory`` for TRL (task id -> factory)."""
        from firefly_eval.training.env import make_env_factories

        c = self.cfg
        return make_env_factories(self.sim, self.interfaces, self.golds, c.partial_credit, c.malformed_penalty,
                                  c.max_tool_output_bytes)

    def rollout_template(self) -> str | None:
        """The chat template TRL will render rollouts with (its training template when the model's is not
        prefix-preserving; ``None``: the tokenizer's own)."""
        from trl.chat_template_utils import get_training_chat_template, is_chat_template_prefix_preserving

        return None if is_chat_template_prefix_preserving(self.tokenizer) else \
            get_training_chat_template(self.tokenizer)


def _stand_in_tokenizer(out: Path, texts: list[str]) -> Any:
    from transformers import AutoTokenizer

    from firefly_eval.training.tiny import build_tokenizer

    return AutoTokenizer.from_pretrained(build_tokenizer(out, texts))


def build_recipe(cfg: FireflyGRPOConfig, allow_stand_in_tokenizer: bool = False) -> Recipe:
    """Dataset rows, interfaces (as the harness builds them), simulator and tokenizer; no weights loaded.

    With ``allow_stand_in_tokenizer`` (dry runs), a tokenizer that cannot be loaded here (offline, no cache)
    is replaced by a local one carrying TRL's Qwen3 template, and the plan says so.
    """
    from transformers import AutoTokenizer

    from firefly_eval.simulator import Simulator
    from firefly_eval.tasks.heldout.dataset import load_bundle, stateful_servers
    from firefly_eval.tasks.heldout.interface import build_interface
    from firefly_eval.training.data import task_to_row
    from firefly_eval.training.tiny import build_tiny_model

    tasks, index, tools = load_bundle(cfg.dataset, cfg.dataset_split)
    if cfg.task_ids:
        by_id = {t.id: t for t in tasks}
        missing = [i for i in cfg.task_ids if i not in by_id]
        if missing:
            raise ValueError(f"task_ids not in {cfg.dataset} split {cfg.dataset_split}: {missing}")
        tasks = [by_id[i] for i in cfg.task_ids]
    tasks = tasks[: cfg.max_tasks] if cfg.max_tasks else tasks
    if not tasks:
        raise ValueError(f"no tasks in {cfg.dataset} split {cfg.dataset_split}")
    interfaces = {t.id: build_interface(t, tools, cfg.tools) for t in tasks}
    rows = [task_to_row(t) for t in tasks]
    texts = [json.dumps(r["prompt"]) + json.dumps(interfaces[r["task_id"]].chat_tools()) for r in rows]
    model_path, note = cfg.model_name_or_path, cfg.model_name_or_path
    if cfg.tiny_model:
        from transformers import set_seed

        set_seed(cfg.seed)  # the random init, hence the warm-up, is reproducible
        model_path = str(build_tiny_model(Path(cfg.output_dir) / "tiny-base", texts, hidden=cfg.tiny_hidden_size,
                                          head_dim=cfg.tiny_head_dim, dtype=cfg.tiny_dtype))
        note = f"tiny local model {model_path}"
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
    except OSError as exc:
        if not allow_stand_in_tokenizer:
            raise
        tokenizer = _stand_in_tokenizer(Path(cfg.output_dir) / "stand-in-tokenizer", texts)
        note = (f"{model_path} not loadable here ({str(exc).splitlines()[0][:120]}); round trip checked on a "
                "local stand-in with TRL's qwen3 template")
    check_tool_call_roundtrip(tokenizer, cfg.chat_template_kwargs)
    tiers = frozenset({"exact"}) if cfg.simulator_tier == "exact" else frozenset({"exact", "fuzzy"})
    sim = Simulator(index, tools=tools, tiers=tiers, stateful_servers=stateful_servers(cfg.dataset))
    return Recipe(cfg, tasks, rows, interfaces, {t.id: t.answer for t in tasks}, sim, model_path, tokenizer, note)


def _param_count(cfg: FireflyGRPOConfig, model_path: str) -> tuple[int | None, str]:
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        config = AutoConfig.from_pretrained(model_path)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
        return sum(p.numel() for p in model.parameters()), "from the model config (meta device)"
    except (OSError, ValueError) as exc:
        m = re.search(r"(\d+(?:\.\d+)?)\s*[bB]\b", cfg.model_name_or_path)
        if m:
            return int(float(m.group(1)) * 1e9), f"from the model name (config not loadable: {type(exc).__name__})"
        return None, f"unknown (config not loadable: {type(exc).__name__})"


def _installed() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in _EXTRAS:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def plan(cfg: FireflyGRPOConfig) -> dict[str, Any]:
    """Build the whole recipe without weights or a GPU and say what a run would do."""
    from firefly_eval.training.env import logging_reward_funcs
    from firefly_eval.training.warmup import gold_conversation

    r = build_recipe(cfg, allow_stand_in_tokenizer=True)
    env = r.env_factories()[r.rows[0]["task_id"]]()
    gold_conversation(env, r.rows[0], r.tasks[0])  # raises unless the gold replay earns reward 1.0
    template = r.rollout_template()
    kwargs = dict(cfg.chat_template_kwargs or {})
    sample = r.rows[:64]
    prompt_tokens = [len(r.tokenizer.apply_chat_template(row["prompt"], tools=r.interfaces[row["task_id"]].chat_tools(),
                                                         chat_template=template, add_generation_prompt=True,
                                                         tokenize=True, return_dict=False, **kwargs))
                     for row in sample]
    n_tools = [len(i.by_name) for i in r.interfaces.values()]
    context = cfg.vllm_max_model_length if cfg.use_vllm and cfg.vllm_max_model_length else \
        getattr(r.tokenizer, "model_max_length", None) or 0
    rollouts_per_step = cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps
    steps = cfg.max_steps if cfg.max_steps > 0 else \
        math.ceil(len(r.rows) * cfg.num_generations * cfg.num_train_epochs / rollouts_per_step)
    params, how = _param_count(cfg, r.model_path)
    gib = 2 ** 30
    memory = None if params is None else {
        "params": params, "params_source": how,
        "fp32_weights_grads_adamw_gib": round(16 * params / gib, 1),
        "vllm_bf16_copy_gib": round(2 * params / gib, 1) if cfg.use_vllm else 0.0,
        "reference_model_gib": round(4 * params / gib, 1) if cfg.beta else 0.0,
        "note": "activations excluded; vLLM also takes vllm_gpu_memory_utilization of the GPU for its KV cache"
                if cfg.use_vllm else "activations excluded",
    }
    import torch

    return {
        "dataset": {"source": cfg.dataset, "split": cfg.dataset_split, "tasks": len(r.rows), "tools": cfg.tools,
                    "tools_per_task": {"min": min(n_tools), "mean": round(sum(n_tools) / len(n_tools), 1),
                                       "max": max(n_tools)},
                    "prompt_tokens": {"sampled": len(prompt_tokens), "min": min(prompt_tokens),
                                      "mean": round(sum(prompt_tokens) / len(prompt_tokens)),
                                      "max": max(prompt_tokens),
                                      "over_context": sum(n + cfg.max_completion_length > context
                                                          for n in prompt_tokens),
                                      "context": context,
                                      "counted_with": "the model's tokenizer" if r.tokenizer_note == r.model_path
                                      or r.cfg.tiny_model else "the stand-in tokenizer"}},
        "tokenizer": r.tokenizer_note,
        "chat_template": {"tool_call_round_trip": "ok", "enable_thinking": cfg.enable_thinking,
                          "rollout_template": "TRL training template" if template else "the model's own"},
        "environment": {"class": type(env).__name__, "tool_methods": len({n for i in r.interfaces.values()
                                                                          for n in i.by_name}) + 1,
                        "gold_replay_reward": env.get_reward(), "max_tool_output_bytes": cfg.max_tool_output_bytes},
        "reward": {"source": "firefly_eval.grading.grade via FireflyEnv.get_reward (weight 1)",
                   "partial_credit": cfg.partial_credit, "malformed_penalty": cfg.malformed_penalty,
                   "logged": [f.__name__ for f in logging_reward_funcs()]},
        "trl": {"steps": steps, "rollouts_per_step": rollouts_per_step, "num_generations": cfg.num_generations,
                "prompts_per_step": rollouts_per_step // cfg.num_generations, "learning_rate": cfg.learning_rate,
                "beta": cfg.beta, "max_completion_length": cfg.max_completion_length,
                "max_tool_calling_iterations": cfg.max_tool_calling_iterations,
                "bf16_autocast": cfg.bf16 if cfg.bf16_requested is None else cfg.bf16_requested,
                "master_weights": "float32", "use_vllm": cfg.use_vllm,
                "vllm_mode": cfg.vllm_mode if cfg.use_vllm else None,
                "vllm_max_model_length": cfg.vllm_max_model_length,
                "gradient_checkpointing": cfg.gradient_checkpointing, "sft_warmup_steps": cfg.sft_warmup_steps},
        "memory_estimate": memory,
        "extras_installed": _installed(),
        "cuda_available": torch.cuda.is_available(),
    }


def train(cfg: FireflyGRPOConfig) -> Path:
    """Run GRPO; returns the saved checkpoint folder."""
    from datasets import Dataset
    from trl import GRPOTrainer

    from firefly_eval.training.env import install_task_tools, logging_reward_funcs
    from firefly_eval.training.warmup import gold_conversation, sft_warmup

    r = build_recipe(cfg)
    model = load_policy(r.model_path)
    if not cfg.use_cpu:
        import torch

        if torch.cuda.is_available():
            model.to("cuda")
    factories = r.env_factories()
    warmup_losses: list[float] = []
    if cfg.sft_warmup_steps:
        convs = [(gold_conversation(factories[row["task_id"]](), row, task), r.interfaces[task.id].chat_tools())
                 for row, task in zip(r.rows, r.tasks, strict=True)]
        warmup_losses = sft_warmup(model, r.tokenizer, convs, cfg.sft_warmup_steps, cfg.sft_learning_rate,
                                   chat_template=r.rollout_template(), chat_template_kwargs=cfg.chat_template_kwargs)
    logged = logging_reward_funcs()
    cfg.reward_weights = [0.0] * len(logged)  # logged per step; the reward itself is the env's get_reward
    trainer = GRPOTrainer(model=model, processing_class=r.tokenizer, reward_funcs=logged, args=cfg,
                          train_dataset=Dataset.from_list(r.rows), environment_factory=factories)
    install_task_tools(trainer, r.interfaces)
    params = list(trainer.model.parameters())
    watched = [params[0], params[len(params) // 2], params[-1]]
    before = [p.detach().float().clone() for p in watched]
    master_dtype = str(params[0].dtype)
    result = trainer.train()
    weight_change = sum(float((p.detach().float().to(b.device) - b).norm()) for p, b in zip(watched, before, strict=True))
    out = Path(cfg.output_dir) / "final"
    trainer.save_model(str(out))
    r.tokenizer.save_pretrained(out)
    summary = {"global_step": result.global_step, "metrics": result.metrics, "tasks": len(r.rows),
               "master_dtype": master_dtype, "master_dtype_after": str(next(trainer.model.parameters()).dtype),
               "weight_change_l2": weight_change,
               "sft_warmup_losses": warmup_losses, "log_history": trainer.state.log_history}
    (Path(cfg.output_dir) / "firefly_train.json").write_text(json.dumps(summary, indent=1, default=str))
    return out
