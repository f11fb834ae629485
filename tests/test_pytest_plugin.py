"""The pytest plugin: the email_snapshot fixture in a fresh project outside this repository."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import textwrap
import tomllib
import types
from pathlib import Path
from typing import Any

import pytest
import syrupy

import personalize
from personalize import pytest_plugin
from personalize.pytest_plugin import EmailSnapshotExtension, email_extension
from personalize.snapshotids import positional_id
from personalize.testing import Scrubber, snapshot_text
from projects import ANN, HERO, LAYOUT, make_project, module, starter_kit_copy

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
HIDE_SYRUPY = """
class HideSyrupy:  # as if it were not installed
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "syrupy":
            raise ModuleNotFoundError(f"No module named {name!r}")

sys.meta_path.insert(0, HideSyrupy())
"""


@pytest.fixture(autouse=True)
def _not_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # Under `pytest -n`, this process is an xdist worker, and the runs pytester starts in it
    # would inherit its variables: syrupy would then leave writing snapshots to a controller
    # that those runs do not have.
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


GOLD = module(
    "segments: [gold]\npriority: 10",
    "<mj-section><mj-column><mj-text>Gold news for {{ first_name }}</mj-text></mj-column>"
    "</mj-section>",
)
PERSONAS = [
    ANN,
    {**ANN, "id": "bea", "first_name": "Bea", "tier": "Gold"},
    {**ANN, "id": "cy", "first_name": "Cy", "tier": "Gold"},
]
TESTS = """
from pathlib import Path

import pytest

import personalize

PROJECT = personalize.Project.load(Path(__file__).parent / "shop")


@pytest.mark.parametrize("layout", PROJECT.layouts)
@pytest.mark.parametrize("persona", list(PROJECT.personas))
def test_email(layout, persona, email_snapshot):
    assert PROJECT.render(layout, PROJECT.personas[persona]) == email_snapshot
