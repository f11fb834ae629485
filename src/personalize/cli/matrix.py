"""``personalize matrix``: segments × slots → module for a layout, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys

import click
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from personalize.matrix import Cell, Choice, Matrix, decision_matrix

from .app import State, cli, out, parse_now


@cli.command()
@click.argument("template")
@click.option("--now", "now_text", metavar="ISO", help="Decide as of this moment.")
@click.option("--locale", metavar="LOCALE", help="Recipient locale (default: the project's).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.pass_obj
def matrix(state: State, template: str, now_text: str | None, locale: str | None, fmt: str) -> None:
    """Show which module a recipient in each segment gets in each slot of TEMPLATE.

    Each row is a recipient in exactly that segment (the last row: in none). A module with a
    `when` rule shows as "module (if when: rule)", then what the recipient gets otherwise.

    \b
    Examples:
      personalize matrix weekly
      personalize matrix weekly --locale de_DE --now 2026-12-05T09:00:00+01:00
      personalize matrix weekly --format csv > matrix.csv
    """
    result = decision_matrix(state.project, template, now=parse_now(now_text), locale=locale)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerows(result.table())
    else:
        _print_matrix(result)


def _print_matrix(result: Matrix) -> None:
    table = Table(
        title=f"{result.layout} — locale {result.locale}, "
        f"now {result.now.isoformat(timespec='minutes')}",
        show_lines=True,
    )
    # Fold rather than truncate: a cut-off module id would be a wrong answer.
    table.add_column("segment", no_wrap=True)
    for slot in result.slots:
        table.add_column(slot, overflow="fold")
    for row in result.rows:
        label = Text(row.label, style="dim" if row.segment is None else "bold")
        table.add_row(label, *(_cell_text(cell) for cell in row.cells))
    # On a terminal the table fits the window; piped, it keeps its natural width.
    console = out
    if not out.is_terminal:
        natural = Measurement.get(out, out.options.update(max_width=1_000), table).maximum
        console = Console(
            file=out.file, width=max(natural, out.width), highlight=False, markup=False
        )
    console.print(table)
    out.print(
        Text(
            "dim: the slot's fallback; yellow: depends on a `when` rule (unknown here); "
            "magenta: an experiment's arms",
            style="dim",
        )
    )


def _cell_text(cell: Cell) -> Text:
    text = Text()
    for number, choice in enumerate(cell.choices):
        if number:
            text.append("\notherwise ", style="dim")
        text.append_text(_choice_text(choice, cell.slot))
    return text


def _choice_text(choice: Choice, slot: str) -> Text:
    def short(module: str | None) -> str:
        # Module ids start with their slot's folder; the column already says which slot.
        return (module or "(empty)").removeprefix(f"{slot}/")

    if choice.error or choice.module is None:
        return Text(str(choice), style="red" if choice.error else "dim")
    style = "dim" if choice.fallback else ""
    if choice.experiment is None:
        text = Text(short(choice.module), style=style)
        if choice.fallback:
            text.append(" (fallback)", style="dim")
    else:
        text = Text(f"experiment {choice.experiment}:", style="magenta")
        for arm in choice.arms:
            target = short(arm.module) if arm.module else "the next choice"
            text.append(f"\n {arm}: ", style="magenta")
            text.append(target, style=style)
    if choice.when is not None:
        text.append(f"\n(if when: {choice.when})", style="yellow")
    return text
