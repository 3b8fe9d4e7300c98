"""Docs that cannot drift: commands, options, settings and tables are documented."""

from __future__ import annotations

from pathlib import Path

import click

from salespilot.cli.main import cli
from salespilot.model import TABLES
from salespilot.settings import SETTINGS

ROOT = Path(__file__).parent.parent
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def test_every_command_and_option_is_in_the_cli_doc() -> None:
    assert isinstance(cli, click.Group)
    commands = list(cli.commands.items())
    for name, command in commands:
        if isinstance(command, click.Group):  # a group's subcommands: "salespilot pipeline stuck"
            commands.extend((f"{name} {sub}", subcommand) for sub, subcommand in command.commands.items())
    for name, command in commands:
        assert f"salespilot {name}" in CLI_DOC, f"command {name} is not in docs/cli.md"
        for param in command.params:
            if isinstance(param, click.Option) and param.name not in ("db", "help"):
                flag = max(param.opts, key=len)
                documented = CLI_DOC + (ROOT / "docs" / "importing.md").read_text(encoding="utf-8")
                assert flag in documented, f"option {flag} of {name} is not documented"


def test_every_setting_is_documented() -> None:
    for name in SETTINGS:
        assert f"`{name}`" in CLI_DOC, f"setting {name} is not in docs/cli.md"


def test_every_table_and_column_is_in_the_data_model_doc() -> None:
    doc = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    for table in TABLES.values():
        assert f"## {table.name}" in doc
        for column in table.column_names:
            assert f"| {column} |" in doc or f"| **{column}** |" in doc, f"{table.name}.{column} undocumented"


def test_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for part in readme.split("](")[1:]:
        target = part.split(")")[0]
        assert (ROOT / target).exists(), f"README links to missing {target}"
