"""LLM explorer and synthesizer (re-exported from ``explore_llm`` and ``synthesize_llm``)."""

from __future__ import annotations

from firefly_eval.generation.explore_llm import explore_plan_llm
from firefly_eval.generation.llm_stats import LLMStats
from firefly_eval.generation.synthesize_llm import synthesize_task_llm

__all__ = ["LLMStats", "explore_plan_llm", "synthesize_task_llm"]
