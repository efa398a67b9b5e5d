"""Ray executor for exploration: one actor per worker, each owning its own fleet of server processes.

Each actor is an asyncio actor that runs up to ``cfg.max_connections`` plans at once on its fleet, under
the local executor's rule: never two plans in flight on one stateful server of a fleet (the driver tracks
each worker's held servers and sends a worker only plans whose stateful servers are free there; stateless
servers serve several plans at once). Every plan is its
own remote call, so the driver writes each finished plan's shard atomically as it arrives (the same
run-directory contract as the local executor) and a killed driver resumes like a local run. A worker
that dies mid-plan is restarted by Ray (``max_restarts``) and its plans in flight are sent again; plans
are only ever recorded once, from the first complete result.
Ray is imported only here, only when ``--executor ray`` is asked for. The plan processor is handed
in by the pipeline (``make_processor``): this module does not import the pipeline, which imports it.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

from firefly_eval.generation.llm_stats import LLMStats
from firefly_eval.schema import Plan, ServerSpec

__all__ = ["PlanWorker", "held", "next_plan", "run_on_ray"]


class PlanWorker:
    """Actor body: a fleet under ``/tmp/firefly-world-w<k>-<pid>`` and a plan processor, started on the
    actor's own event loop at its first plan (an asyncio actor runs its methods on that loop, so the
    servers' pipes must be opened there, not in ``__init__``).

    ``make_processor(fleet, specs, cfg, sandbox_root)`` builds the processor (the pipeline's
    ``PlanProcessor``); ``cfg`` is the run's config with ``executor="local"``.
    """

    def __init__(self, specs_json: list[dict[str, Any]], cfg: Any, worker: int,
                 make_processor: Callable[..., Any]) -> None:
        self.specs = [ServerSpec.model_validate(s) for s in specs_json]
        self.cfg, self.worker, self.make_processor = cfg, worker, make_processor
        self.fleet: Any = None
        self.proc: Any = None
        self._started: asyncio.Future[None] | None = None
        self.in_flight = self.peak = 0  # plans running on this worker now, and at most

    async def _boot(self) -> None:
        from firefly_eval.mcp.fleet import Fleet
        from firefly_eval.sandbox import SANDBOX_ROOT, process_root

        root = process_root(self.worker)  # unique per actor process
        root.mkdir(parents=True, exist_ok=True)
        self.fleet = Fleet(self.specs, sandbox_root=root, call_timeout=self.cfg.call_timeout,
                           canonical_root=SANDBOX_ROOT, warm_pool=True)
        await self.fleet.start()
        self.proc = self.make_processor(self.fleet, self.specs, self.cfg, root)

    async def _ready(self) -> None:
        if self._started is None:
            self._started = asyncio.ensure_future(self._boot())
        await self._started

    async def pid(self) -> int:
        return os.getpid()

    async def run(self, plan_json: str) -> dict[str, Any]:
        """One plan's shard (plans in flight on one worker never share a stateful server: the driver sees to it)."""
        await self._ready()
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await self.proc.run(Plan.model_validate_json(plan_json))
        finally:
            self.in_flight -= 1

    async def stats(self) -> dict[str, Any]:
        if self.proc is None:
            return {"timing": {}, "llm": {}, "peak": 0}
        return {"timing": dict(self.proc.timing), "llm": self.proc.llm_stats.as_dict(), "peak": self.peak}

    async def close(self) -> None:
        import shutil

        if self.fleet is not None:
            await self.fleet.close()
            shutil.rmtree(self.fleet.sandbox_root, ignore_errors=True)


def held(plan: Plan, exclusive: set[str] | None = None) -> set[str]:
    """The servers ``plan`` holds alone while it runs: those of its servers in ``exclusive`` (the stateful
    ones, see ``Fleet.exclusive``), or all of them when ``exclusive`` is None."""
    return set(plan.servers) if exclusive is None else set(plan.servers) & exclusive


def next_plan(queue: list[Plan], busy: set[str], exclusive: set[str] | None = None) -> Plan | None:
    """The first queued plan none of whose held servers (:func:`held`) is in ``busy`` (removed from
    ``queue``), or None."""
    for i, plan in enumerate(queue):
        if not held(plan, exclusive) & busy:
            return queue.pop(i)
    return None


