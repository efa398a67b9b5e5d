"""Models are roles given by name: one place that turns an Inspect model name into a Model."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # inspect_ai's model module is imported only when a role is used
    from inspect_ai.model import Model

__all__ = ["resolve_model"]


def resolve_model(model: str | Model) -> Model:
    """``get_model(model)`` for an Inspect model name; a Model is returned as it is."""
    from inspect_ai.model import get_model

    return get_model(model) if isinstance(model, str) else model
