"""Which plan runs next, and on which replica of the fleet (the local executor's plans in flight).

With ``--max-connections K`` > 1 a local run keeps up to :func:`replica_count` fleets of the same servers
(``Fleet.replica``: each its own sandbox root and processes, records in the one canonical root). A plan holds
its stateful servers (``Fleet.exclusive``) on the replica it runs on until its shard is written, so two plans
on one stateful server run at once on two replicas, each on its own fresh state; stateless servers serve
every plan in flight on their replica.
"""

from __future__ import annotations

from typing import Any, Protocol

from firefly_eval.schema import Plan

__all__ = ["MAX_REPLICAS", "pick", "replica_count"]

# copies of the fleet at most: each replica runs its own process (and warm spare) of every server its plans
# use, so memory and start CPU grow with it; 4 copies of the default fleet's hot stateful servers already give
# 8 plans in flight room on the default fleet's plans (benchmarks/llm_throughput.py prints the bound)
MAX_REPLICAS = 4


class _Fleet(Protocol):
    def resetting(self, name: str) -> bool: ...

    def up(self, name: str) -> bool: ...


def replica_count(limit: int, exclusive: set[str]) -> int:
    """Fleet copies for ``limit`` plans in flight: one when plans run one at a time or no server is stateful
    (a stateless server serves every plan at once), else ``min(limit, MAX_REPLICAS)``."""
    return 1 if limit <= 1 or not exclusive else min(limit, MAX_REPLICAS)


def pick(pending: list[Plan], fleets: list[Any], busy: list[set[str]], exclusive: set[str]) -> tuple[Plan, int] | None:
    """The next plan to start and the replica (an index into ``fleets``) to start it on, or None when every
    pending plan's stateful servers are held on every replica (``busy[k]``: those held on replica ``k``).

    A plan may run on any replica where its stateful servers are free; of those, the one where fewest of its
    servers must still be started, then where none is being reset, then the first. Plans are taken in order,
    except that a plan that can start at once (its servers up and not being reset on some replica) goes
    before an earlier one that would wait for a start or a reset (every plan starts on fresh state, so the
    order plans run in does not change what they record).
    """
    first: tuple[Plan, int] | None = None
    for plan in pending:
        held = set(plan.servers) & exclusive
        best: tuple[int, bool, int] | None = None
        for k, fleet in enumerate(fleets):
            if held & busy[k]:
                continue
            cost = (sum(not fleet.up(s) for s in plan.servers) if len(fleets) > 1 else 0,
                    any(fleet.resetting(s) for s in plan.servers), k)
            best = cost if best is None or cost < best else best
        if best is None:
            continue
        if best[:2] == (0, False):
            return plan, best[2]
        if first is None:
            first = (plan, best[2])
    return first