"""


@pytest.fixture(autouse=True)
def _keep_outer_syrupy_session(monkeypatch: pytest.MonkeyPatch) -> None:
    # syrupy keeps its session in a module global; an in-process inner run replaces it, and
    # the outer run (this repository's own snapshot tests) would lose track of its items.
    monkeypatch.setattr(syrupy, "_syrupy", syrupy._syrupy)


@pytest.fixture
def shop(pytester: pytest.Pytester) -> Path:
    make_project(
        pytester.path / "shop",
        layouts={"news": LAYOUT, "promo": LAYOUT.replace("Hello", "Deals for")},
        modules={"hero/default": HERO, "hero/gold": GOLD},
        personas=PERSONAS,
    )
    pytester.makepyfile(test_emails=TESTS)
    return pytester.path / "shop"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def snapshots(pytester: pytest.Pytester) -> dict[str, bytes]:
    folder = pytester.path / "__snapshots__" / "test_emails"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*"))} if folder.is_dir() else {}


def failed(result: pytest.RunResult) -> set[str]:
    prefix = "FAILED test_emails.py::test_email["
    return {
        line[len(prefix) :].split("]")[0] for line in result.outlines if line.startswith(prefix)
    }


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_update_then_pass_then_exactly_the_receivers_of_a_changed_module_fail(
    pytester: pytest.Pytester, shop: Path
) -> None:
    result = run(pytester)  # no snapshots yet, no update flag: fail and write nothing
    result.assert_outcomes(failed=6)
    assert snapshots(pytester) == {}

    result = run(pytester, "--snapshot-update")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*6 snapshots generated*"])
    written = snapshots(pytester)
    assert sorted(written) == [
        f"test_email[{who}-{layout}].email.txt"
        for who in ("ann", "bea", "cy")
        for layout in ("news", "promo")
    ]
    project = personalize.Project.load(shop)
    assert written["test_email[bea-news].email.txt"].decode() == snapshot_text(
        project.render("news", project.personas["bea"])
    )

    run(pytester).assert_outcomes(passed=6)

    edit(shop / "modules" / "hero" / "gold.mjml", "Gold news for", "Golden news for")
    result = run(pytester)
    result.assert_outcomes(passed=2, failed=4)
    assert failed(result) == {"bea-news", "bea-promo", "cy-news", "cy-promo"}
    result.stdout.fnmatch_lines(["*-Gold news for Bea", "*+Golden news for Bea"])
    assert snapshots(pytester) == written  # a failing run never writes

    edit(shop / "modules" / "hero" / "gold.mjml", "segments: [gold]", "segments: [buyer]")
    result = run(pytester)
    assert failed(result) == {"bea-news", "bea-promo", "cy-news", "cy-promo"}
    result.stdout.fnmatch_lines(["E  * hero: hero/gold → hero/default"])
    assert snapshots(pytester) == written


def test_the_whole_diff_summary_follows_a_truncated_assertion(
    pytester: pytest.Pytester, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytest never truncates on CI (the CI or BUILD_NUMBER variables), so clear them to
    # see what a developer sees locally.
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    run(pytester, "--snapshot-update")
    edit(shop / "modules" / "hero" / "gold.mjml", "segments: [gold]", "segments: [buyer]")
    result = run(pytester, "-k", "bea-news")
    result.stdout.fnmatch_lines(
        [
            "*Full output truncated*",
            "*email snapshot test_email[[]bea-news]: what changed*",  # [[] is a literal [
            "hero: hero/gold → hero/default",
            "--- text (snapshot)",
            "+++ text (rendered)",
            "@@ -1 +1 @@",
            "-Gold news for Bea",
            "+Hi Bea",
            "--- html (snapshot)",
        ]
    )
    result = run(pytester, "-k", "bea-news", "-vv")
    assert "what changed" not in result.stdout.str()  # -vv shows it all in the assertion
    result.stdout.fnmatch_lines(["E  * hero: hero/gold → hero/default", "E  * --- html (snapshot)"])

    monkeypatch.setenv("CI", "true")
    result = run(pytester, "-k", "bea-news")
    assert "what changed" not in result.stdout.str()  # CI shows it all in the assertion too
    assert "Full output truncated" not in result.stdout.str()
    result.stdout.fnmatch_lines(["E  * hero: hero/gold → hero/default", "E  * --- html (snapshot)"])


def test_unused_snapshots_are_reported_and_cleaned_as_usual(
    pytester: pytest.Pytester, shop: Path
) -> None:
    run(pytester, "--snapshot-update")
    (shop / "personas.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in PERSONAS[:2]), encoding="utf-8"
    )
    result = run(pytester)
    result.assert_outcomes(passed=4)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*2 snapshots unused*"])
    run(pytester, "--snapshot-update").stdout.fnmatch_lines(["*2 unused snapshots deleted*"])
    assert len(snapshots(pytester)) == 4


def test_scrubbers_from_the_command_line_and_ini_and_headers(
    pytester: pytest.Pytester, shop: Path
) -> None:
    pytester.makeini(
        """
        [pytest]
        email_scrub =
            (?<=@)example\\.com=EXAMPLE
        email_headers = true
        """
    )
    run(pytester, "--snapshot-update", "--email-scrub", "Bea=B.").assert_outcomes(passed=6)
    text = snapshots(pytester)["test_email[bea-news].email.txt"].decode()
    assert "To: ann@EXAMPLE\n" in text  # bea is a copy of ann with another name
    assert "Message-ID: <snapshot@personalize.invalid>\n" in text
    assert "Hello B.\n" in text
    assert "Bea" not in text
    run(pytester, "--email-scrub", "Bea=B.").assert_outcomes(passed=6)
    assert failed(run(pytester)) == {"bea-news", "bea-promo"}  # without the CLI scrubber


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "a(=x",
            "scrubber 'a(' → 'x': missing ), unterminated subpattern at position 1 — write "
            "PATTERN=REPLACEMENT with a Python regular expression, e.g. (?<=[?&]t=)\\w+=TOKEN",
        ),
        (
            "(t=)\\w+=\\g<t>TOKEN",
            "scrubber '(t=)\\\\w+' → '\\\\g<t>TOKEN': unknown group name 't' — the replacement "
            "may refer to \\1; write \\\\ for a literal backslash",
        ),
    ],
    ids=["bad-pattern", "unknown-group"],
)
def test_a_bad_scrub_pattern_is_a_usage_error(
    pytester: pytest.Pytester, shop: Path, spec: str, message: str
) -> None:
    result = run(pytester, "--email-scrub", spec)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: --email-scrub / email_scrub: {message}" in result.stderr.lines
    assert f"ERROR: --email-scrub / email_scrub: {message}" in DOCS  # as docs/testing.md shows


def test_clashing_snapshot_file_names_fail_both_tests(
    pytester: pytest.Pytester, shop: Path
) -> None:
    (shop / "personas.jsonl").write_text(
        "".join(
            json.dumps({**ANN, "id": rid}) + "\n" for rid in ("a/b", "ok", "a:b", "Vera", "vera")
        ),
        encoding="utf-8",
    )
    result = run(pytester, "--snapshot-update", "-k", "news")
    result.assert_outcomes(passed=1, errors=4)
    reason = (
        ' — syrupy leaves \\ / ? * : | " < > and control characters out of file names: give the '
        "parameters ids that differ in other characters, e.g. pytest.param(value, id=...)"
    )
    slash = (
        "email_snapshot: tests test_email[a/b-news] and test_email[a:b-news] share the snapshot "
        f"file test_emails/test_email[ab-news].email.txt{reason}"
    )
    case = (
        "email_snapshot: tests test_email[Vera-news] and test_email[vera-news] share the "
        "snapshot file test_emails/test_email[vera-news].email.txt on macOS and Windows, which "
        f"ignore case{reason}"
    )
    assert result.outlines.count(slash) == 2  # each test names the other
    assert result.outlines.count(case) == 2
    assert sorted(snapshots(pytester)) == ["test_email[ok-news].email.txt"]
    assert slash.replace("-news]", "-weekly]") in DOCS  # as docs/testing.md shows


def test_comparing_something_else_than_an_email_fails_clearly(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_other="""
        def test_text(email_snapshot):
            assert "hello" == email_snapshot
        """
    )
    result = run(pytester, "--snapshot-update")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*PersonalizeError: email_snapshot compares rendered emails, got str 'hello' — assert "
            "project.render(layout, persona, now=NOW) == email_snapshot; use syrupy's snapshot "
            "fixture for other values"
        ]
    )


def test_options_are_grouped_under_personalize(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--help")
    result.stdout.fnmatch_lines(
        [
            "personalize email snapshots:",
            "  --email-scrub=PATTERN=REPL",
            "*--email-headers*",
        ]
    )
    # The example is anchored, so that it leaves charset=UTF-8 alone (see test_snapshots).
    assert "'(?<=[?&]t=)\\w+=TOKEN'" in " ".join(result.stdout.str().split())


def test_email_extension_takes_a_list_or_tuple_of_scrubbers() -> None:
    scrubber = Scrubber(r"order-\d+", "order-N")
    made = email_extension(scrubbers=[scrubber], headers=True)
    assert made is email_extension(scrubbers=(scrubber,), headers=True)
    assert (made.scrubbers, made.headers) == ((scrubber,), True)
    assert issubclass(made, EmailSnapshotExtension)
    assert email_extension(scrubbers=[]) is EmailSnapshotExtension


@pytest.mark.parametrize(
    ("scrubbers", "message"),
    [
        (
            "a=b",
            "email_extension(scrubbers=…) takes a list or tuple of Scrubber, got str 'a=b'",
        ),
        (
            Scrubber("a", "b"),
            "email_extension(scrubbers=…) takes a list or tuple of Scrubber, got Scrubber "
            "Scrubber(pattern='a', replacement='b')",
        ),
        (
            ["a=b"],
            "email_extension(scrubbers=…) takes Scrubber objects, got str 'a=b' — build one with "
            "Scrubber(pattern, replacement) or Scrubber.parse('PATTERN=REPLACEMENT')",
        ),
    ],
    ids=["string", "one-scrubber", "list-of-strings"],
)
def test_email_extension_refuses_anything_else(scrubbers: Any, message: str) -> None:
    with pytest.raises(TypeError) as info:
        email_extension(scrubbers=scrubbers)
    assert str(info.value) == message


def test_without_syrupy_pytest_runs_and_only_the_fixture_fails(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        textwrap.dedent(
            """
            def test_plain():
                assert True

            def test_email(email_snapshot):
                pass
            """
        ),
        encoding="utf-8",
    )
    code = (
        f"import sys\n{HIDE_SYRUPY}\nimport pytest\n\n"
        'sys.exit(pytest.main(["-p", "no:syrupy", "-p", "no:cacheprovider", "-q", "-rf"]))\n'
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 1 error" in result.stdout
    assert (
        "email_snapshot needs syrupy: pip install 'personalize[snapshots]' (and do not disable "
        "it with -p no:syrupy)" in result.stdout
    )


def test_pyproject_asks_for_the_syrupy_the_plugin_needs() -> None:
    # syrupy 4 names the extension's file_extension and writer differently (files ending in
    # .raw, \r\n on Windows); syrupy 5 deletes the files of skipped tests on update; syrupy 6
    # to 7.0.0 cut long file names to 256 characters, one too many. syrupy 7 needs pytest 8.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = pyproject["project"]["optional-dependencies"]
    assert extras["snapshots"] == ["syrupy>=7.0.1", "pytest>=8"]
    assert "syrupy>=7.0.1" in extras["test"]
    assert "pytest>=8" in extras["test"]


@pytest.mark.parametrize("version", ["5.1.0", "6.0.0", "7.0.0"])
def test_an_old_syrupy_fails_the_fixture_with_what_to_install(
    pytester: pytest.Pytester, shop: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    monkeypatch.setattr(pytest_plugin, "_syrupy_version", lambda: version)
    result = run(pytester, "--snapshot-update", "-k", "ann-news")
    result.assert_outcomes(errors=1)
    message = (
        "email_snapshot needs syrupy 7.0.1 or later (which needs pytest 8), found syrupy "
        f"{version}: pip install 'personalize[snapshots]'"
    )
    assert message in result.outlines
    assert f"`{message.replace(version, '5.1.0')}`" in " ".join(DOCS.split())
    assert snapshots(pytester) == {}


@pytest.mark.parametrize("version", ["7.0.1", "7.1.0rc1", "8.0.0.dev3+g1234"])
def test_a_new_enough_syrupy_is_accepted(
    pytester: pytest.Pytester, shop: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    monkeypatch.setattr(pytest_plugin, "_syrupy_version", lambda: version)
    run(pytester, "--snapshot-update", "-k", "ann-news").assert_outcomes(passed=1)


def test_with_pytest_6_other_tests_run_and_the_fixture_says_what_it_needs(
    tmp_path: Path,
) -> None:
    # pytest 6 has no pytest.StashKey; it loads the plugin in every run all the same.
    (tmp_path / "test_x.py").write_text(
        "def test_plain():\n    assert True\n\n\ndef test_email(email_snapshot):\n    pass\n",
        encoding="utf-8",
    )
    code = (
        "import sys\nimport pytest\n\ndel pytest.StashKey\npytest.__version__ = '6.2.5'\n"
        'sys.exit(pytest.main(["-p", "no:cacheprovider", "-q"]))\n'
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 1 error" in result.stdout
    message = (
        "email_snapshot needs syrupy 7.0.1 or later (which needs pytest 8), found pytest 6.2.5: "
        "pip install 'personalize[snapshots]'"
    )
    assert message in result.stdout.splitlines()
    assert message in " ".join(DOCS.split())  # as docs/testing.md shows


def test_update_keeps_the_snapshots_of_tests_that_fail_before_comparing(
    pytester: pytest.Pytester, shop: Path
) -> None:
    run(pytester, "--snapshot-update").assert_outcomes(passed=6)
    written = snapshots(pytester)
    edit(shop / "modules" / "hero" / "gold.mjml", "{{ first_name }}", "{{ orders[3].total }}")
    result = run(pytester, "--snapshot-update")
    result.assert_outcomes(passed=2, failed=4)
    assert failed(result) == {"bea-news", "bea-promo", "cy-news", "cy-promo"}
    assert "RenderError" in result.stdout.str()
    assert "Deleted" not in result.stdout.str()
    assert snapshots(pytester) == written  # as `personalize snapshot --update` keeps them

    pytester.makeconftest(  # a failure in setup, before the test runs at all
        """
        import pytest

        @pytest.fixture(autouse=True)
        def broken(request):
            if "ann" in request.node.name:
                raise RuntimeError("no database")
        """
    )
    result = run(pytester, "--snapshot-update")
    result.assert_outcomes(failed=4, errors=2)
    assert "Deleted" not in result.stdout.str()
    assert snapshots(pytester) == written

    edit(pytester.path / "conftest.py", 'raise RuntimeError("no database")', 'pytest.skip("later")')
    result = run(pytester, "--snapshot-update")
    result.assert_outcomes(failed=4, skipped=2)
    assert "Deleted" not in result.stdout.str()
    assert snapshots(pytester) == written


@pytest.mark.parametrize("options", [["-x"], ["--maxfail=1"], ["--sw"]], ids=" ".join)
def test_update_keeps_the_snapshots_of_tests_that_did_not_run(
    pytester: pytest.Pytester, shop: Path, options: list[str]
) -> None:
    run(pytester, "--snapshot-update").assert_outcomes(passed=6)
    written = snapshots(pytester)
    gold = shop / "modules" / "hero" / "gold.mjml"
    edit(gold, "{{ first_name }}", "{{ orders[3].total }}")  # bea's and cy's renders fail
    result = pytester.runpytest("--snapshot-update", *options)  # --sw needs the cache
    result.assert_outcomes(passed=2, failed=1)  # and cy's tests never run
    assert "Deleted" not in result.stdout.str()
    assert snapshots(pytester) == written

    edit(gold, "{{ orders[3].total }}", "{{ first_name }}")
    result = pytester.runpytest("--snapshot-update", *options)
    if options == ["--sw"]:  # ann's tests passed before bea's failed: deselected now
        result.assert_outcomes(passed=4, deselected=2)
    assert "Deleted" not in result.stdout.str()
    assert snapshots(pytester) == written


def test_update_keeps_the_snapshots_when_interrupted_or_only_collecting(
    pytester: pytest.Pytester, shop: Path
) -> None:
    run(pytester, "--snapshot-update").assert_outcomes(passed=6)
    written = snapshots(pytester)
    pytester.makeconftest(  # Ctrl-C while bea's test runs
        """
        def pytest_runtest_call(item):
            if "bea-news" in item.nodeid:
                raise KeyboardInterrupt
        """
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--snapshot-update", no_reraise_ctrlc=True
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*", "*2 passed*"])
    assert "Deleted" not in result.stdout.str()
    assert snapshots(pytester) == written

    result = run(pytester, "--snapshot-update", "--collect-only")
    assert "Deleted" not in result.stdout.str()
    assert snapshots(pytester) == written


@pytest.mark.slow
def test_update_keeps_the_snapshots_of_tests_that_no_worker_ran(
    pytester: pytest.Pytester, shop: Path
) -> None:
    personas = [{**ANN, "id": f"p{i:02}"} for i in range(12)]
    (shop / "personas.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in personas), encoding="utf-8"
    )
    run(pytester, "--snapshot-update").assert_outcomes(passed=24)
    written = snapshots(pytester)
    pytester.makeconftest(
        """
        def pytest_runtest_call(item):
            if "p00-news" in item.nodeid:
                raise RuntimeError("broken")
        """
    )
    result = run(pytester, "--snapshot-update", "-n", "2", "-x")
    assert result.parseoutcomes()["failed"] == 1
    assert "Deleted" not in result.stdout.str()
    assert snapshots(pytester) == written

    (shop / "personas.jsonl").write_text(  # the files of a removed persona still go
        "".join(json.dumps(p) + "\n" for p in personas[1:]), encoding="utf-8"
    )
    result = run(pytester, "--snapshot-update", "-n", "2")
    result.stdout.fnmatch_lines(["*2 unused snapshots deleted*"])
    assert sorted(snapshots(pytester)) == sorted(
        name for name in written if not name.startswith("test_email[p00-")
    )


def test_a_tests_own_extension_keeps_the_project_scrubbers(
    pytester: pytest.Pytester, shop: Path
) -> None:
    pytester.makeini(
        """
        [pytest]
        email_scrub =
            (?<=@)example\\.com=EXAMPLE
        """
    )
    pytester.makepyfile(
        test_own=TESTS.split("\n\n\n@")[0]
        + textwrap.dedent(
            """
            from personalize.pytest_plugin import email_extension
            from personalize.testing import Scrubber

            OWN = email_extension(scrubbers=[Scrubber("EXAMPLE", "SHOP")], headers=True)


            def test_own(email_snapshot):
                email = PROJECT.render("news", PROJECT.personas["bea"])
                assert email == email_snapshot(extension_class=OWN)
                assert email == email_snapshot.use_extension(OWN)(name="again")
            """
        )
    )
    run(pytester, "--snapshot-update", "--email-scrub", "Bea=B.", "test_own.py").assert_outcomes(
        passed=1
    )
    folder = pytester.path / "__snapshots__" / "test_own"
    for name in ("test_own.email.txt", "test_own[again].email.txt"):
        text = (folder / name).read_text(encoding="utf-8")
        assert "To: ann@SHOP\n" in text  # the ini scrubber ran first, then the test's own
        assert "Hello B.\n" in text  # and the --email-scrub one
        assert "EXAMPLE" not in text
        assert "Bea" not in text
    run(pytester, "--email-scrub", "Bea=B.", "test_own.py").assert_outcomes(passed=1)


def test_importing_the_plugin_imports_no_other_module_of_personalize() -> None:
    # pytest imports the plugin in every run; the rest of personalize waits for the fixture.
    # The package's __init__ is left out here: it is the library's own import.
    code = textwrap.dedent(
        f"""
        import json, sys, types

        package = types.ModuleType("personalize")
        package.__path__ = [{str(ROOT / "src" / "personalize")!r}]
        sys.modules["personalize"] = package
        import personalize.pytest_plugin

        print(json.dumps(sorted(sys.modules)))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    mine = {name for name in loaded if name.startswith("personalize.")}
    assert mine == {"personalize.pytest_plugin"}
    assert not loaded & {"jinja2", "babel", "mjml", "css_inline", "pydantic", "yaml"}


