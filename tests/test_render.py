"""Per-recipient rendering: output parts, warnings, located errors, the MIME message."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personalize import Project, RecipientError, RegistryError, RenderedEmail, RenderError
from personalize.filters.numbers import money_text
from personalize.render import _size_warning, utf8_bound
from personalize.testing import canonical_html
from projects import ANN, SETTINGS, make_project, module, starter_kit_copy


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.load(make_project(tmp_path))


def test_the_email_has_every_part(project: Project) -> None:
    out = project.render("news", ANN)
    assert (out.layout, out.recipient, out.locale) == ("news", "ann", "en_US")
    assert out.decisions == {"hero": "hero/default", "extra": None}
    assert out.text == "Hi Ann\n"
    assert out.html.lower().startswith("<!doctype html>")
    assert out.now is not None
    assert out.now.isoformat() == "2026-11-27T09:00:00+01:00"
    assert out.address == "ann@example.com"
    assert out.unsubscribe == "https://shop.example/unsubscribe"


def test_the_email_is_a_whole_rendered_email(project: Project) -> None:
    # _finish builds it without RenderedEmail.__init__: every field must be set all the same.
    out = project.render("news", ANN)
    assert list(vars(out)) == [f.name for f in dataclasses.fields(RenderedEmail)]
    assert out == RenderedEmail(**vars(out))
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.subject = "changed"  # type: ignore[misc]


def test_fields_that_fell_back_to_their_default_are_reported(project: Project) -> None:
    out = project.render("news", {"id": "x", "email": "x@example.com", "first_name": "  "})
    assert out.subject == "Hello there"
    assert out.warnings == ("first_name fell back to its default 'there'",)


def test_template_defaults_are_reported_too(tmp_path: Path) -> None:
    hero = module("description: x", "<mj-text>{{ nickname | default('friend') }}</mj-text>")
    project = Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    out = project.render("news", ANN)
    assert "nickname fell back to its default 'friend'" in out.warnings


def test_subject_lines_never_carry_control_characters(project: Project) -> None:
    out = project.render("news", {**ANN, "first_name": "Ann\r\nBcc: eve@example.com\x00\u2028!"})
    assert out.subject == "Hello Ann Bcc: eve@example.com !"
    assert "&lt;" not in out.subject


def test_printing_a_missing_value_names_recipient_module_and_line(tmp_path: Path) -> None:
    hero = module("description: x", "<mj-text>\n  Hi {{ nickname }}\n</mj-text>")
    project = Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    with pytest.raises(RenderError) as caught:
        project.render("news", ANN)
    assert str(caught.value) == (
        "modules/hero/default.mjml line 5 (recipient ann): nickname: {{ nickname }} has no value "
        "for this recipient — declare a default for the field, or write "
        "{{ nickname | default('…') }}"
    )


def test_an_unknown_locale_names_the_field(project: Project) -> None:
    with pytest.raises(RecipientError) as caught:
        project.render("news", {**ANN, "locale": "xx_YY"})
    assert str(caught.value) == (
        "recipient ann: locale: unknown locale 'xx_YY' — use a locale Babel knows, such as "
        "'en_US' or 'de_DE'"
    )
    assert caught.value.path == "locale"


ORDER_HERO = module(
    "description: x",
    """
    <mj-text>
      {% for o in orders %}{{ o.total | money(format='name') }} {{ o.at | time('HH:mm') }} {{
        o.at | relative }}{% endfor %}
    </mj-text>
    """,
)


def _order(tmp_path: Path, total: str, **fields: str) -> tuple[Project, dict[str, object]]:
    project = Project.load(make_project(tmp_path, modules={"hero/default": ORDER_HERO}))
    order = {"at": "2026-03-29T02:30:00", "total": total}
    return project, {**ANN, "orders": [order], **fields}


def test_an_unknown_currency_of_the_recipient_names_the_currency_field(tmp_path: Path) -> None:
    project, ann = _order(tmp_path, "5", currency="EUX")
    with pytest.raises(RecipientError) as caught:
        project.render("news", ann)
    assert caught.value.path == "currency"
    assert str(caught.value) == (
        "modules/hero/default.mjml line 5 (recipient ann): currency: expected an ISO 4217 "
        "currency code for money, got 'EUX' — use a three-letter code such as 'EUR' or 'USD', "
        "or set the recipient's currency"
    )


def test_a_render_time_past_the_recipients_calendar_is_blamed_on_now(tmp_path: Path) -> None:
    project, ann = _order(tmp_path, "5", timezone="Pacific/Kiritimati")
    with pytest.raises(RecipientError) as caught:
        project.render("news", ann, now=datetime(9999, 12, 31, 23, tzinfo=UTC))
    assert caught.value.path == "now"
    assert str(caught.value) == (
        "modules/hero/default.mjml line 5 (recipient ann): now: the render time "
        "9999-12-31T23:00:00+00:00 is out of range: in the time zone Pacific/Kiritimati it "
        "falls after the end of year 9999 — render at a time between years 1 and 9999 in every "
        "recipient's time zone, e.g. now=datetime.now(UTC)"
    )


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Europe/Paris"])
def test_a_naive_time_the_clocks_skip_reads_the_same_in_every_zone(
    tmp_path: Path, zone: str
) -> None:
    # 02:30 in the project's zone (Berlin) on the night the clocks skip it: 03:30 everywhere.
    project, ann = _order(tmp_path, "5", timezone=zone)
    text = project.render("news", ann, now=datetime(2026, 3, 29, 0, 30, tzinfo=UTC)).text
    assert text == "5.00 US dollars 03:30 in 1 hour\n"


def test_a_currency_name_does_not_depend_on_the_amounts_rendered_before(tmp_path: Path) -> None:
    # 1 and 1.00 are equal Decimals (one cache entry): both take the form of the printed 1.00.
    project, one = _order(tmp_path, "1", currency="USD", locale="en_US")
    cents = {**one, "orders": [{"at": "2026-11-20T09:00:00", "total": "1.00"}]}
    for first in (one, cents):
        money_text.cache_clear()
        project.render("news", first)
        email = project.render("news", cents)
        assert email.text.startswith("1.00 US dollars ")


def test_html_over_the_clipping_budget_is_a_warning(tmp_path: Path) -> None:
    settings = SETTINGS.replace("[message]", "[render]\nclip_bytes = 1000\n\n[message]")
    hero = module(
        "description: x",
        "<mj-section><mj-column><mj-text>" + "words " * 400 + "</mj-text>"
        '<mj-text><a href="{{ links.unsubscribe | url }}">Unsubscribe</a></mj-text>'
        "</mj-column></mj-section>",
    )
    project = Project.load(
        make_project(tmp_path, settings=settings, modules={"hero/default": hero})
    )
    (warning,) = project.render("news", ANN).warnings
    assert warning.startswith("HTML is ")
    assert warning.endswith(
        "over Gmail's clipping limit of 1 KB; the unsubscribe link falls past the clip point"
    )


@given(st.text(st.characters(codec=None)))
def test_the_utf8_bound_is_never_below_the_encoded_size(text: str) -> None:
    assert utf8_bound(text) >= len(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("wide", ["·", "−", "😀"])
def test_the_clipping_warning_counts_utf8_bytes_exactly(wide: str) -> None:
    html = wide + "a" * 2999
    size = len(html.encode("utf-8"))
    assert _size_warning(html, size) is None
    warning = _size_warning(html, size - 1)
    assert warning is not None
    assert warning.startswith(f"HTML is {size / 1000:.1f} KB, over Gmail's clipping limit")


def test_to_message_uses_the_rendered_parts_and_defaults(project: Project) -> None:
    out = project.render("news", ANN)
    message = out.to_message(sender="Shop <shop@example.com>")
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Hello Ann"
    assert parsed["To"] == "ann@example.com"
    assert parsed["List-Unsubscribe"] == "<https://shop.example/unsubscribe>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Date"] == "Fri, 27 Nov 2026 09:00:00 +0100"
    kinds = [part.get_content_type() for part in parsed.iter_parts()]
    assert kinds == ["text/plain", "text/html"]


def test_rendering_is_deterministic(project: Project) -> None:
    first, second = project.render("news", ANN), project.render("news", ANN)
    assert first == second


def test_reference_path_matches_on_a_small_project(project: Project) -> None:
    fast = project.render("news", ANN)
    reference = project.render_reference("news", ANN)
    assert fast.text == reference.text
    assert fast.subject == reference.subject


def test_to_message_defaults_to_the_message_settings(project: Project) -> None:
    message = project.render("news", ANN).to_message()
    assert message["From"] == "Shop <shop@example.com>"


def test_templates_see_the_effective_locale_and_currency(tmp_path: Path) -> None:
    hero = module("description: x", "<mj-text>{{ locale }} {{ currency }} {{ timezone }}</mj-text>")
    project = Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    assert project.render("news", ANN).text == "en_US USD Europe/Berlin\n"


def test_data_in_a_style_element_is_checked_as_css(tmp_path: Path) -> None:
    hero = module(
        "description: x",
        "<mj-raw><style>.brand { color: {{ nickname }}; }</style></mj-raw><mj-text>x</mj-text>",
    )
    project = Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    assert ".brand { color: teal; }" in project.render("news", {**ANN, "nickname": "teal"}).html
    with pytest.raises(RecipientError) as caught:
        project.render("news", {**ANN, "nickname": "red} body{display:none"})
    assert str(caught.value).startswith(
        "modules/hero/default.mjml line 4 (recipient ann): nickname: unsafe CSS value"
    )


def test_segment_names_are_not_template_variables(tmp_path: Path) -> None:
    hero = module("description: x", "<mj-text>{% if gold %}Gold{% endif %}</mj-text>")
    with pytest.raises(RegistryError) as caught:
        Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    assert str(caught.value) == (
        "modules/hero/default.mjml line 4: unknown name 'gold' — test segment membership with "
        "{% if 'gold' in segments %}"
    )


def test_nested_loops_over_recipient_data_stop_at_the_loop_budget(tmp_path: Path) -> None:
    body = (
        "<mj-text>\n  {% for a in orders %}{% for b in orders %}{% for c in orders %}"
        "{{ c.total }}{% endfor %}{% endfor %}{% endfor %}\n</mj-text>"
    )
    hero = module("description: x", body)
    project = Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    orders = [{"at": "2026-11-20T10:00:00+01:00", "total": "1.00"}] * 300
    with pytest.raises(RenderError) as caught:
        project.render("news", {**ANN, "orders": orders})  # 27 million iterations unchecked
    assert str(caught.value) == (
        "modules/hero/default.mjml line 5 (recipient ann): unsafe or too costly: loops ran over "
        "the limit of 100,000 iterations per email"
    )
    assert project.render("news", {**ANN, "orders": orders[:20]}).html.count("1.00") == 8_000


def _web_fonts_project(root: Path) -> Project:
    """The starter kit with [render] web_fonts = true and a weekly layout set in Ubuntu, one of
    the fonts MJML links from Google Fonts."""
    starter_kit_copy(root, ("cache_size = 256", "web_fonts = true"))
    weekly = root / "templates" / "weekly.mjml"
    text = weekly.read_text(encoding="utf-8")
    ubuntu = 'font-family="Ubuntu, Helvetica, Arial, sans-serif"'
    weekly.write_text(text.replace('font-family="Helvetica, Arial, sans-serif"', ubuntu))
    return Project.load(root)


def test_render_reference_compiles_mjml_with_the_render_settings(tmp_path: Path) -> None:
    # It compiled with MJML's defaults: with web_fonts = true the oracle reported a difference.
    project = _web_fonts_project(tmp_path)
    vera = project.personas["vip-vera"]
    fast, reference = project.render("weekly", vera), project.render_reference("weekly", vera)
    assert "fonts.googleapis.com/css?family=Ubuntu" in fast.html
    assert canonical_html(reference.html) == canonical_html(fast.html)
    assert reference.text == fast.text


SUBJECT_LAYOUT = """---
subject: "Hi {{ first_name }},\\n  {{- nickname | money }}"
preheader: "For {{ first_name }}: {{ tier | url }}"
---
<mjml><mj-body><slot name="hero"/></mj-body></mjml>
"""


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        (
            {"nickname": "abc", "tier": "https://shop.example/"},
            "nickname",
            "templates/news.mjml line 2 (recipient ann): nickname: expected a number for money, "
            "got 'abc' — give it an int, float, Decimal or a numeric string such as '19.99'",
        ),
        (
            {"nickname": "1", "tier": "javascript:alert(1)"},
            "tier",
            "templates/news.mjml line 3 (recipient ann): tier: URL scheme 'javascript' is not "
            "allowed, got 'javascript:alert(1)' — only http, https and mailto links may come "
            "from data",
        ),
    ],
    ids=["subject", "preheader"],
)
def test_a_filter_failure_in_the_subject_or_preheader_names_its_field(
    tmp_path: Path, fields: dict[str, str], path: str, message: str
) -> None:
    project = Project.load(make_project(tmp_path, layouts={"news": SUBJECT_LAYOUT}))
    with pytest.raises(RecipientError) as caught:
        project.render("news", {**ANN, **fields})
    assert caught.value.path == path
    assert str(caught.value) == message


def test_the_subject_keeps_its_whitespace_controls(tmp_path: Path) -> None:
    project = Project.load(make_project(tmp_path, layouts={"news": SUBJECT_LAYOUT}))
    email = project.render("news", {**ANN, "nickname": "12.5", "tier": "https://shop.example/"})
    assert email.subject == "Hi Ann,$12.50"
    assert email.preheader == "For Ann: https://shop.example/"


def test_an_error_in_one_of_two_modules_with_the_same_body_names_the_one_that_failed(
    tmp_path: Path,
) -> None:
    # Both regions compile to the same source, hence the same template name: the error must
    # still be placed in the module whose code raised (the first slot), not the other.
    body = (
        "<mj-section><mj-column><mj-text>Hello</mj-text>\n"
        "<mj-text>{{ nickname | money }}</mj-text></mj-column></mj-section>"
    )
    layout = (
        '---\nsubject: "Hi"\n---\n<mjml><mj-body>\n<slot name="a"/>\n'
        "<mj-section><mj-column><mj-text>mid</mj-text></mj-column></mj-section>\n"
        '<slot name="b"/>\n</mj-body></mjml>\n'
    )
    root = make_project(
        tmp_path,
        layouts={"news": layout},
        modules={
            "a/default": "---\ndescription: a\n---\n" + body + "\n",
            "b/default": "---\ndescription: b\n---\n\n\n\n" + body + "\n",
        },
    )
    with pytest.raises(RecipientError) as caught:
        Project.load(root).render("news", {**ANN, "nickname": "x"})
    assert str(caught.value).startswith(
        "modules/a/default.mjml line 5 (recipient ann): nickname: expected a number for money"
    )


def test_a_subject_token_over_two_lines_still_names_its_field(tmp_path: Path) -> None:
    layout = SUBJECT_LAYOUT.replace("{{- nickname | money }}", "{{- nickname\\n | money }}")
    project = Project.load(make_project(tmp_path, layouts={"news": layout}))
    with pytest.raises(RecipientError) as caught:
        project.render("news", {**ANN, "nickname": "abc", "tier": "https://shop.example/"})
    assert caught.value.path == "nickname"


ADDRESS_SETTINGS = (
    SETTINGS.replace('nickname = "str"', 'nickname = "str"\naddress = "address"')
    + '\n[recipient.types.address]\ncity = "str"\n'
)
NO_ADDRESS = (
    "field 'address' has no value for this recipient, so it has no 'city' — guard it with "
    "{% if address and address.city %}, or write {{ address.city | default('…') }}"
)


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ("Hi {{ address.city }}", "address.city: {{ address.city }}"),
        ("{% if address.city %}Hi{% endif %}", "{% if address.city %}"),
    ],
    ids=["printed", "tested"],
)
def test_a_path_into_an_absent_optional_object_says_how_to_guard_it(
    tmp_path: Path, body: str, shown: str
) -> None:
    hero = module("description: x", f"<mj-text>\n  {body}\n</mj-text>")
    root = make_project(tmp_path, settings=ADDRESS_SETTINGS, modules={"hero/default": hero})
    project = Project.load(root)
    with pytest.raises(RenderError) as caught:
        project.render("news", ANN)
    assert str(caught.value) == (
        f"modules/hero/default.mjml line 5 (recipient ann): {shown}: {NO_ADDRESS}"
    )
    guarded = "{% if address and address.city %}Hi {{ address.city }}{% endif %}"
    hero = module("description: x", f"<mj-text>\n  {guarded}\n</mj-text>")
    root = make_project(tmp_path / "ok", settings=ADDRESS_SETTINGS, modules={"hero/default": hero})
    assert "Hi" not in Project.load(root).render("news", ANN).text
