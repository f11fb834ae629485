"""``personalize explain``: why each slot of a layout got its module, for one recipient."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from personalize.decide import WON, Explanation

from .app import State, cli, duplicate_ids, out, parse_now, records, safe


@cli.command()
@click.argument("template")
@click.option("--recipient", "-r", required=True, metavar="ID", help="A persona (or --data) id.")
@click.option("--data", type=click.Path(dir_okay=False), help="Recipients from a JSONL file.")
@click.option("--now", "now_text", metavar="ISO", help="Explain as of this moment.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def explain(
    state: State, template: str, recipient: str, data: str | None, now_text: str | None, fmt: str
) -> None:
    """Show why each slot of TEMPLATE got its module for one recipient."""
    now = parse_now(now_text)
    project = state.project
    project.registry.layout(template)
    chosen = records(state, (recipient,), False, data)
    duplicate_ids(chosen, data)  # explain shows one recipient: which record would be a guess
    (record,) = chosen
    explanation = project.explain(template, record, now=now)
    if fmt == "json":
        click.echo(
            json.dumps(_explanation_json(explanation), indent=2, ensure_ascii=False, default=str)
        )
        return
    _print_explanation(explanation)


def _explanation_json(e: Explanation) -> dict[str, Any]:
    return {
        "layout": e.layout,
        "recipient": e.recipient,
        "now": e.now.isoformat(),
        "locale": e.locale,
        "segments": list(e.segments),
        "metrics": dict(e.metrics),
        "scores": {
            name: {"value": e.metrics.get(name), "terms": list(terms)}
            for name, terms in e.scores.items()
        },
        "groups": {
            name: {"winner": g.winner, "matched": list(g.matched), "order": list(g.order)}
            for name, g in e.groups.items()
        },
        "slots": [
            {
                "slot": d.slot,
                "module": d.module,
                "reason": d.reason,
                "experiments": [
                    {"experiment": a.experiment, "variant": a.variant, "bucket": a.bucket}
                    for a in d.experiments
                ],
                "candidates": [
                    {
                        "module": c.module,
                        "priority": c.priority,
                        "outcome": c.outcome,
                        "detail": c.detail,
                        "failed": [
                            {"condition": f.condition, "value": f.value, "path": f.path}
                            for f in c.failed
                        ],
                    }
                    for c in d.candidates
                ],
            }
            for d in e.decisions
        ],
    }


def _print_explanation(e: Explanation) -> None:
    out.print(
        Text.assemble(
            (f"{e.layout}", "bold"),
            " for ",
            safe(e.recipient, "bold"),
            f"  locale {e.locale}, now {e.now.isoformat(timespec='minutes')}",
        )
    )
    out.print(Text.assemble("segments: ", (", ".join(e.segments) or "none", "cyan")))
    for resolution in e.groups.values():
        out.print(Text.assemble("group ", (resolution.group, "bold"), f": {resolution.describe()}"))
    if e.metrics:  # the numbers the rules saw: metrics, RFM values, scores
        out.print(Text.assemble("values: ", safe(e.values, "dim")))
    for line in e.score_lines():
        name, _, terms = line.partition(": ")
        out.print(Text.assemble(name, ": ", (terms, "dim")))
    for decision in e.decisions:
        table = Table(
            # A Text, not a str: rich would read "[experiment …]" as markup and drop it.
            title=Text(
                f"{decision.slot} → {decision.module or '(empty)'}"
                + "".join(f" [{arm}]" for arm in decision.experiments)
                + f"  ({decision.reason})"
            ),
            title_justify="left",
            show_edge=False,
        )
        table.add_column("", width=1)
        table.add_column("module")
        table.add_column("priority", justify="right")
        table.add_column("outcome")
        table.add_column("why")
        for c in decision.candidates:
            won = c.outcome == WON
            table.add_row(
                Text("✓" if won else "✗", style="green" if won else "red"),
                Text(c.module, style="bold" if won else ""),
                str(c.priority),
                c.outcome,
                safe(c.detail),
            )
        out.print()
        out.print(table)