def test_loading_the_plugin_entry_point_leaves_the_library_unimported() -> None:
    code = (
        "import json, sys; import personalize.pytest_plugin; print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert not loaded & {"personalize.project", "jinja2", "babel"}


LONG = "customer-" + "a" * 100


@pytest.mark.skipif(
    int(pytest.__version__.split(".")[0]) < 9, reason="pytest 8 keeps long ids whole"
)
def test_a_persona_named_by_its_position_fails_instead_of_taking_another_ones_file(
    pytester: pytest.Pytester, shop: Path
) -> None:
    (shop / "personas.jsonl").write_text(
        "".join(json.dumps({**ANN, "id": rid}) + "\n" for rid in ("ann", LONG)),
        encoding="utf-8",
    )
    result = run(pytester, "--snapshot-update", "-k", "news")
    result.assert_outcomes(passed=1, errors=1)
    message = (
        "email_snapshot: test test_email[persona1-news] is named persona1, after the position "
        "of its persona, because that value is longer than 100 characters — its snapshot file "
        "would belong to another persona once the list changes: give the parameters ids, e.g. "
        '@pytest.mark.parametrize("persona", ..., ids=str)'
    )
    assert message in result.outlines
    assert sorted(snapshots(pytester)) == ["test_email[ann-news].email.txt"]
    shown = message.replace("persona1", "persona14").replace("-news]", "-weekly]")
    assert shown in DOCS  # as docs/testing.md shows

    edit(
        pytester.path / "test_emails.py",
        "list(PROJECT.personas))",
        "list(PROJECT.personas), ids=str)",
    )
    run(pytester, "--snapshot-update", "-k", "news").assert_outcomes(passed=2)
    assert f"test_email[{LONG}-news].email.txt" in snapshots(pytester)


OBJECTS = """
from pathlib import Path

import pytest

import personalize

PROJECT = personalize.Project.load(Path(__file__).parent / "shop")


@pytest.mark.parametrize("persona", PROJECT.personas.values())
def test_news(persona, email_snapshot):
    assert PROJECT.render("news", persona) == email_snapshot
"""


def test_personas_passed_as_objects_fail_instead_of_taking_each_others_files(
    pytester: pytest.Pytester, shop: Path
) -> None:
    # pytest names any object by its position, e.g. the Recipient objects of PROJECT.personas.
    test = pytester.makepyfile(test_objects=OBJECTS)
    result = run(pytester, "--snapshot-update", "test_objects.py")
    result.assert_outcomes(errors=3)
    message = (
        "email_snapshot: test test_news[persona1] is named persona1, after the position of its "
        "persona, because pytest cannot name a Recipient by its value — its snapshot file would "
        "belong to another persona once the list changes: give the parameters ids, e.g. "
        '@pytest.mark.parametrize("persona", ..., ids=lambda persona: persona.id)'
    )
    assert message in result.outlines
    assert (
        message.replace("test_news[persona1]", "test_news[persona0]").replace(
            "named persona1", "named persona0"
        )
        in result.outlines
    )
    assert message.replace("news", "weekly") in DOCS  # as docs/testing.md shows
    assert snapshots(pytester) == {}

    edit(test, "PROJECT.personas.values())", "PROJECT.personas.values(), ids=lambda p: p.id)")
    run(pytester, "--snapshot-update", "test_objects.py").assert_outcomes(passed=3)
    folder = pytester.path / "__snapshots__" / "test_objects"
    assert sorted(p.name for p in folder.iterdir()) == [
        f"test_news[{rid}].email.txt" for rid in ("ann", "bea", "cy")
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"id": 1},
            "email_snapshot: test test_x[persona0] is named persona0, after the position of its "
            "persona, because pytest cannot name a dict by its value — its snapshot file would "
            "belong to another persona once the list changes: give the parameters ids, e.g. "
            "pytest.param(value, id=...)",
        ),
        (
            b"x" * 101,
            "email_snapshot: test test_x[persona0] is named persona0, after the position of its "
            "persona, because that value is longer than 100 characters — its snapshot file would "
            "belong to another persona once the list changes: give the parameters ids, e.g. "
            '@pytest.mark.parametrize("persona", ..., ids=str)',
        ),
        (b"x" * 100, None),  # named by value
        (None, None),
        (str, None),  # by its __name__
        (re.compile("persona0"), None),
    ],
    ids=["dict", "long-bytes", "short-bytes", "none", "class", "pattern"],
)
def test_positional_ids_by_value_type(value: object, message: str | None) -> None:
    assert positional_id("test_x[persona0]", "persona0", {"persona": value}) == message


