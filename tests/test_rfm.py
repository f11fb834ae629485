"""Tests for RFM: the rfm: section and cut points, scoring at the boundaries, and calibration."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personalize import Project
from personalize.config import load_settings
from personalize.errors import ConfigError, PersonalizeError, RuleError
from personalize.lint import lint_project
from personalize.profile import Schema
from personalize.rfm import HEADER, CutPoints, Rfm
from personalize.scope import MappingScope
from personalize.scorecode import derive_run
from personalize.segmentfile import SegmentFile, read_segments
from personalize.segments import Segments, load_segments
from projects import SETTINGS, make_project

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
FIELDS = frozenset({"id", "tier", "days", "orders", "orders.at", "orders.total"})
METRICS = """\
metrics:
  orders_365d: {count: orders, within: 365d}
  spend_365d: {sum: orders.total, within: 365d}
  days_since_order: {days_since: orders.at}
"""
INLINE = (
    METRICS
    + """\
rfm:
  recency: days_since_order
  frequency: orders_365d
  monetary: spend_365d
  cut_points:
    recency: [10, 20, 30, 40]
    frequency: [1, 1, 2, 4]
    monetary: [25.19, 75.5, 144, 273.29]
"""
)
FROM_FILE = METRICS + (
    "rfm: {recency: days_since_order, frequency: orders_365d, monetary: spend_365d, "
    "cut_points: rfm.yaml}\n"
)


def load(tmp_path: Path, text: str, cut_points: str | None = None) -> Segments:
    (tmp_path / "segments.yaml").write_text(text, encoding="utf-8")
    if cut_points is not None:
        (tmp_path / "rfm.yaml").write_text(cut_points, encoding="utf-8")
    return load_segments(tmp_path / "segments.yaml", file="segments.yaml", fields=FIELDS)


def orders(*days_ago: int, total: str = "10.00") -> list[dict[str, Any]]:
    return [{"at": NOW - timedelta(days=d, hours=1), "total": Decimal(total)} for d in days_ago]


def L(line: int, file: str = "segments.yaml") -> str:
    return f"{file} line {line}: "


# -- loading -------------------------------------------------------------------------------------


def test_inline_cut_points_load_exactly(tmp_path: Path) -> None:
    rfm = load(tmp_path, INLINE).rfm
    assert rfm is not None
    assert rfm.inputs == ("days_since_order", "orders_365d", "spend_365d")
    assert rfm.cut_points == CutPoints(
        (10, 20, 30, 40),
        (1, 1, 2, 4),
        (Decimal("25.19"), Decimal("75.5"), 144, Decimal("273.29")),
    )
    assert (rfm.source, rfm.target, rfm.line) == (None, None, 5)


def test_cut_points_from_their_file(tmp_path: Path) -> None:
    segments = load(tmp_path, FROM_FILE, "# written\nrecency: [1, 2, 3, 4.5]\n"
                    "frequency: [0.0, 1.0, 1.0, 2.0]\nmonetary: [1, 2, 3, 4]\n")  # fmt: skip
    assert segments.rfm is not None
    assert segments.rfm.cut_points == CutPoints(
        (1, 2, 3, Decimal("4.5")), (Decimal("0.0"), 1, 1, 2), (1, 2, 3, 4)
    )
    assert (segments.rfm.source, segments.rfm.target) == ("rfm.yaml", tmp_path / "rfm.yaml")
    assert segments.computed == (
        *("orders_365d", "spend_365d", "days_since_order"),
        *("r_score", "f_score", "m_score", "rfm"),
    )


RFM = "rfm: {recency: days_since_order, frequency: orders_365d, monetary: spend_365d"
CUTS = "cut_points: {recency: [1, 2, 3, 4], frequency: [1, 2, 3, 4], monetary: [1, 2, 3, 4]}"


@pytest.mark.parametrize(
    ("text", "cut_points", "message"),
    [
        pytest.param(
            "rfm: [days_since_order]\n",
            None,
            L(1) + "rfm: 'rfm' must be a mapping, got ['days_since_order'] — write rfm: "
            "{recency: days_since_order, frequency: orders_365d, monetary: spend_365d, "
            "cut_points: rfm.yaml}",
            id="not-a-mapping",
        ),
        pytest.param(
            f"{RFM}, {CUTS}, frequncy: 1}}\n",
            None,
            L(1) + "rfm.frequncy: unknown key 'frequncy' — did you mean 'frequency'?",
            id="unknown-key",
        ),
        pytest.param(
            "rfm: {recency: days_since_order, frequency: orders_365d, cut_points: rfm.yaml}\n",
            None,
            L(1) + "rfm: 'rfm' needs 'monetary' — write rfm: {recency: days_since_order, "
            "frequency: orders_365d, monetary: spend_365d, cut_points: rfm.yaml}",
            id="missing-key",
        ),
        pytest.param(
            METRICS + "rfm: {recency: 5, frequency: orders_365d, monetary: spend_365d, "
            "cut_points: rfm.yaml}\n",
            None,
            L(5) + "rfm.recency: 'recency' needs a metric or field name, got 5 — write rfm: "
            "{recency: days_since_order, frequency: orders_365d, monetary: spend_365d, "
            "cut_points: rfm.yaml}",
            id="name-not-text",
        ),
        pytest.param(
            METRICS + "rfm: {recency: days_since_ordr, frequency: orders_365d, "
            "monetary: spend_365d, cut_points: rfm.yaml}\n",
            None,
            L(5) + "rfm.recency: unknown metric or field 'days_since_ordr' — did you mean "
            "'days_since_order'?",
            id="unknown-metric",
        ),
        pytest.param(
            f"{RFM}, cut_points: 5}}\n",
            None,
            L(1) + "rfm.cut_points: 'cut_points' needs a file name or the cut points, got 5 — "
            "write cut_points: rfm.yaml, and run 'personalize calibrate AUDIENCE.jsonl'",
            id="cut-points-not-a-file-or-mapping",
        ),
        pytest.param(
            f"{RFM}, cut_points: ../rfm.yaml}}\n",
            None,
            L(1) + "rfm.cut_points: 'cut_points' must name a .yaml file inside the project, got "
            "'../rfm.yaml' — write e.g. cut_points: rfm.yaml (next to the segments file)",
            id="file-outside-the-project",
        ),
        pytest.param(
            f"{RFM}, cut_points: rfm.txt}}\n",
            None,
            L(1) + "rfm.cut_points: 'cut_points' must name a .yaml file inside the project, got "
            "'rfm.txt' — write e.g. cut_points: rfm.yaml (next to the segments file)",
            id="not-yaml",
        ),
        pytest.param(
            f"{RFM}, cut_points: {{recency: [1, 2, 3, 4], frequency: [1, 2, 3, 4]}}}}\n",
            None,
            L(1) + "rfm.cut_points: cut points for 'monetary' are missing — list the 4 "
            "boundaries between the scores 1–5, e.g. [14, 30, 90, 180]",
            id="missing-dimension",
        ),
        pytest.param(
            f"{RFM}, cut_points: {{recency: [1, 2, 3], frequency: [1, 2, 3, 4], "
            "monetary: [1, 2, 3, 4]}}\n",
            None,
            L(1) + "rfm.cut_points.recency: expected 4 cut points, got [1, 2, 3] — list the 4 "
            "boundaries between the scores 1–5, e.g. [14, 30, 90, 180]",
            id="three-cut-points",
        ),
        pytest.param(
            f"{RFM}, cut_points: {{recency: [1, 2, 3, x], frequency: [1, 2, 3, 4], "
            "monetary: [1, 2, 3, 4]}}\n",
            None,
            L(1) + "rfm.cut_points.recency[3]: expected a number, got 'x' — write a number",
            id="not-a-number",
        ),
        pytest.param(
            f"{RFM}, cut_points: {{recency: [1, 2, 3, 4], frequency: [1, 2, 3, 4], "
            "monetary: [1, .nan, 3, 4]}}\n",
            None,
            L(1) + "rfm.cut_points.monetary[1]: expected a number, got nan — write a number",
            id="nan",
        ),
        pytest.param(
            f"{RFM}, cut_points: {{recency: [30, 14, 60, 90], frequency: [1, 2, 3, 4], "
            "monetary: [1, 2, 3, 4]}}\n",
            None,
            L(1) + "rfm.cut_points.recency: cut points must not decrease, got [30, 14, 60, 90] "
            "— sort them from the lowest to the highest value",
            id="decreasing",
        ),
        pytest.param(
            FROM_FILE,
            f"{HEADER}\nrecency: [1, 2, 3, 4]\nfrequency: [1, 2, 3, 4]\nmonetary: [1, 2, 3]\n",
            L(4, "rfm.yaml") + "monetary: expected 4 cut points, got [1, 2, 3] — list the 4 "
            "boundaries between the scores 1–5, e.g. [14, 30, 90, 180]; or delete rfm.yaml and "
            "run 'personalize calibrate AUDIENCE.jsonl' to write it again",
            id="error-in-the-cut-points-file",
        ),
        pytest.param(
            FROM_FILE,
            f"{HEADER}\nrecency: [1, 2, 3, 4]\nfrequency: [1, 2, 3, 4]\nmonetary: [1, 2, 3, 4]\n"
            "m: 1\n",
            L(5, "rfm.yaml") + "m: unknown key 'm' — use recency, frequency and monetary; or "
            "delete rfm.yaml and run 'personalize calibrate AUDIENCE.jsonl' to write it again",
            id="unknown-key-in-the-cut-points-file",
        ),
        pytest.param(
            FROM_FILE,
            "recency: [1, 2, 3, 4]\nfrequency: [1, 2, 3, 4]\nmonetary: [1, 2, 3, 4]\nm: 1\n",
            L(4, "rfm.yaml") + "m: unknown key 'm' — use recency, frequency and monetary; "
            "rfm.yaml was not written by 'personalize calibrate' (its header is missing): fix it, "
            "or check that rfm.cut_points in segments.yaml names the cut points file",
            id="a-cut-points-file-calibrate-did-not-write-is-not-to-be-deleted",
        ),
        pytest.param(
            f"{RFM}, cut_points: segments.yaml}}\n",
            None,
            L(1) + "rfm.cut_points: 'cut_points' names the segments file itself, got "
            "'segments.yaml' — name the file 'personalize calibrate' writes the cut points to, "
            "e.g. cut_points: rfm.yaml",
            id="cut-points-naming-the-segments-file",
        ),
        pytest.param(
            METRICS + RFM + ", cut_points: ./segments.yaml}\n",
            None,
            L(5) + "rfm.cut_points: 'cut_points' names the segments file itself, got "
            "'./segments.yaml' — name the file 'personalize calibrate' writes the cut points to, "
            "e.g. cut_points: rfm.yaml",
            id="cut-points-naming-the-segments-file-another-way",
        ),
        pytest.param(
            FROM_FILE + "segments:\n  rfm: {when: {tier: Gold}}\n",
            None,
            L(7) + "segments.rfm: segment 'rfm' has the same name as an RFM value — rename it: "
            "rules could not tell the two apart",
            id="segment-named-rfm",
        ),
        pytest.param(
            METRICS + "  r_score: {count: orders}\n" + FROM_FILE.removeprefix(METRICS),
            None,
            L(5) + "metrics.r_score: metric 'r_score' has the same name as an RFM value — "
            "rename it: rules could not tell the two apart",
            id="metric-named-r-score",
        ),
        pytest.param(
            METRICS + f"segments:\n  top: {{when: {{r_scor: 5}}}}\n{RFM}, {CUTS}}}\n",
            None,
            L(6) + "segments.top.when: unknown name 'r_scor' — did you mean 'r_score'?",
            id="segment-misspells-r-score",
        ),
        pytest.param(
            METRICS + "segments:\n  top: {when: {r_score: 5}}\n",
            None,
            L(6) + "segments.top.when: unknown name 'r_score' — declare it under metrics: or "
            "segments:, or as a recipient field",
            id="r-score-without-rfm",
        ),
    ],
)
def test_load_errors(tmp_path: Path, text: str, cut_points: str | None, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, cut_points)
    assert str(info.value) == message


def test_rfm_field_names_clash_with_recipient_fields(tmp_path: Path) -> None:
    (tmp_path / "segments.yaml").write_text(FROM_FILE, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_segments(tmp_path / "segments.yaml", file="segments.yaml", fields=FIELDS | {"rfm"})
    assert str(info.value) == (
        L(5) + "rfm: the RFM value 'rfm' has the same name as a recipient field — rename the "
        "field: with an rfm: section, r_score, f_score, m_score, rfm name the scores"
    )


# -- scoring -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "r_score"),
    [(0, 5), (10, 5), (11, 4), (20, 4), (21, 3), (30, 3), (31, 2), (40, 2), (41, 1), (900, 1)],
)
def test_recency_boundaries(tmp_path: Path, days: int, r_score: int) -> None:
    # A value on a cut point is in the lower bin: for recency (fewer days), the better score.
    values = load(tmp_path, INLINE).classify({"orders": orders(days)}, now=NOW, tz=UTC).metrics
    assert values["days_since_order"] == days
    assert values["r_score"] == r_score


@pytest.mark.parametrize(
    ("count", "f_score"), [(0, 1), (1, 1), (2, 3), (3, 4), (4, 4), (5, 5), (40, 5)]
)
def test_frequency_boundaries_with_tied_cut_points(
    tmp_path: Path, count: int, f_score: int
) -> None:
    # Cut points [1, 1, 2, 4]: 1 is in the first bin, 2 skips the empty second one.
    data = {"orders": orders(*[1] * count)}
    assert load(tmp_path, INLINE).classify(data, now=NOW, tz=UTC).metrics["f_score"] == f_score


@pytest.mark.parametrize(
    ("total", "m_score"),
    [
        ("25.19", 1),
        ("25.20", 2),
        ("75.50", 2),
        ("75.51", 3),
        ("144.00", 3),
        ("144.01", 4),
        ("273.29", 4),
        ("273.30", 5),
    ],
)
def test_monetary_boundaries_are_exact(tmp_path: Path, total: str, m_score: int) -> None:
    data = {"orders": orders(5, total=total)}
    assert load(tmp_path, INLINE).classify(data, now=NOW, tz=UTC).metrics["m_score"] == m_score


def test_rfm_code_and_missing_values(tmp_path: Path) -> None:
    segments = load(tmp_path, INLINE)
    values = segments.classify({"orders": orders(5, 15, 25, total="100")}, now=NOW, tz=UTC)
    assert [values.metrics[k] for k in ("r_score", "f_score", "m_score", "rfm")] == [5, 4, 5, "545"]
    nothing = segments.classify({}, now=NOW, tz=UTC).metrics
    # Never ordered: no recency; frequency and monetary are 0, the lowest scores.
    assert [nothing[k] for k in ("r_score", "f_score", "m_score", "rfm")] == [None, 1, 1, None]


def test_segments_on_rfm_scores(tmp_path: Path) -> None:
    text = INLINE + "segments:\n  champions: {when: {r_score: {gte: 4}, f_score: {gte: 4}}}\n"
    segments = load(tmp_path, text)
    assert segments.classify({"orders": orders(1, 2, 3)}, now=NOW, tz=UTC).segments == {"champions"}
    assert segments.classify({"orders": orders(100, 200)}, now=NOW, tz=UTC).segments == set()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("lots", "expected a finite number, got 'lots' (text)"),
        (True, "expected a finite number, got True (true/false)"),
        (float("inf"), "expected a finite number, got inf (number)"),
        (Decimal("NaN"), "expected a finite number, got Decimal('NaN') (number)"),
    ],
)
def test_values_that_are_not_numbers(tmp_path: Path, value: Any, message: str) -> None:
    text = (
        "rfm: {recency: days, frequency: days, monetary: days, cut_points: "
        "{recency: [1, 2, 3, 4], frequency: [1, 2, 3, 4], monetary: [1, 2, 3, 4]}}\n"
    )
    with pytest.raises(RuleError) as info:
        load(tmp_path, text).classify({"days": value}, now=NOW, tz=UTC, recipient="r1")
    assert str(info.value) == (
        f"segments.yaml line 1 (recipient r1): days: rfm: recency value 'days' must be a finite "
        f"number, got {message.split('got ')[1]} — check the field's type in the recipient schema"
    )


def test_scoring_without_the_cut_points_file_says_to_calibrate(tmp_path: Path) -> None:
    segments = load(tmp_path, FROM_FILE)
    with pytest.raises(RuleError) as info:
        segments.classify({}, now=NOW, tz=UTC, recipient="r1")
    assert str(info.value) == (
        "segments.yaml line 5 (recipient r1): rfm.cut_points: rfm: no cut points: 'rfm.yaml' "
        "does not exist — run 'personalize calibrate AUDIENCE.jsonl' to write it"
    )


@given(
    value=st.integers(-1000, 1000),
    cuts=st.lists(
        st.decimals(min_value=-1000, max_value=1000, places=3), min_size=4, max_size=4
    ).map(sorted),
)
def test_ints_score_as_exactly_as_decimals(value: int, cuts: list[Decimal]) -> None:
    # Ints are compared with faster stand-ins for Decimal cut points; the bins must not move.
    rfm = Rfm("v", "v", "v", CutPoints(tuple(cuts), tuple(cuts), tuple(cuts)))
    r, f, m, _ = rfm.score(MappingScope({"v": value}, now=NOW))
    below = sum(cut < value for cut in cuts)
    assert (r, f, m) == (5 - below, 1 + below, 1 + below)
    assert rfm.score(MappingScope({"v": Decimal(value)}, now=NOW))[:3] == (r, f, m)


def both_paths(rfm: Rfm, value: Any) -> tuple[Any, ...]:
    """The scores from the checked path, after checking the generated code agrees."""
    data = {rfm.recency: value}  # one value feeds all three
    checked = rfm.score(MappingScope(data, now=NOW))
    values: dict[str, Any] = {}
    derive_run(rfm, (), frozenset())(MappingScope(data, now=NOW), values)
    assert (values["r_score"], values["f_score"], values["m_score"], values["rfm"]) == checked
    return checked


FLOATS_CUT = (
    "rfm: {recency: days, frequency: days, monetary: days, cut_points: "
    "{recency: C, frequency: C, monetary: C}}\n"
)


@pytest.mark.parametrize(
    ("value", "scores"),
    [
        (0.1, (5, 1, 1)),  # the float 0.1 is 0.1000000000000000055…: on the cut point 0.1
        (Decimal("0.1"), (5, 1, 1)),
        (0.1 + 0.2, (2, 4, 4)),  # 0.30000000000000004: above the cut point 0.3
        (0.3, (3, 3, 3)),  # 0.299999999999999988…: on it
        (401.2, (2, 4, 4)),
        (Decimal("401.20"), (2, 4, 4)),
        (401.25, (1, 5, 5)),
        (Decimal("0.10000000000000001"), (4, 2, 2)),
    ],
)
def test_a_float_on_a_cut_point_is_in_the_lower_bin(
    tmp_path: Path, value: Any, scores: tuple[int, int, int]
) -> None:
    # As calibrate writes them: floats become Decimals of their shortest form when read back.
    text = FLOATS_CUT.replace("C", "[0.1, 0.2, 0.3, 401.2]")
    rfm = load(tmp_path, text).rfm
    assert rfm is not None
    assert rfm.cut_points == CutPoints(*[tuple(map(Decimal, ("0.1", "0.2", "0.3", "401.2")))] * 3)
    assert both_paths(rfm, value)[:3] == scores


@given(
    cuts=st.lists(
        st.decimals(min_value=-1000, max_value=1000, places=6), min_size=4, max_size=4
    ).map(sorted),
    data=st.data(),
)
def test_floats_bin_by_the_nearest_float_and_decimals_exactly(
    cuts: list[Decimal], data: st.DataObject
) -> None:
    nearest = st.sampled_from([float(cut) for cut in cuts])  # often a hair above the cut point
    value = data.draw(nearest | st.floats(-1000, 1000) | st.decimals(-1000, 1000, places=6))
    rfm = Rfm("v", "v", "v", CutPoints(tuple(cuts), tuple(cuts), tuple(cuts)))
    if isinstance(value, float):
        below = sum(float(cut) < value for cut in cuts)
    else:
        below = sum(cut < value for cut in cuts)
    assert both_paths(rfm, value)[:3] == (5 - below, 1 + below, 1 + below)


def test_rfm_survives_pickling(tmp_path: Path) -> None:
    # Worker processes of render_many get the segments by pickle.
    segments = load(tmp_path, INLINE)
    copy = pickle.loads(pickle.dumps(segments))
    data = {"orders": orders(5, 15, 25, total="100")}
    assert copy.rfm == segments.rfm
    assert copy.classify(data, now=NOW, tz=UTC) == segments.classify(data, now=NOW, tz=UTC)


# -- the inputs' declared types ------------------------------------------------------------------

TYPED = SETTINGS.replace(
    "[recipient.types.order]",
    'signup_at = "date"\npoints = "int"\npadded = " int "\nrate = "float"\nscores = "list[int]"\n'
    'flags = "list[bool]"\nprefs = "map"\n\n[recipient.types.order]',
)
TYPED_METRICS = METRICS + (
    "  last_order_at: {max: orders.at}\n  score_sum: {sum: scores}\n  flag_sum: {sum: flags}\n"
)
NUMBER_HINT = "or an int, float or decimal field"


def read_typed(tmp_path: Path, inputs: str) -> SegmentFile | None:
    """Read segments.yaml with the schema's field types, as Project.load does."""
    text = f"{TYPED_METRICS}rfm: {{{inputs}, cut_points: rfm.yaml}}\n"
    root = make_project(tmp_path, settings=TYPED, segments=text)
    schema = Schema(load_settings(root))
    return read_segments(
        root / "segments.yaml", file="segments.yaml", fields=schema.paths(), field_spec=schema.spec
    )


