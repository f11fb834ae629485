"""The variant cache: variants built in pieces, and compiled whole once popular."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalize import Project, RenderError
from personalize.compile import CompiledVariant
from personalize.templating import CompiledTemplate, Composite
from personalize.testing import canonical_html
from projects import ANN, SETTINGS, make_project, module, starter_kit_copy

ROOT = Path(__file__).resolve().parents[1]


def _settings(merge_after: int) -> str:
    return SETTINGS.replace("[message]", f"[render]\nmerge_after = {merge_after}\n\n[message]")


def _variant(project: Project) -> CompiledVariant:
    return project.variant("news", project.decide("news", ANN), "en_US")


def test_a_variant_renders_in_pieces_until_merge_after_renders(tmp_path: Path) -> None:
    project = Project.load(make_project(tmp_path, settings=_settings(3)))
    first = project.render("news", ANN)
    assert isinstance(_variant(project).html, Composite)
    project.render("news", ANN)
    assert project.cache_info["merged"] == 0
    assert isinstance(_variant(project).html, Composite)
    third = project.render("news", ANN)
    assert project.cache_info["merged"] == 1
    whole = _variant(project)
    assert isinstance(whole.html, CompiledTemplate)
    assert isinstance(whole.text, CompiledTemplate)
    assert whole.output is None
    assert third == first
    for _ in range(5):  # merged once, for good
        assert project.render("news", ANN) == first
    assert project.cache_info["merged"] == 1


def test_merge_after_zero_never_merges(tmp_path: Path) -> None:
    project = Project.load(make_project(tmp_path, settings=_settings(0)))
    for _ in range(20):
        project.render("news", ANN)
    assert project.cache_info["merged"] == 0
    assert isinstance(_variant(project).html, Composite)


def test_an_error_in_a_merged_variant_names_the_same_module_and_line(tmp_path: Path) -> None:
    hero = module(
        "description: fallback",
        """
        <mj-section><mj-column>
          <mj-text>Hi {{ first_name }}</mj-text>
          <mj-text>{{ nickname }}</mj-text>
        </mj-column></mj-section>
        """,
    )
    messages = []
    for merge_after in (0, 1):
        root = make_project(
            tmp_path / str(merge_after),
            settings=_settings(merge_after),
            modules={"hero/default": hero},
        )
        project = Project.load(root)
        with pytest.raises(RenderError) as caught:
            project.render("news", ANN)
        messages.append(str(caught.value))
        assert isinstance(
            _variant(project).html, Composite if merge_after == 0 else CompiledTemplate
        )
    assert (
        messages[0]
        == messages[1]
        == (
            "modules/hero/default.mjml line 6 (recipient ann): nickname: {{ nickname }} has no "
            "value for this recipient — declare a default for the field, or write "
            "{{ nickname | default('…') }}"
        )
    )


def test_a_variant_that_fails_to_merge_keeps_rendering_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def refuse(variant: CompiledVariant) -> CompiledVariant:
        calls.append(variant.key)
        raise RenderError("compiled template is invalid: too deep")

    monkeypatch.setattr("personalize.variants.merge_variant", refuse)
    project = Project.load(make_project(tmp_path, settings=_settings(1)))
    emails = [project.render("news", ANN) for _ in range(3)]
    assert emails[0] == emails[1] == emails[2]
    assert len(calls) == 1
    assert project.cache_info["merged"] == 0
    assert isinstance(_variant(project).html, Composite)


@pytest.fixture(scope="module")
def merged_kit(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The starter kit, with every variant compiled whole at its first render."""
    target = tmp_path_factory.mktemp("merged")
    return Project.load(starter_kit_copy(target, ("\n[render]\n", "\n[render]\nmerge_after = 1\n")))


def test_whole_variants_render_the_same_emails_as_pieces(merged_kit: Project) -> None:
    pieces = Project.load(ROOT)
    for layout in pieces.layouts:
        for persona, recipient in pieces.personas.items():
            expected = pieces.render(layout, recipient)
            got = merged_kit.render(layout, recipient)
            assert (got.subject, got.preheader, got.text, got.html) == (
                expected.subject,
                expected.preheader,
                expected.text,
                expected.html,
            ), f"{layout} × {persona}"
            assert got == expected
    assert pieces.cache_info["merged"] == 0
    assert merged_kit.cache_info["merged"] == merged_kit.cache_info["size"] > 10


def _layout(before: str = "", after: str = "", body: str | None = None) -> str:
    text = "<mj-section><mj-column><mj-text>{}</mj-text></mj-column></mj-section>"
    return (
        '---\nsubject: "Hello {{ first_name }}"\n---\n<mjml>\n  <mj-body>\n'
        + (text.format(before) if before else "")
        + (body or '    <slot name="hero"/>\n    <slot name="extra" optional/>\n')
        + (text.format(after) if after else "")
        + "  </mj-body>\n</mjml>\n"
    )