def test_an_explicit_id_that_looks_like_a_position_is_not_refused(
    pytester: pytest.Pytester, shop: Path
) -> None:
    odd = "segment-persona0-" + "x" * 100  # its own id, however long, with ids=str
    (shop / "personas.jsonl").write_text(
        "".join(json.dumps({**ANN, "id": rid}) + "\n" for rid in (odd, "ann")), encoding="utf-8"
    )
    edit(
        pytester.path / "test_emails.py",
        "list(PROJECT.personas))",
        "list(PROJECT.personas), ids=str)",
    )
    run(pytester, "--snapshot-update", "-k", "news").assert_outcomes(passed=2)
    assert f"test_email[{odd}-news].email.txt" in snapshots(pytester)


def test_ids_that_share_the_first_255_characters_share_a_file(
    pytester: pytest.Pytester, shop: Path
) -> None:
    ids = [LONG * 3 + "-one", LONG * 3 + "-two"]
    (shop / "personas.jsonl").write_text(
        "".join(json.dumps({**ANN, "id": rid}) + "\n" for rid in ids), encoding="utf-8"
    )
    edit(
        pytester.path / "test_emails.py",
        "list(PROJECT.personas))",
        "list(PROJECT.personas), ids=str)",
    )
    result = run(pytester, "--snapshot-update", "-k", "news")
    result.assert_outcomes(errors=2)
    test = types.SimpleNamespace(snapshot_name=f"test_email[{ids[0]}-news]")
    name = EmailSnapshotExtension.get_snapshot_name(test_location=test) + ".email.txt"  # cut
    assert len(name) >= 255
    message = (
        f"email_snapshot: tests test_email[{ids[0]}-news] and test_email[{ids[1]}-news] share "
        f"the snapshot file test_emails/{name} — syrupy cuts file names at 255 characters: give "
        "the parameters shorter ids, e.g. pytest.param(value, id=...)"
    )
    assert result.outlines.count(message) == 2


