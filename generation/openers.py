"""Derived openers: the setup tool of a server without cards (a user's own fleet).

Some servers only work after a setup call: a code-analysis server's tools take a ``project`` that
``register_project`` creates. Curated cards name such a tool with ``"opener"`` (see
:mod:`firefly_eval.cards`); for a server with no card at all, :func:`derived_openers` finds it from the
tools themselves: a tool whose name is a setup verb and a noun (``register_project_tool``) where that
noun is a required parameter of several of the server's other tools. Plans on that server then start
with it (:func:`sampling.with_openers`).
"""

from __future__ import annotations

import re

from firefly_eval.cards import ToolCard
from firefly_eval.schema import ToolSpec

__all__ = ["derived_openers"]

Key = tuple[str, str]
# verbs of a setup call that the other tools then work on (not "create": a new object among the user's own)
_SETUP = {"register", "open", "init", "initialize", "connect", "load", "start", "attach", "mount", "login", "use",
          "select", "activate"}
_FILLER = {"tool", "a", "the", "new"}


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[_\-. ]+", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()) if w]


def _noun(tool: ToolSpec) -> str | None:
    """The object of a setup tool's name (``register_project_tool`` -> project); None when it is none."""
    words = _words(tool.name)
    for i, w in enumerate(words):
        if w in _SETUP:
            rest = [x for x in words[i + 1:] if x not in _FILLER]
            return rest[0] if rest else None
    return None


def _takes(tool: ToolSpec, noun: str) -> bool:
    """A required parameter of ``tool`` names the noun (``project``, ``project_name``, ``projectId``)."""
    for p in tool.input_schema.get("required") or []:
        words = _words(str(p))
        if words and words[0] == noun and len(words) <= 2:
            return True
    return False


def derived_openers(tools: list[ToolSpec], cards: dict[Key, ToolCard], skip: set[Key],
                    min_share: float = 0.25) -> dict[str, Key]:
    """Server -> its setup tool, for servers none of whose tools has a card: a setup verb + noun tool whose
    noun at least two and ``min_share`` of the server's other (sampled) tools require."""
    carded = {k[0] for k in cards}
    by_server: dict[str, list[ToolSpec]] = {}
    for t in tools:
        if t.key not in skip and t.server not in carded:
            by_server.setdefault(t.server, []).append(t)
    out: dict[str, Key] = {}
    for server, ts in sorted(by_server.items()):
        best: tuple[int, Key] | None = None
        for t in sorted(ts, key=lambda t: t.name):
            noun = _noun(t)
            if noun is None or _takes(t, noun):
                continue
            n = sum(_takes(o, noun) for o in ts if o.key != t.key)
            if n >= 2 and n >= min_share * (len(ts) - 1) and (best is None or n > best[0]):
                best = (n, t.key)
        if best is not None:
            out[server] = best[1]
    return out
