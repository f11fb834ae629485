"""``personalize matrix``: segments × slots → module for a layout, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys

import click
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from personalize.errors import RecipientError
from personalize.matrix import Cell, Choice, Matrix, decision_matrix

from .app import State, cli, colours_shown, out, parse_now, show, zoned

# A table is drawn only if every column can get this many characters (or its whole text):
# narrower, a folded cell is a column of fragments, and rich would empty a column it cannot fit.
MIN_CELL = 12


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
    In a window too narrow for the table, each cell gets a line of its own.

    \b
    Examples:
      personalize matrix weekly
      personalize matrix weekly --locale de_DE --now 2026-12-05T09:00:00+01:00
      personalize matrix weekly --format csv > matrix.csv
    """
    project = state.project
    now = parse_now(now_text, project.schema.tz)
    if locale == "":  # an unset variable ("--locale $LOCALE"), not the default locale
        raise click.BadParameter(
            "expected a locale such as 'en_US' or 'de_DE', got '' — leave --locale out for "
            f"the project's locale, {project.settings.project.locale}",
            param_hint="--locale",
        )
    try:
        result = decision_matrix(project, template, now=now, locale=locale)
    except RecipientError as exc:  # only the locale can be at fault: a bad option's value
        text = " — ".join(part for part in (exc.message, exc.hint) if part)
        raise click.BadParameter(text, param_hint="--locale") from None
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerows(result.table())
    else:
        _print_matrix(
            result,
            f"{result.layout} — locale {result.locale}, now {zoned(result.now, project.schema.tz)}",
        )


def _print_matrix(result: Matrix, title: str) -> None:
    labels = [
        Text(row.label, style="dim" if row.segment is None else "bold") for row in result.rows
    ]
    cells = [[_cell_text(cell) for cell in row.cells] for row in result.rows]
    if out.is_terminal and not _fits(result, labels, cells):
        _print_lines(result, title, labels, cells)
    else:
        table = Table(title=title, show_lines=True)
        # Fold rather than truncate: a cut-off module id would be a wrong answer.
        table.add_column("segment", overflow="fold")
        for slot in result.slots:
            table.add_column(slot, overflow="fold")
        for label, row in zip(labels, cells, strict=True):
            table.add_row(label, *row)
        show(table)
    if colours_shown():
        out.print(
            Text(
                "dim: the slot's fallback; yellow: depends on a `when` rule (unknown here); "
                "magenta: an experiment's arms",
                style="dim",
            )
        )


def _fits(result: Matrix, labels: list[Text], cells: list[list[Text]]) -> bool:
    """Whether the window gives each column MIN_CELL characters, or all it needs if less."""
    columns = [[Text("segment"), *labels]]
    columns += [[Text(slot), *(row[i] for row in cells)] for i, slot in enumerate(result.slots)]
    options = out.options
    needed = sum(
        min(max(Measurement.get(out, options, text).maximum for text in column), MIN_CELL) + 2
        for column in columns
    )
    return needed + len(columns) + 1 <= out.width  # + the borders between and around them


def _print_lines(result: Matrix, title: str, labels: list[Text], cells: list[list[Text]]) -> None:
    out.print(Text(title, style="italic"))
    out.print(Text(f"(one line per cell: the table does not fit {out.width} columns)", style="dim"))
    for label, row in zip(labels, cells, strict=True):
        out.print(label)
        for slot, text in zip(result.slots, row, strict=True):
            line = Text(f"  {slot}: ")
            line.append_text(Text("\n    ").join(text.split("\n")))
            out.print(line)


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