@pytest.mark.parametrize(
    "inputs",
    [
        "recency: days_since_order, frequency: orders_365d, monetary: spend_365d",
        "recency: points, frequency: rate, monetary: score_sum",  # int, float, sum of ints
        "recency: prefs.days, frequency: prefs.orders, monetary: prefs.spend",  # any type
        "recency: padded, frequency: orders_365d, monetary: spend_365d",  # " int ", as declared
    ],
)
def test_rfm_inputs_of_number_types_load(tmp_path: Path, inputs: str) -> None:
    found = read_typed(tmp_path, inputs)
    assert found is not None
    assert found.rfm is not None


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        pytest.param(
            "recency: days_since_order, frequency: first_name, monetary: spend_365d",
            "rfm.frequency: 'frequency' needs a number, but 'first_name' is a field of type str "
            f"— name a metric such as {{count: orders, within: 365d}}, {NUMBER_HINT}",
            id="text-field",
        ),
        pytest.param(
            "recency: signup_at, frequency: orders_365d, monetary: spend_365d",
            "rfm.recency: 'recency' needs a number, but 'signup_at' is a field of type date — "
            "count the days since it with a metric such as {days_since: signup_at}",
            id="date-field",
        ),
        pytest.param(
            "recency: last_order_at, frequency: orders_365d, monetary: spend_365d",
            "rfm.recency: 'recency' needs a number, but metric 'last_order_at' is the max of "
            "'orders.at', of type datetime — count the days since it with a metric such as "
            "{days_since: orders.at}",
            id="datetime-metric",
        ),
        pytest.param(
            "recency: days_since_order, frequency: orders, monetary: spend_365d",
            "rfm.frequency: 'frequency' needs a number, but 'orders' is a field of type "
            f"list[order] — name a metric such as {{count: orders, within: 365d}}, {NUMBER_HINT}",
            id="list-field",
        ),
        pytest.param(
            "recency: days_since_order, frequency: orders_365d, monetary: links",
            "rfm.monetary: 'monetary' needs a number, but 'links' is a field of type links — "
            f"name a metric such as {{sum: orders.total, within: 365d}}, {NUMBER_HINT}",
            id="object-field",
        ),
        pytest.param(
            "recency: days_since_order, frequency: orders_365d, monetary: flag_sum",
            "rfm.monetary: 'monetary' needs a number, but metric 'flag_sum' is the sum of "
            "'flags', of type bool — name a metric such as {sum: orders.total, within: 365d}, "
            f"{NUMBER_HINT}",
            id="metric-over-bools",
        ),
    ],
)
def test_rfm_inputs_that_are_not_numbers_are_refused_at_load(
    tmp_path: Path, inputs: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        read_typed(tmp_path, inputs)
    assert str(info.value) == L(8) + message


def test_rfm_input_types_are_checked_once_per_entry_in_lint_mode(tmp_path: Path) -> None:
    problems: list[PersonalizeError] = []
    text = f"{TYPED_METRICS}rfm: {{recency: signup_at, frequency: first_name, monetary: links, "
    root = make_project(tmp_path, settings=TYPED, segments=text + "cut_points: rfm.yaml}\n")
    schema = Schema(load_settings(root))
    found = read_segments(
        root / "segments.yaml",
        file="segments.yaml",
        fields=schema.paths(),
        field_spec=schema.spec,
        problems=problems,
    )
    assert found is not None
    assert found.rfm is None  # left out: the first problem says why
    assert [str(p) for p in problems] == [
        L(8) + "rfm.recency: 'recency' needs a number, but 'signup_at' is a field of type date — "
        "count the days since it with a metric such as {days_since: signup_at}"
    ]


def test_project_load_and_lint_refuse_an_rfm_input_that_is_not_a_number(tmp_path: Path) -> None:
    text = f"{TYPED_METRICS}rfm: {{recency: days_since_order, frequency: first_name, "
    root = make_project(
        tmp_path, settings=TYPED, segments=text + "monetary: spend_365d, cut_points: rfm.yaml}\n"
    )
    message = (
        "rfm.frequency: 'frequency' needs a number, but 'first_name' is a field of type str — "
        f"name a metric such as {{count: orders, within: 365d}}, {NUMBER_HINT}"
    )
    with pytest.raises(ConfigError) as info:
        Project.load(root)
    assert str(info.value) == L(8) + message
    assert [str(f) for f in lint_project(root).findings if f.code == "L001"] == [
        f"segments.yaml:8: L001 error: {message}"
    ]


def test_a_cut_points_file_that_cannot_be_read_is_not_blamed_on_its_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cuts = "recency: [1, 2, 3, 4]\nfrequency: [1, 2, 3, 4]\nmonetary: [1, 2, 3, 4]\n"
    load(tmp_path, FROM_FILE, f"{HEADER}\n{cuts}")
    target = tmp_path / "rfm.yaml"
    opened = Path.open

    def refused(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == target:  # as for a file of mode 000 and a user who is not root
            raise PermissionError(13, "Permission denied", str(self))
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refused)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, FROM_FILE)
    assert str(info.value) == (
        "rfm.yaml: cannot read the file: Permission denied — check the path and permissions"
    )
