"""The ``firefly`` app: the ``--version`` callback and the wiring of every command module (nothing else).

A new command goes into the module of its group (``fleet``, ``graph``, ``simulate``, ...) or a new
module next to them, and is wired here. Heavy imports stay inside the commands, so ``firefly --help``
stays fast.
"""

from __future__ import annotations

import typer

from firefly_eval import __version__
from firefly_eval.cli.common import console
from firefly_eval.cli.doctor import doctor
from firefly_eval.cli.fleet import fleet_app, servers_app
from firefly_eval.cli.generate import generate_cmd
from firefly_eval.cli.graph import graph_app
from firefly_eval.cli.leaderboard import lb_app
from firefly_eval.cli.publish import pub_app
from firefly_eval.cli.ship_heldout import ship_heldout
from firefly_eval.cli.simulate import sim_app
from firefly_eval.cli.train import train_cmd

__all__ = ["app"]

app = typer.Typer(help="firefly: verified tool-call data from real MCP servers, replayed offline, "
                       "evaluated with Inspect.", no_args_is_help=True, add_completion=False,
                  # plain click help: flags show as flags (not `--dry-run <bool>`), `-h` works on every command
                  rich_markup_mode=None, context_settings={"help_option_names": ["-h", "--help"]})


def _version(value: bool) -> None:
    if value:
        console.print(f"firefly-eval {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit.")) -> None:
    """firefly: generate, simulate, evaluate."""


# Top-level commands (typer lists them before the groups, in this order).
app.command("generate")(generate_cmd)
app.command("train")(train_cmd)
app.command("ship-heldout")(ship_heldout)
app.command("doctor")(doctor)

# Command groups.
app.add_typer(fleet_app, name="fleet")
app.add_typer(servers_app, name="servers")
app.add_typer(graph_app, name="graph")
app.add_typer(sim_app, name="simulate")
app.add_typer(pub_app, name="publish")
app.add_typer(lb_app, name="leaderboard")
