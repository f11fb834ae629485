"""JSON Lines records: every line a value or a located error, never an exception that escapes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from personalize.errors import ConfigError
from personalize.records import by_id, count_jsonl, iter_jsonl, read_jsonl


def lines(tmp_path: Path, data: bytes) -> list[tuple[int, object]]:
    path = tmp_path / "a.jsonl"
    path.write_bytes(data)
    return [
        (n, str(v) if isinstance(v, ConfigError) else v)
        for n, v in read_jsonl(path, display="a.jsonl")
    ]


def test_values_come_with_their_line_numbers_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    assert lines(tmp_path, b'{"id": 1}\n\n  \r\n{"id": 2}\r\n') == [(1, {"id": 1}), (4, {"id": 2})]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'{"id": 1}\n{oops\n',
            "a.jsonl line 2: invalid JSON: Expecting property name enclosed in double quotes "
            "(column 2) — each line must be one JSON object",
        ),
        (
            b'{"id": 1}\n{"a": "caf\xe9"}\n',
            "a.jsonl line 2: not valid UTF-8 (invalid continuation byte at byte 10) — save the "
            "file as UTF-8",
        ),
        (
            b'{"id": 1}\n{"points": ' + b"9" * 5000 + b"}\n",
            "a.jsonl line 2: unreadable JSON: a number too long to be a field's value — check "
            "how the file was exported",
        ),
        (
            b'{"id": 1}\n' + b"[" * 200_000 + b"]" * 200_000 + b"\n",
            "a.jsonl line 2: unreadable JSON: nesting too deep to be a field's value — check how "
            "the file was exported",
        ),
    ],
    ids=["not-json", "not-utf8", "huge-number", "deep-nesting"],
)
def test_a_bad_line_is_a_located_error_and_the_others_still_read(
    tmp_path: Path, data: bytes, message: str
) -> None:
    assert lines(tmp_path, data) == [(1, {"id": 1}), (2, message)]


def test_a_byte_order_mark_opens_only_the_first_line(tmp_path: Path) -> None:
    got = lines(tmp_path, b'\xef\xbb\xbf{"id": 1}\n\xef\xbb\xbf{"id": 2}\n')
    assert got[0] == (1, {"id": 1})
    assert str(got[1][1]).startswith("a.jsonl line 2: invalid JSON: Unexpected UTF-8 BOM")


def test_iter_jsonl_raises_the_first_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"id": 1}\n{oops\n')
    read = iter_jsonl(path, display="a.jsonl")
    assert next(read) == (1, {"id": 1})
    with pytest.raises(ConfigError, match=r"a\.jsonl line 2: invalid JSON"):
        next(read)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        count_jsonl(tmp_path / "nope.jsonl", display="nope.jsonl")
    assert str(caught.value) == (
        "nope.jsonl: cannot read the file: No such file or directory — pass the path of a "
        "JSONL file, one JSON object per line"
    )


@dataclass
class Item:
    id: str


def test_by_id_keeps_file_order_and_refuses_a_repeated_id() -> None:
    assert list(by_id([(1, Item("b")), (2, Item("a"))], file="p.jsonl")) == ["b", "a"]
    with pytest.raises(ConfigError) as caught:
        by_id([(1, Item("a")), (2, Item("b")), (5, Item("a"))], file="p.jsonl", what="persona")
    assert str(caught.value) == (
        "p.jsonl line 5 (recipient a): duplicate id — already on line 1 — give every persona "
        "its own id"
    )


def test_a_path_given_as_text_names_itself_in_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The documented call for send scripts: read_jsonl("audience.jsonl"), no display name.
    monkeypatch.chdir(tmp_path)
    Path("audience.jsonl").write_bytes(b'{"id": "a"}\n{oops\n')
    read = list(read_jsonl("audience.jsonl"))
    assert read[0] == (1, {"id": "a"})
    assert str(read[1][1]) == (
        "audience.jsonl line 2: invalid JSON: Expecting property name enclosed in double quotes "
        "(column 2) — each line must be one JSON object"
    )
    with pytest.raises(ConfigError) as caught:
        next(read_jsonl(Path("nope.jsonl")))
    assert str(caught.value) == (
        "nope.jsonl: cannot read the file: No such file or directory — pass the path of a JSONL "
        "file, one JSON object per line"
    )


def test_a_file_that_cannot_be_read_says_so_and_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audience.jsonl"
    path.write_bytes(b'{"id": "a"}\n')

    def refused(self: Path, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", str(self))  # mode 000, not root

    monkeypatch.setattr(Path, "open", refused)
    with pytest.raises(ConfigError) as caught:
        next(read_jsonl(path, display="audience.jsonl"))
    assert str(caught.value) == (
        "audience.jsonl: cannot read the file: Permission denied — make the file readable for "
        "you, or pass a copy you can read"
    )


def test_a_broken_link_is_called_one(tmp_path: Path) -> None:
    # As lint and every other project file say it, not "No such file or directory".
    (tmp_path / "audience.jsonl").symlink_to("gone.jsonl")
    with pytest.raises(ConfigError) as caught:
        list(iter_jsonl(tmp_path / "audience.jsonl", display="audience.jsonl"))
    assert str(caught.value) == (
        "audience.jsonl: cannot read the file (broken link to 'gone.jsonl') — point the link at "
        "an existing file, or put the file itself in its place"
    )