def _text_module(text: str) -> str:
    return module(
        "description: fallback",
        f"<mj-section><mj-column><mj-text>{text}</mj-text></mj-column></mj-section>",
    )


def _every_form(
    root: Path, layouts: dict[str, str], modules: dict[str, str], *, pieces: bool = True
) -> list[str]:
    """The email's text in pieces (unless ``pieces`` is false: then it compiles whole at
    once), whole, and by the reference path, which must agree."""
    emails = []
    for merge_after in (0, 1):
        project = Project.load(
            make_project(
                root / str(merge_after),
                settings=_settings(merge_after),
                layouts=layouts,
                modules=modules,
            )
        )
        for _ in range(2):  # the second render is of the merged variant, with merge_after = 1
            emails.append(project.render("news", ANN))
        in_pieces = pieces and merge_after == 0
        assert isinstance(_variant(project).html, Composite if in_pieces else CompiledTemplate)
        emails.append(project.render_reference("news", ANN))
    for email in emails[1:]:
        assert email.text == emails[0].text
        assert canonical_html(email.html) == canonical_html(emails[0].html)
    return emails[0].text.strip().split("\n\n")


def test_a_module_reads_what_the_layout_set_before_it_in_every_form(tmp_path: Path) -> None:
    layouts = {
        "news": _layout(
            before="{% set tagline = 'Goods' %}{% set mood = 'cold' %}{% if first_name %}"
            "{% set mood = 'warm' %}"
            "{% endif %}Top",
            # Set only after the slot: the module reads the recipient's value (Jinja alone
            # would leave it unset in the module's {% with %} block; see _load_first).
            after="{% set tagline = 'Later' %}{{ tagline }}{% set email = 'Later' %}",
        )
    }
    modules = {
        "hero/default": _text_module(
            "{{ tagline | default('none') }} {{ mood | default('cold') }} {{ email }}"
        )
    }
    assert _every_form(tmp_path, layouts, modules)[:3] == [
        "Top",
        "Goods warm ann@example.com",
        "Later",
    ]


def test_a_modules_names_stay_its_own_in_every_form(tmp_path: Path) -> None:
    layouts = {
        "news": _layout(
            before="{% set tagline = 'Goods' %}{{ promo | default('none') }}",
            after="{{ promo | default('none') }} {{ tagline }} {{ shout | default('no macro') }}",
        )
    }
    modules = {
        "hero/default": _text_module(
            "{% macro shout(s) %}{{ s | upper }}!{% endmacro %}{% set promo = 'Sale' %}"
            "{% set tagline = 'Mine' %}{{ promo }} {{ tagline }} {{ shout('hi') }}"
        ),
        "extra/default": _text_module("{{ promo | default('none') }} {{ tagline | default('') }}"),
    }
    assert _every_form(tmp_path, layouts, modules)[:4] == [
        "none",
        "Sale Mine HI!",
        "none Goods",
        "none Goods no macro",
    ]


def test_a_slot_in_a_loop_compiles_whole_and_its_module_sees_the_loop(tmp_path: Path) -> None:
    # A region compiled apart could not see the loop's names: such a variant is never cut.
    layouts = {"news": _layout(body='    {% for n in [1, 2] %}<slot name="hero"/>{% endfor %}\n')}
    modules = {"hero/default": _text_module("Part {{ n | default('none') }}")}
    assert _every_form(tmp_path, layouts, modules, pieces=False) == ["Part 1", "Part 2"]


def test_errors_in_pieces_name_the_template_that_failed(tmp_path: Path) -> None:
    layouts = {"news": _layout(after="{{ nickname }}")}
    hero = _text_module(
        "{% set greeting = 'Hi' %}{{ greeting }} {{ nickname if first_name == 'x' }}"
    )
    broken = _text_module(
        "{% set greeting = 'Hi' %}{{ greeting }} {{ 1 / (first_name | length - 3) }}"
    )
    messages = []
    for name, text in (("layout", hero), ("module", broken)):
        root = make_project(
            tmp_path / name, settings=_settings(0), layouts=layouts, modules={"hero/default": text}
        )
        with pytest.raises(RenderError) as caught:
            Project.load(root).render("news", ANN)
        messages.append(str(caught.value))
    assert messages == [
        "templates/news.mjml line 8 (recipient ann): nickname: {{ nickname }} has no value for "
        "this recipient — declare a default for the field, or write {{ nickname | default('…') }}",
        "modules/hero/default.mjml line 4 (recipient ann): {{ 1 / (first_name | length - 3) }} "
        "failed: ZeroDivisionError: division by zero",
    ]
