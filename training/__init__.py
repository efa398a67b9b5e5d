"""GRPO training on FireFly tasks with simulator-backed rollouts (TRL). Needs the `train` extra."""
