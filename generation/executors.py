"""Ray executor for exploration: one actor per worker, each owning its own fleet of server processes.

Plans are dispatched one at a time per actor; the driver writes each finished plan's shard
atomically (the same run-directory contract as the local executor), so a killed driver resumes
like a local run. A worker that dies mid-plan is restarted by Ray (``max_restarts``) and its
plan is sent again; plans are only ever recorded once, from the first complete result.
Ray is imported only here, only when ``--executor ray`` is asked for. The plan processor is handed
in by the pipeline (``make_processor``): this module does not import the pipeline, which imports it.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

from firefly_eval.schema import Plan, ServerSpec

__all__ = ["PlanWorker", "run_on_ray"]


class PlanWorker:
    """Actor body: a fleet under ``/tmp/firefly-world-w<k>-<pid>``, a plan processor, a private event loop.

    ``make_processor(fleet, specs, cfg, sandbox_root)`` builds the processor (the pipeline's
    ``PlanProcessor``); ``cfg`` is the run's config with ``executor="local"``.
    """

    def __init__(self, specs_json: list[dict[str, Any]], cfg: Any, worker: int,
                 make_processor: Callable[..., Any]) -> None:
        from firefly_eval.mcp.fleet import Fleet
        from firefly_eval.sandbox import SANDBOX_ROOT, process_root

        specs = [ServerSpec.model_validate(s) for s in specs_json]
        root = process_root(worker)  # unique per actor process
        root.mkdir(parents=True, exist_ok=True)
        self.loop = asyncio.new_event_loop()
        self.fleet = Fleet(specs, sandbox_root=root, call_timeout=cfg.call_timeout, canonical_root=SANDBOX_ROOT)
        self.loop.run_until_complete(self.fleet.start())
        self.proc = make_processor(self.fleet, specs, cfg, root)

    def pid(self) -> int:
        return os.getpid()

    def run(self, plan_json: str) -> dict[str, Any]:
        return self.loop.run_until_complete(self.proc.run(Plan.model_validate_json(plan_json)))

    def stats(self) -> dict[str, Any]:
        return {"timing": dict(self.proc.timing), "llm": vars(self.proc.llm_stats)}

    def close(self) -> None:
        import shutil

        self.loop.run_until_complete(self.fleet.close())
        shutil.rmtree(self.fleet.sandbox_root, ignore_errors=True)


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
    """Run ``plans`` on ``cfg.workers`` Ray actors; ``write`` is called once per finished plan.

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
    remote = ray.remote(max_restarts=3, max_task_retries=0, num_cpus=1)(PlanWorker)
    worker_cfg = dataclasses.replace(cfg, executor="local")
    specs_json = [s.model_dump(mode="json") for s in specs]
    workers = [remote.remote(specs_json, worker_cfg, k, make_processor) for k in range(max(1, cfg.workers))]
    if on_workers:
        on_workers(workers)
    queue = list(plans)
    inflight: dict[Any, tuple[Any, Plan]] = {}
    attempts: Counter[str] = Counter()

    def submit(worker: Any) -> None:
        if queue:
            plan = queue.pop(0)
            attempts[plan.id] += 1
            inflight[worker.run.remote(plan.model_dump_json())] = (worker, plan)

    for w in workers:
        submit(w)
    while inflight:
        ready, _ = ray.wait(list(inflight), num_returns=1)
        ref = ready[0]
        worker, plan = inflight.pop(ref)
        try:
            write(ray.get(ref))
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
            if attempts[plan.id] >= 3:
                raise RuntimeError(f"plan {plan.id} failed on 3 workers: {exc}") from exc
            queue.insert(0, plan)  # the actor restarts; its plan is sent again
            _wait_restarted(ray, worker)
        submit(worker)
    totals: Counter[str] = Counter()
    for w in workers:
        try:
            st = ray.get(w.stats.remote())
            totals.update(st["timing"])
            ray.get(w.close.remote())
        except Exception:  # noqa: BLE001 - stats are best effort
            continue
        finally:
            ray.kill(w)
    return {"timing": {k: round(v, 1) for k, v in totals.items()}, "llm": {}}
