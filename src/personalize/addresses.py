"""The address check that both the ``email`` field type and ``to_message`` apply."""

from __future__ import annotations

import re
import string

from .errors import short_repr

__all__ = ["LABEL", "LEAN_ATEXT", "NAMED_ADDRESS", "SEVERAL_ADDRESSES", "address_problem"]

# An address as SMTP without SMTPUTF8 takes it: a dot-atom, '@', host-name labels.
_PUNCT = "!#$%&'*+/=?^_`{|}~-"
_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + _PUNCT + ".")
LEAN_ATEXT = "A-Za-z0-9" + _PUNCT.replace("=", "")  # '-' stays last in the class
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_LABEL = re.compile(LABEL)
_SMTPUTF8 = "non-ASCII addresses need SMTPUTF8, which is not supported; "
NAMED_ADDRESS = "give the address alone, without a name or '<>'"
SEVERAL_ADDRESSES = "give a single address; send one message per recipient"


def address_problem(address: str, *, dotted: bool = True) -> str | None:
    """The rule that ``user@domain`` breaks, in words for a hint; ``None`` when it can be sent.

    The rules are SMTP's without SMTPUTF8: printable ASCII; one address; a dot-atom of at
    most 64 characters before the '@'; host-name labels after it; 254 characters in all; and
    no '=?', which could start an encoded word. Both the ``email`` field type and
    ``to_message`` check addresses with it.

    Args:
        address: The address alone, without a display name.
        dotted: Whether the domain needs a dot (recipient data); a sender may be ``a@localhost``.
    """
    odd = next((c for c in address if not c.isprintable()), None)
    if odd is not None:
        return f"it holds an invisible or control character (U+{ord(odd):04X})"
    local, at, domain = address.rpartition("@")
    local, domain = (local, domain) if at else (address, "")
    if not address.isascii():
        fixes = [] if local.isascii() else ["the part before the '@' must be ASCII"]
        if not domain.isascii():
            fixes.append("write the domain in its ASCII form (xn--…)")
        return _SMTPUTF8 + " and ".join(fixes)
    if "," in address or ";" in address or address.count("@") > 1:
        return SEVERAL_ADDRESSES
    if "<" in address or ">" in address:
        return NAMED_ADDRESS
    if not at or not local or not domain:
        return "an address has a user, an '@' and a domain, as in 'user@example.com'"
    if len(local) > 64:
        return f"the part before the '@' has {len(local)} characters; at most 64 are allowed"
    odd = next((c for c in local if c not in _LOCAL_CHARS), None)
    if odd is not None:
        return f"the part before the '@' holds {odd!r}, which needs quoting (not supported)"
    if local[0] == "." or local[-1] == "." or ".." in local:
        return "the part before the '@' starts or ends with a dot, or has two in a row"
    if "=?" in local:
        return "it holds '=?', which could start an encoded word"
    for label in domain.split("."):
        if not _HOST_LABEL.fullmatch(label):
            if not label:
                return "the domain has an empty part: a dot at either end, or two in a row"
            return (
                f"the domain part {short_repr(label, 40)} is not a host name: 1 to 63 "
                "letters, digits or '-', with no '-' at either end"
            )
    if dotted and "." not in domain:
        return "the domain needs a dot, as in 'example.com'"
    if len(address) > 254:
        return f"it has {len(address)} characters; at most 254 are allowed"
    return None
