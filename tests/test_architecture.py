"""The import direction of DESIGN.md §5, one home per third-party library, a light import."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import personalize

PACKAGE = Path(personalize.__file__).parent

LAYERS: dict[str, int] = {
    "errors": 0,
    "config": 1,
    "tomllines": 1,
    "textfiles": 1,
    "declarations": 1,
    "profile": 1,
    "fieldtypes": 1,
    "addresses": 1,
    "yamlfile": 1,
    "rules": 2,
    "rulenodes": 2,
    "segmentcode": 2,
    "scope": 2,
    "values": 2,
    "operators": 2,
    "segments": 2,
    "segmentfile": 2,
    "segmentdraft": 2,
    "metricfile": 2,
    "segmentgroups": 2,
    "scores": 2,
    "scorefile": 2,
    "rfm": 2,
    "calibration": 2,
    "rfmfile": 2,
    "metrics": 2,
    "metricplan": 2,
    "metriccode": 2,
    "metricdata": 2,
    "scorecode": 2,
    "registry": 2,
    "slots": 2,
    "frontmatter": 2,
    "includes": 2,
    "includepaths": 2,
    "decide": 3,
    "decisions": 3,
    "experiments": 3,
    "experimentfile": 3,
    "filters": 4,
    "safevalues": 4,
    "templating": 4,
    "cache": 4,
    "assemble": 4,
    "prepare": 4,
    "mjml": 4,
    "markupcheck": 4,
    "markupsyntax": 4,
    "inline": 4,
    "text": 4,
    "textnorm": 4,
    "protect": 4,
    "restore": 4,
    "tokencontexts": 4,
    "compile": 4,
    "survival": 4,
    "inlinecheck": 4,
    "render": 4,
    "message": 4,
    "messageheaders": 4,
    "mimeencode": 4,
    "messagecheck": 4,
    "settingscheck": 4,
    "project": 5,
    "projectload": 5,
    "projectexplain": 5,
    "choices": 5,
    "parallel": 5,
    "projectsnapshot": 5,
    "variants": 4,
    "records": 1,
    "recipient": 1,
    "lint": 4,
    "lintcodes": 4,
    "lintcontent": 4,
    "lintload": 4,
    "lintrules": 4,
    "lintsubjects": 4,
    "coverage": 6,
    "coveragesizes": 6,
    "matrix": 6,
    "batch": 6,
    "testing": 6,
    "cli": 7,
    "preview": 7,
    "pytest_plugin": 7,
    "snapshotids": 7,
    "snapshotreport": 7,
    "__init__": 8,
    "__main__": 8,
}

# Each third-party library has exactly one home (DESIGN.md §5).
HOMES: dict[str, set[str]] = {
    "jinja2": {"templating", "filters"},
    "markupsafe": {"templating", "filters"},
    "mjml": {"mjml"},
    "css_inline": {"inline"},
    "premailer": {"inline"},
    "cssutils": {"inline"},
    "lxml": {"inline"},
    "babel": {"filters"},
    "yaml": {"yamlfile"},
    "click": {"cli"},
    "rich": {"cli"},
    "pytest": {"pytest_plugin"},
    "syrupy": {"pytest_plugin"},
}


def _imports(path: Path) -> list[tuple[str, int]]:
    """(module, line) of each import; relative imports resolved against the file's package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["personalize", *path.relative_to(PACKAGE).parts[:-1]]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                if node.module:
                    out.append((f"{base}.{node.module}", node.lineno))
                else:
                    out += [(f"{base}.{a.name}", node.lineno) for a in node.names]
            elif node.module:
                out.append((node.module, node.lineno))
    return out


def _own_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


FILES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    missing = sorted({_own_name(p) for p in FILES} - set(LAYERS))
    assert not missing, f"add these modules to LAYERS (DESIGN.md §5): {missing}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_downward(path: Path) -> None:
    me = _own_name(path)
    for module, line in _imports(path):
        if not module.startswith("personalize."):
            continue
        target = module.split(".")[1]
        if target == me:
            continue
        assert LAYERS[target] <= LAYERS[me], (
            f"{path.name} line {line}: {me} (layer {LAYERS[me]}) imports {target} "
            f"(layer {LAYERS[target]}); imports must go downward"
        )


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_third_party_libraries_have_one_home(path: Path) -> None:
    me = _own_name(path)
    for module, line in _imports(path):
        root = module.split(".")[0]
        if root in HOMES:
            assert me in HOMES[root], f"{path.name} line {line}: {root} belongs in {HOMES[root]}"


def _python(code: str) -> str:
    """What ``code`` prints in a fresh interpreter (nothing of this process is loaded there)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


def test_import_personalize_loads_no_cli_server_or_pytest() -> None:
    # Every public name is touched: the package loads its names on first use.
    code = (
        "import json, sys, personalize; [getattr(personalize, n) for n in personalize.__all__]; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = _python(code)
    loaded = set(json.loads(out))
    forbidden = {
        "personalize.cli",
        "personalize.pytest_plugin",
        "personalize.preview",
        "click",
        "rich",
        "pytest",
        "_pytest",
        "syrupy",
        "http.server",
        "aiohttp",
        "starlette",
        "uvicorn",
        "flask",
        "premailer",
    }
    assert not (loaded & forbidden), f"import personalize loaded {sorted(loaded & forbidden)}"


def test_public_api_is_sorted_and_complete() -> None:
    assert list(personalize.__all__) == sorted(personalize.__all__)
    for name in personalize.__all__:
        assert hasattr(personalize, name), name
    for required in ("Project", "RenderedEmail", "Recipient", "PersonalizeError", "Explanation"):
        assert required in personalize.__all__
    assert set(personalize._HOMES) == set(personalize.__all__) - {"__version__"}
    assert set(dir(personalize)) >= set(personalize.__all__)
    with pytest.raises(AttributeError, match="module 'personalize' has no attribute 'Projcet'"):
        personalize.Projcet  # noqa: B018


def test_import_personalize_alone_loads_none_of_the_library() -> None:
    # pytest loads personalize.pytest_plugin in every run where personalize is installed.
    code = "import json, sys; import personalize; print(json.dumps(sorted(sys.modules)))"
    out = _python(code)
    loaded = {name for name in json.loads(out) if name.startswith("personalize.")}
    assert not loaded, loaded


def test_submodules_are_attributes_after_a_plain_import() -> None:
    # The documented spellings: personalize.lint.lint_project, personalize.errors.RenderError…
    code = (
        "import personalize; print(personalize.lint.lint_project.__name__, "
        "personalize.errors.RenderError.__name__, personalize.experiments.bucket.__name__)"
    )
    out = _python(code)
    assert out.split() == ["lint_project", "RenderError", "bucket"]