def test_a_failure_names_the_snapshot_file_and_the_command_that_accepts_it(
    pytester: pytest.Pytester, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    result = run(pytester, "-k", "bea-news")
    result.stdout.fnmatch_lines(
        [
            "E  *Snapshot 'test_email[[]bea-news]' does not exist!",
            "*- email snapshot test_email[[]bea-news] -*",
            "snapshot file: __snapshots__/test_emails/test_email[[]bea-news].email.txt "
            "(not written yet)",
            "write it: pytest --snapshot-update 'test_emails.py::test_email[[]bea-news]'",
        ]
    )
    run(pytester, "--snapshot-update", "--email-scrub", "Bea=B.")
    edit(shop / "modules" / "hero" / "gold.mjml", "Gold news for", "Golden news for")
    accept = (
        "accept the change: pytest --snapshot-update --email-scrub=Bea=B. "
        "'test_emails.py::test_email[[]bea-news]'"
    )
    result = run(pytester, "-k", "bea-news", "--email-scrub", "Bea=B.")
    result.stdout.fnmatch_lines(
        [
            "*Full output truncated*",
            "*- email snapshot test_email[[]bea-news]: what changed -*",
            "--- text (snapshot)",
            "*</td>",
            "",
            "snapshot file: __snapshots__/test_emails/test_email[[]bea-news].email.txt",
            accept,
        ]
    )
    # Where the assertion shows the whole summary, or no diff is wanted, the section does not
    # repeat it.
    for options in (["-vv"], ["--snapshot-diff-mode=disabled"]):
        result = run(pytester, "-k", "bea-news", "--email-scrub", "Bea=B.", *options)
        assert "what changed" not in result.stdout.str()
        result.stdout.fnmatch_lines(
            [
                "*- email snapshot test_email[[]bea-news] -*",
                "snapshot file: __snapshots__/test_emails/test_email[[]bea-news].email.txt",
                accept,
            ]
        )
    # Run from another folder, the paths start there.
    sub = pytester.mkdir("sub")
    monkeypatch.chdir(sub)
    result = run(pytester, "--rootdir", str(pytester.path), str(pytester.path), "-k", "bea-news")
    result.stdout.fnmatch_lines(
        [
            "snapshot file: ../__snapshots__/test_emails/test_email[[]bea-news].email.txt",
            "accept the change: pytest --snapshot-update "
            "'../test_emails.py::test_email[[]bea-news]'",
        ]
    )


def test_the_command_repeats_the_options_that_change_what_is_written_where(
    pytester: pytest.Pytester, shop: Path
) -> None:
    pytester.makefile(".ini", custom="[pytest]\nemail_scrub =\n    Bea=B.\n")
    options = ["-c", "custom.ini", "-o", "email_headers=true", "--snapshot-dirname=snaps"]
    result = run(pytester, "-k", "bea-news", *options)
    result.assert_outcomes(failed=1)
    write = (
        "write it: pytest --snapshot-update -c custom.ini -o email_headers=true "
        "--snapshot-dirname=snaps 'test_emails.py::test_email[bea-news]'"
    )
    assert "snapshot file: snaps/test_emails/test_email[bea-news].email.txt (not written yet)" in (
        result.outlines
    )
    assert write in result.outlines
    command = shlex.split(write.removeprefix("write it: "))
    run(pytester, *command[1:]).assert_outcomes(passed=1)  # as printed
    run(pytester, "-k", "bea-news", *options).assert_outcomes(passed=1)
    text = (pytester.path / "snaps" / "test_emails" / "test_email[bea-news].email.txt").read_text(
        encoding="utf-8"
    )
    assert "## headers\n" in text
    assert "Hello B.\n" in text


def test_a_snapshot_file_with_a_byte_order_mark_compares_equal(
    pytester: pytest.Pytester, shop: Path
) -> None:
    run(pytester, "--snapshot-update")
    file = pytester.path / "__snapshots__" / "test_emails" / "test_email[bea-news].email.txt"
    file.write_bytes(b"\xef\xbb\xbf" + file.read_bytes().replace(b"\n", b"\r\n"))  # Notepad
    run(pytester, "-k", "bea-news").assert_outcomes(passed=1)


def test_a_failure_shows_the_fixture_by_name_not_the_old_snapshot_text(
    pytester: pytest.Pytester, shop: Path
) -> None:
    run(pytester, "--snapshot-update")
    edit(shop / "modules" / "hero" / "gold.mjml", "Gold news for", "Golden news for")
    result = run(pytester, "-k", "bea-news")
    # pytest shows the test's arguments above the failure (long tracebacks, the default).
    result.stdout.fnmatch_lines(["*email_snapshot = <email_snapshot test_email[[]bea-news]>"])
    assert "layout: news" not in result.stdout.str()


def test_a_failure_through_use_extension_names_the_file_and_command_too(
    pytester: pytest.Pytester, shop: Path
) -> None:
    pytester.makepyfile(
        test_own=TESTS.split("\n\n\n@")[0]
        + textwrap.dedent(
            """
            from personalize.pytest_plugin import email_extension

            HEADERS = email_extension(headers=True)


            def test_own(email_snapshot):
                email = PROJECT.render("news", PROJECT.personas["bea"])
                assert email == email_snapshot.use_extension(HEADERS)
            """
        )
    )
    result = run(pytester, "test_own.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- email snapshot test_own -*",
            "snapshot file: __snapshots__/test_own/test_own.email.txt (not written yet)",
            "write it: pytest --snapshot-update test_own.py::test_own",
        ]
    )


