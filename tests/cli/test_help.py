"""`firefly ... -h`: every command answers -h, flags read as flags, fixed choices are listed, options say what they do."""

import typer
from typer.testing import CliRunner

from firefly_eval.cli.main import app


def _commands(cmd, path: tuple[str, ...] = ()):
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_command_answers_dash_h_with_flags_as_flags():
    root = typer.main.get_command(app)
    seen = 0
    for path, _cmd in _commands(root):
        res = CliRunner().invoke(app, [*path, "-h"])
        assert res.exit_code == 0, (path, res.output)
        assert "<bool>" not in res.output, (path, res.output)  # `--dry-run`, not `--dry-run <bool>`
        seen += 1
    assert seen > 20


def test_every_option_has_help_and_fixed_choices_are_listed():
    missing = [f"{' '.join(path)} {p.opts[0]}" for path, cmd in _commands(typer.main.get_command(app))
               for p in cmd.params if p.param_type_name == "option" and not p.help and p.name != "help"]
    assert missing == []
    for path, choices in ((["generate"], "[local|ray]"), (["graph", "build"], "[uncertain|all]"),
                          (["graph", "build"], "[static|minilm]"), (["simulate"], "[error|simulate|live]")):
        res = CliRunner().invoke(app, [*path, "-h"])
        assert choices in res.output, (path, res.output)
