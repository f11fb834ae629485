"""Tests for personalize.addresses: the one check of the email type and of to_message."""

from __future__ import annotations

import pytest

from personalize.addresses import NAMED_ADDRESS, address_problem


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("ann@example.com", None),
        ("o'neil+news@mail.example.co.uk", None),
        ("ann@localhost", "the domain needs a dot, as in 'example.com'"),
        ("ann\x1b@example.com", "it holds an invisible or control character (U+001B)"),
        ("ann\u200b@example.com", "it holds an invisible or control character (U+200B)"),
        (
            "anné@exämple.com",
            "non-ASCII addresses need SMTPUTF8, which is not supported; the part before the "
            "'@' must be ASCII and write the domain in its ASCII form (xn--…)",
        ),
        ("a@example.com, b@example.com", "give a single address; send one message per recipient"),
        ("Ann <ann@example.com>", NAMED_ADDRESS),
        ("example.com", "an address has a user, an '@' and a domain, as in 'user@example.com'"),
        (
            "x" * 65 + "@example.com",
            "the part before the '@' has 65 characters; at most 64 are allowed",
        ),
        (
            '"a b"@example.com',
            "the part before the '@' holds '\"', which needs quoting (not supported)",
        ),
        (
            "jo..doe@example.com",
            "the part before the '@' starts or ends with a dot, or has two in a row",
        ),
        ("=?utf-8?q?x@example.com", "it holds '=?', which could start an encoded word"),
        ("ann@example..com", "the domain has an empty part: a dot at either end, or two in a row"),
        (
            "ann@-example.com",
            "the domain part '-example' is not a host name: 1 to 63 letters, digits or '-', "
            "with no '-' at either end",
        ),
        ("a@" + "b" * 60 + ".c" * 100 + ".com", "it has 266 characters; at most 254 are allowed"),
    ],
)
def test_address_problem_names_the_rule(address: str, problem: str | None) -> None:
    assert address_problem(address) == problem


def test_a_sender_may_use_a_host_without_a_dot() -> None:
    assert address_problem("shop@localhost", dotted=False) is None
