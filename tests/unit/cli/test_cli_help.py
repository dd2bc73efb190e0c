"""Every `dsr` command explains itself with --help, and needs no deployment to do so."""

import typer
from typer.testing import CliRunner

from cli.main import app


def _commands(group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            yield from _commands(command, (*path, name))


def test_every_subcommand_has_a_real_description():
    root = typer.main.get_command(app)
    found = dict(_commands(root))
    expected = {
        ("requests", "list"), ("requests", "show"), ("requests", "extend"), ("requests", "file"),
        ("holds", "place"), ("holds", "release"), ("holds", "list"), ("executions", "redrive"),
        ("retention", "run"), ("retention", "status"), ("evidence", "verify"), ("report",),
    }  # fmt: skip
    assert expected <= set(found)
    runner = CliRunner()
    for path, command in found.items():
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert command.help and len(command.help.split()) >= 5, path
        assert command.help.split(".")[0].split()[0] in result.output


def test_a_missing_outputs_file_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(app, ["--local", "--outputs", str(tmp_path / "none.json"), "holds", "list"])
    assert result.exit_code == 1
    assert "not found: start the local cloud first" in result.output
    assert "Traceback" not in result.output


def test_an_unexpected_error_is_one_line_unless_debugging(tmp_path, monkeypatch):
    outputs = tmp_path / "outputs.json"
    outputs.write_text('{"aws_endpoint": "http://127.0.0.1:9", "region": "us-east-1", "RequestsTableName": "t"}')
    monkeypatch.setattr("functions.privacy.operations.timeline.list_requests", lambda *a, **k: 1 / 0)
    result = CliRunner().invoke(app, ["--local", "--outputs", str(outputs), "requests", "list"])
    assert result.exit_code == 1 and "unexpected ZeroDivisionError" in result.output
    monkeypatch.setenv("DSR_DEBUG", "1")
    result = CliRunner().invoke(app, ["--local", "--outputs", str(outputs), "requests", "list"])
    assert isinstance(result.exception, ZeroDivisionError)
