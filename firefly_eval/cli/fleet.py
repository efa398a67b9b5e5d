"""``firefly fleet install`` and ``firefly servers list|check``."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import typer
from rich.progress import TextColumn
from rich.table import Column, Table

from firefly_eval.cli.common import FleetOpt, console, load_specs, stage_progress

__all__ = ["SLOW_START", "fleet_app", "servers_app", "start_status"]

fleet_app = typer.Typer(help="Install the MCP servers of a fleet into isolated environments.",
                        no_args_is_help=True)
servers_app = typer.Typer(help="Inspect and health-check the servers of a fleet.", no_args_is_help=True)


@fleet_app.command("install")
def fleet_install(fleet: Path | None = FleetOpt,
                  jobs: int = typer.Option(4, "--jobs", "-j", "--workers", min=1,
                                           help="Installs run at the same time (each is one uv or npm process)."),
                  only: list[str] | None = typer.Option(None, "--only", help="Install only these servers.")) -> None:
    """Install every server of the fleet into ./.firefly/fleet (idempotent: a second run does nothing).

    Python servers are installed with their bytecode compiled; npm servers whose native module would be
    built from source get the prebuilt substitute their entry names (firefly.npm_overrides)."""
    import threading

    from firefly_eval.mcp.install import install_fleet

    specs = load_specs(fleet)
    if only:
        unknown = sorted(set(only) - {s.name for s in specs})
        if unknown:
            console.print(f"[red]error:[/red] --only: no server {', '.join(unknown)} in the fleet")
            raise typer.Exit(2)
        specs = [s for s in specs if s.name in set(only)]
    t0 = time.perf_counter()
    running: list[str] = []
    lock = threading.Lock()
    # the bar keeps its width and counts; the line of names is cut to what is left of the terminal
    names = TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis",
                                                                 max_width=max(20, console.width - 62)))
    with stage_progress(TextColumn("[bold]install"), names) as progress:
        task = progress.add_task("", total=len(specs))

        def show(last: str = "") -> None:
            now = f"installing: {', '.join(running)}" if running else ""
            progress.update(task, description="; ".join(p for p in (last, now) if p))

        def started(name: str) -> None:
            with lock:
                running.append(name)
                show()

        def done(res):
            with lock:
                if res.server in running:
                    running.remove(res.server)
                progress.advance(task)
                show(f"{res.server} {res.status}")

        results = install_fleet(specs, jobs=jobs, on_done=done, on_start=started)
    table = Table("server", "status", "seconds", "detail")
    for r in results:
        color = {"failed": "red", "installed": "green"}.get(r.status, "dim")
        detail = r.detail.splitlines()[0][:120] if r.detail else ""
        table.add_row(r.server, f"[{color}]{r.status}[/{color}]", f"{r.seconds:.1f}", detail)
    console.print(table)
    failed = [r for r in results if r.status == "failed"]
    for r in failed:  # the table cuts details to a line: the tail of what the installer printed, in full
        console.print(f"[red]{r.server} failed:[/red]", end=" ")
        console.print(r.detail[-800:], markup=False, soft_wrap=True)
    console.print(f"{len(results) - len(failed)}/{len(results)} servers ready in {time.perf_counter() - t0:.1f}s "
                  f"({jobs} at a time)")
    if failed:
        raise typer.Exit(1)


@fleet_app.command("cards")
def fleet_cards(fleet: Path | None = FleetOpt,
                model: str = typer.Option(..., "--model", "-m", help="Inspect model that writes the cards "
                                                                    "(openai/gpt-4.1, vllm/..., anthropic/...)."),
                out: Path = typer.Option(Path("cards"), "--out", "-o", help="Folder for <server>.json card files "
                                                                           "(pass it to generate --cards)."),
                run: Path | None = typer.Option(None, "--run", help="A generate run directory: its tools.json "
                                                                   "is used (no server started) and its recorded "
                                                                   "results are shown to the model."),
                all_tools: bool = typer.Option(False, "--all", help="Also write cards for tools that have a "
                                                                    "curated card.")) -> None:
    """Write tool cards (how a user asks for what each tool does, what its results mean) with a model.

    Cards let the offline synthesizer write user questions for your own servers; tools without a card
    get one derived from their description. Cached by schema hash: a re-run asks only about new or
    changed tools."""
    from firefly_eval.generation.card_writer import write_cards
    from firefly_eval.schema import CallRecord, ToolSpec

    calls: list[CallRecord] = []
    if run is not None:
        tools = [ToolSpec.model_validate(t) for t in json.loads((run / "tools.json").read_text())]
        for shard in sorted((run / "shards").glob("*.json")):
            try:
                calls += [CallRecord.model_validate(c) for c in json.loads(shard.read_text())["calls"]]
            except (ValueError, KeyError):
                continue
    else:
        from firefly_eval.mcp.fleet import Fleet

        async def listing() -> list[ToolSpec]:
            async with Fleet(load_specs(fleet)) as live:
                reports = await live.start()
                for r in reports:
                    if not r.ok:
                        console.print(f"[yellow]{r.server}: down ({r.error.splitlines()[0] if r.error else ''})")
                return sorted(live.tools.values(), key=lambda t: t.key)

        tools = asyncio.run(listing())
    if not tools:
        console.print("[red]error:[/red] no tools found (are the servers installed and up?)")
        raise typer.Exit(1)
    counts = asyncio.run(write_cards(tools, model, out, calls, include_curated=all_tools))
    console.print(dict(counts))
    console.print(f"cards: {out} (use: firefly generate --cards {out} ...)")
    if counts["written"] + counts["cached"] + counts["curated"] == 0:
        raise typer.Exit(1)


@servers_app.command("list")
def servers_list(fleet: Path | None = FleetOpt) -> None:
    """List the servers of a fleet with their pins and flags."""
    specs = load_specs(fleet)
    table = Table("server", "package", "license", "stateful", "deterministic", "host code")
    for s in specs:
        table.add_row(s.name, s.pin, s.license, "y" if s.stateful else "n", "y" if s.deterministic else "n",
                      "y" if s.host_code else "n")
    console.print(table)
    console.print(f"{len(specs)} servers")


SLOW_START = "slow start"


def start_status(ok: bool, seconds: float, timeout: float) -> str:
    """``up``, ``slow start`` (answered, but after ``timeout`` seconds: a cold first start) or ``down``."""
    if not ok:
        return "down"
    return SLOW_START if seconds > timeout else "up"


@servers_app.command("check")
def servers_check(fleet: Path | None = FleetOpt,
                  json_out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON."),
                  timeout: float = typer.Option(60.0, min=0.1, help="Seconds a warm server takes at most to start "
                                                                   "and list its tools; one that needs longer is "
                                                                   "reported as a slow start."),
                  start_timeout: float = typer.Option(
                      180.0, "--start-timeout", min=0.1,
                      help="First-start allowance (seconds): a server that has not answered the handshake by "
                           "then is down. A cold first start (caches empty, files never read) can take far "
                           "longer than a warm one.")) -> None:
    """Start every server, list its tools, make its harmless sample call; print a table.

    A server that answers within --timeout is up; one that answers later, within --start-timeout, is a
    slow start (it works, but its start is slower than a warm start should be); one that does not answer
    within --start-timeout, or exits, is down."""
    from firefly_eval.mcp.fleet import Fleet

    specs = load_specs(fleet)
    allowance = max(timeout, start_timeout)

    async def run():
        fl = Fleet(specs, start_timeout=allowance)
        try:
            t0 = time.perf_counter()
            reports = await fl.start()
            samples = {}
            for spec in specs:
                if spec.sample_call and spec.name not in fl.failed:
                    try:
                        rec = await fl.call(spec.name, spec.sample_call["tool"], spec.sample_call.get("arguments", {}))
                        samples[spec.name] = ("error: " if rec.is_error else "") + rec.text()[:60]
                    except Exception as exc:  # noqa: BLE001
                        samples[spec.name] = f"failed: {exc}"[:60]
            state = {n: (why, n in fl.world_servers, [str(o) for o, _, _ in fl.own[n].pairs] if n in fl.own else [])
                     for n, why in fl.stateful_why.items()}
            return reports, samples, time.perf_counter() - t0, state
        finally:
            await fl.close()

    reports, samples, elapsed, state = asyncio.run(run())
    status = {r.server: start_status(r.ok, r.seconds, timeout) for r in reports}
    colors = {"up": "green", SLOW_START: "yellow", "down": "red"}
    table = Table("server", "status", "#tools", "start s", "sample call / error")
    for r in sorted(reports, key=lambda r: r.server):
        st = status[r.server]
        note = samples.get(r.server, "") if r.ok else r.error.splitlines()[0][:120]
        if st == SLOW_START:
            note = f"answered after {r.seconds:.0f}s (over --timeout {timeout:.0f}s); " + note
        table.add_row(r.server, f"[{colors[st]}]{st}[/{colors[st]}]", str(len(r.tools)), f"{r.seconds:.1f}", note)
    console.print(table)
    up = [r for r in reports if r.ok]
    slow = sorted(r.server for r in reports if status[r.server] == SLOW_START)
    n_tools = sum(len(r.tools) for r in up)
    console.print(f"{len(up)}/{len(reports)} servers up, {n_tools} tools, {elapsed:.1f}s"
                  + (f" ({len(slow)} slow start: {', '.join(slow)}; they answered after {timeout:.0f}s, within the "
                     f"{allowance:.0f}s first-start allowance)" if slow else ""))
    for name, (why, world, own) in sorted(state.items()):
        data = "the seed world" if world else ("copies of " + ", ".join(own) if own else "its own state")
        console.print(f"{name}: {why}; works on {data}", markup=False, soft_wrap=True)
    if json_out:
        json_out.write_text(json.dumps([{"server": r.server, "ok": r.ok, "status": status[r.server],
                                         "tools": len(r.tools), "seconds": round(r.seconds, 2), "error": r.error,
                                         "stateful_why": state.get(r.server, ("",))[0]} for r in reports], indent=2))
    if not up:
        raise typer.Exit(1)
