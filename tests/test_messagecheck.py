"""The [message] settings are checked when the project loads, not when the first email is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalize import ConfigError, Project
from personalize.lint import lint_project
from projects import starter_kit_copy

KIT = 'unsubscribe = "links.unsubscribe"'


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (
            ('unsubscribe = "links.unsubscribe"', 'unsubscribe = "links.unsubscrib"'),
            "personalize.toml line 18: message.unsubscribe: no recipient field "
            "'links.unsubscrib' — did you mean 'links.unsubscribe'?",
        ),
        (
            ('unsubscribe = "links.unsubscribe"', 'unsubscribe = "points"'),
            "personalize.toml line 18: message.unsubscribe: field 'points' is of type 'int', "
            'not a URL — declare it with type = "url"; List-Unsubscribe needs an https: or '
            "mailto: URL",
        ),
        (
            ('sender = "Northwind Goods <hello@northwind.example>"', 'sender = "nobody"'),
            "personalize.toml line 16: message.sender: expected one email address such as "
            "'Shop <shop@example.com>', got 'nobody' — an address has a user, an '@' and a "
            "domain, as in 'user@example.com'",
        ),
        (
            (
                'reply_to = "Northwind Support <support@northwind.example>"',
                'reply_to = "a@example.com, b@example.com"',
            ),
            "personalize.toml line 17: message.reply_to: expected one email address such as "
            "'Shop <shop@example.com>', got 'a@example.com, b@example.com' — give a single "
            "address: Reply-To takes one here; for replies to reach several people, use a "
            "shared mailbox or list address",
        ),
        (
            ('unsubscribe = "links.unsubscribe"', 'unsubscribe = "recommendations.url"'),
            "personalize.toml line 18: message.unsubscribe: field 'recommendations.url' is "
            "inside the list 'recommendations': a recipient has one per item, but a message "
            "takes one URL — name a field outside lists, e.g. 'links.unsubscribe'",
        ),
        (
            ('unsubscribe = "links.unsubscribe"', 'unsubscribe = "orders.category"'),
            "personalize.toml line 18: message.unsubscribe: field 'orders.category' is inside "
            "the list 'orders': a recipient has one per item, but a message takes one URL — "
            "name a field outside lists, e.g. 'links.unsubscribe'",
        ),
    ],
    ids=["unknown-field", "not-a-url", "bad-sender", "two-reply-to", "in-a-list", "str-in-a-list"],
)
def test_message_settings_that_would_fail_at_send_time_stop_the_load(
    tmp_path: Path, replace: tuple[str, str], message: str
) -> None:
    root = starter_kit_copy(tmp_path, replace)
    with pytest.raises(ConfigError) as caught:
        Project.load(root)
    assert str(caught.value) == message
    findings = lint_project(root).findings
    assert [f.message for f in findings if f.location.startswith("personalize.toml")] == [
        f"{caught.value.path}: {caught.value.message}"
    ]


def test_the_kits_message_settings_load(tmp_path: Path) -> None:
    assert Project.load(starter_kit_copy(tmp_path, (KIT, KIT))).settings.message.unsubscribe


def test_a_nested_field_path_resolves_through_named_types(tmp_path: Path) -> None:
    project = Project.load(starter_kit_copy(tmp_path, (KIT, KIT)))
    spec = project.schema.spec("links.unsubscribe")
    assert spec is not None
    assert spec.type == "url"
    assert project.schema.spec("links") is not None
    assert project.schema.spec("links.nope") is None
    assert project.schema.spec("email.domain") is None


def test_a_message_setting_is_located_in_a_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    root = starter_kit_copy(tmp_path, (KIT, KIT))
    # The mark hid the first line's table header, and so the line of every key under it.
    (root / "personalize.toml").write_bytes(b'\xef\xbb\xbf[message]\nsender = "nobody"\n')
    with pytest.raises(ConfigError) as caught:
        Project.load(root)
    assert str(caught.value) == (
        "personalize.toml line 2: message.sender: expected one email address such as "
        "'Shop <shop@example.com>', got 'nobody' — an address has a user, an '@' and a "
        "domain, as in 'user@example.com'"
    )