def _wait_restarted(ray: Any, worker: Any, timeout: float = 300) -> None:
    """Block until a restarting actor answers again (Ray restarts it, up to ``max_restarts``)."""
    import time

    deadline = time.time() + timeout
    while True:
        try:
            ray.get(worker.pid.remote(), timeout=60)
            return
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError, ray.exceptions.GetTimeoutError):
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def run_on_ray(  # noqa: C901 - init, dispatch loop with actor restarts, teardown: one flow
    plans: list[Plan], specs: list[ServerSpec], cfg: Any, write: Callable[[dict[str, Any]], None],
    on_workers: Callable[[list[Any]], None] | None = None, *, make_processor: Callable[..., Any],
) -> dict[str, Any]:
    """Run ``plans`` on ``cfg.workers`` Ray actors, up to ``cfg.max_connections`` in flight on each (each
    worker is its own process, so model calls in flight reach ``workers * max_connections``); ``write`` is
    called once per finished plan. Returns the workers' summed stage timings (with each worker's peak of
    plans in flight, ``ray_plans_in_flight_peak``) and model-call counters.

    ``make_processor`` builds each actor's plan processor (see ``PlanWorker``).
    """
    import dataclasses

    import ray

    if not ray.is_initialized():
        if cfg.ray_address:
            ray.init(address=cfg.ray_address, ignore_reinit_error=True)
        else:
            ray.init(num_cpus=max(2, cfg.workers), include_dashboard=False, ignore_reinit_error=True,
                     log_to_driver=False)
    # plans in flight per worker, plus room for pid/stats calls beside them
    remote = ray.remote(max_restarts=3, max_task_retries=0, num_cpus=1,
                        max_concurrency=max(1, cfg.max_connections) + 2)(PlanWorker)
    worker_cfg = dataclasses.replace(cfg, executor="local")
    specs_json = [s.model_dump(mode="json") for s in specs]
    workers = [remote.remote(specs_json, worker_cfg, k, make_processor) for k in range(max(1, cfg.workers))]
    if on_workers:
        on_workers(workers)
    queue = list(plans)
    limit = max(1, cfg.max_connections)
    inflight: dict[Any, tuple[int, Plan]] = {}
    # stateful servers held by each worker's plans in flight (``specs`` carry the driver fleet's inference)
    exclusive = {s.name for s in specs if s.stateful}
    busy: list[set[str]] = [set() for _ in workers]
    load = [0] * len(workers)
    attempts: Counter[str] = Counter()

    def fill() -> None:
        """Give every worker plans up to ``limit`` in flight, one each in turn, never two on one stateful server."""
        progress = True
        while progress and queue:
            progress = False
            for k, w in enumerate(workers):
                if load[k] >= limit:
                    continue
                plan = next_plan(queue, busy[k], exclusive)
                if plan is None:
                    continue
                attempts[plan.id] += 1
                busy[k] |= held(plan, exclusive)
                load[k] += 1
                inflight[w.run.remote(plan.model_dump_json())] = (k, plan)
                progress = True

    fill()
    while inflight:
        ready, _ = ray.wait(list(inflight), num_returns=1)
        ref = ready[0]
        k, plan = inflight.pop(ref)
        busy[k] -= held(plan, exclusive)
        load[k] -= 1
        try:
            write(ray.get(ref))
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
            if attempts[plan.id] >= 3:
                raise RuntimeError(f"plan {plan.id} failed on 3 workers: {exc}") from exc
            queue.insert(0, plan)  # the actor restarts; its plan is sent again
            _wait_restarted(ray, workers[k])
        fill()
    totals: Counter[str] = Counter()
    llm = LLMStats()
    peaks: list[int] = []
    for w in workers:
        try:
            st = ray.get(w.stats.remote())
            totals.update(st["timing"])
            llm.merge(LLMStats.from_dict(st["llm"]))
            peaks.append(st["peak"])
            ray.get(w.close.remote())
        except Exception:  # noqa: BLE001 - stats are best effort
            continue
        finally:
            ray.kill(w)
    return {"timing": {**{k: round(v, 1) for k, v in totals.items()}, "ray_plans_in_flight_peak": peaks},
            "llm": {**llm.counters(), "synthesizer_fallbacks": llm.fallbacks, "usage_this_run": llm.usage}}
