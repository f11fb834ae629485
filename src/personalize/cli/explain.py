"""``personalize explain``: why each slot of a layout got its module, for one recipient."""

from __future__ import annotations

import json
from datetime import date, datetime, time, tzinfo
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from personalize.decisions import WON, Explanation
from personalize.registry import Layout, Module, Registry
from personalize.rules import MISSING

from .app import State, cli, duplicate_ids, out, parse_now, records, safe, show, zoned


@cli.command()
@click.argument("template")
@click.option("--recipient", "-r", required=True, metavar="ID", help="A persona (or --data) id.")
# readable=False: a file that cannot be read is an error (1), as a missing one, not a usage one.
@click.option(
    "--data",
    type=click.Path(dir_okay=False, readable=False),
    help="Recipients from a JSONL file (or a pipe).",
)
@click.option("--now", "now_text", metavar="ISO", help="Explain as of this moment.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def explain(
    state: State, template: str, recipient: str, data: str | None, now_text: str | None, fmt: str
) -> None:
    """Show why each slot of TEMPLATE got its module for one recipient.

    Exits with 1 after the explanation when a required slot has no eligible module, with the
    error render would give.
    """
    project = state.project
    now = parse_now(now_text, project.schema.tz)
    project.registry.layout(template)
    chosen = records(state, (recipient,), False, data)
    duplicate_ids(chosen, data)  # explain shows one recipient: which record would be a guess
    ((record, _),) = chosen
    explanation = project.explain(template, record, now=now)
    lines = _line_sources(explanation, project.registry)
    if fmt == "json":
        payload = _explanation_json(explanation, lines)
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=_json_value))
    else:
        _print_explanation(explanation, lines, project.schema.tz)
    if explanation.unfilled:
        # The recipient cannot be rendered: end as render would, with its DecisionError (exit 1)
        # after the explanation of why.
        project.decide(template, record, now=now)


def _line_sources(e: Explanation, registry: Registry) -> dict[str, str | None]:
    """Who supplies the subject and preheader: a module id, ``"layout"``, or ``None`` (none).

    The rule of compile.py: the first chosen module, in slot order, that sets the line.
    """
    chosen = [registry.modules[d.module] for d in e.decisions if d.module is not None]
    layout = registry.layout(e.layout)
    sources: dict[str, str | None] = {}
    for key in ("subject", "preheader"):
        owners: list[tuple[str, Module | Layout]] = [(m.id, m) for m in chosen]
        owners.append(("layout", layout))
        sources[key] = next((name for name, o in owners if _sets(o, key)), None)
    return sources


def _sets(owner: Module | Layout, key: str) -> bool:
    return getattr(owner, key) is not None and getattr(owner, f"{key}_line") is not None


def _json_value(value: object) -> object:
    """Values json cannot write: date-times in ISO 8601 like ``now``; Decimals as strings."""
    if value is MISSING:  # a field the record does not have, like None
        return None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)  # a Decimal keeps its digits: "663.50", not 663.5


def _explanation_json(e: Explanation, lines: dict[str, str | None]) -> dict[str, Any]:
    return {
        "layout": e.layout,
        "recipient": e.recipient,
        "now": e.now.isoformat(),
        "locale": e.locale,
        "subject_from": lines["subject"],
        "preheader_from": lines["preheader"],
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


def _print_explanation(e: Explanation, lines: dict[str, str | None], tz: tzinfo) -> None:
    out.print(
        Text.assemble(
            (f"{e.layout}", "bold"),
            " for ",
            safe(e.recipient, "bold"),
            f"  locale {e.locale}, now {zoned(e.now, tz)}",
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
    out.print(f"{_source('subject', lines['subject'])}, {_source('preheader', lines['preheader'])}")
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
        # Fold rather than truncate: ids that share a prefix would look the same cut short.
        table.add_column("module", overflow="fold")
        table.add_column("priority", justify="right")
        table.add_column("outcome", overflow="fold")
        table.add_column("why", overflow="fold")
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
        show(table)


def _source(line: str, owner: str | None) -> str:
    """``subject from hero/vip``, ``preheader from the layout``, or ``no preheader``."""
    if owner is None:
        return f"no {line}"
    return f"{line} from {'the layout' if owner == 'layout' else owner}"