def test_an_empty_snapshot_file_says_so(pytester: pytest.Pytester, shop: Path) -> None:
    run(pytester, "--snapshot-update")
    (pytester.path / "__snapshots__" / "test_emails" / "test_email[bea-news].email.txt").write_text(
        "", encoding="utf-8"
    )
    result = run(pytester, "-k", "bea-news")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E  * [[]+ received] == [[]- snapshot]",
            "E  * Snapshot 'test_email[[]bea-news]' is an empty file: write it again with pytest "
            "--snapshot-update",
            "*- email snapshot test_email[[]bea-news] -*",
        ]
    )
    assert "what changed" not in result.stdout.str()


def test_without_syrupy_email_extension_says_what_to_install() -> None:
    code = f"import sys\n{HIDE_SYRUPY}\n" + textwrap.dedent(
        """
        from personalize.pytest_plugin import email_extension

        try:
            email_extension()
        except ImportError as exc:
            print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "email_extension needs syrupy: pip install 'personalize[snapshots]'\n"


def _docs_block(after: str) -> str:
    start = DOCS.index("```python\n", DOCS.index(after)) + len("```python\n")
    return DOCS[start : DOCS.index("```", start)]


def test_the_docs_tests_run_on_the_starter_kit_as_shown(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    starter_kit_copy(pytester.path, ("[project]", "[project]"))
    tests = pytester.mkdir("tests")
    main = _docs_block("Then one test covers every persona and layout")
    own = _docs_block("For one test with settings of its own")
    (tests / "test_emails.py").write_text(main + "\n\n" + own, encoding="utf-8")
    kit = personalize.Project.load(pytester.path)
    emails = len(kit.layouts) * len(kit.personas)  # 42
    result = run(pytester)
    result.assert_outcomes(failed=emails + 1)
    first_run = DOCS[DOCS.index("The first run has nothing to compare with") :]
    shown = first_run[first_run.index("```\n") + 4 : first_run.index("\n...\n")].splitlines()
    out = result.outlines
    assert any(out[i : i + len(shown)] == shown for i in range(len(out)))  # as the page shows

    result = run(pytester, "--snapshot-update", "--email-scrub", "(?<=[?&]t=)\\w+=TOKEN")
    result.assert_outcomes(passed=emails + 1)
    folder = tests / "__snapshots__" / "test_emails"
    assert len(list(folder.glob("test_email[[]*].email.txt"))) == emails
    text = (folder / "test_weekly_with_headers.email.txt").read_text(encoding="utf-8")
    assert "## headers\n" in text
    assert "unsubscribe?u=USER&t=TOKEN" in text  # the project's scrubber ran too
