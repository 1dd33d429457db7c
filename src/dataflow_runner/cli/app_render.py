"""``render``: a playbook's YAML form (``commands.py`` does the work)."""

from __future__ import annotations

import click

from dataflow_runner.cli.options import (
    emr_playbook,
    log_level_option,
    max_config_size,
    options,
    require,
    vars_option,
)


@click.command()
@options(emr_playbook, vars_option, max_config_size, log_level_option)
def render(emr_playbook: str | None, vars: str | None, max_config_size: int | None) -> None:
    """Prints a playbook's YAML form (a Python playbook's: the YAML it builds)"""
    from dataflow_runner.cli import commands
    from dataflow_runner.cli.commands import common_options as _common

    require(emr_playbook=emr_playbook)
    commands.render(emr_playbook or "", vars, common=_common(max_config_size=max_config_size))


COMMANDS = (render,)
