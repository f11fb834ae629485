"""Load-time checks of the ``[message]`` settings: addresses that parse, a declared URL field."""

from __future__ import annotations

from .config import Settings, setting_error
from .declarations import named_type
from .errors import ConfigError, PersonalizeError, did_you_mean
from .message import parse_address
from .profile import Schema

# Field types that can hold an unsubscribe URL (`to_message` still requires https: or mailto:).
_URL_TYPES = frozenset({"url", "str"})


def check_message_settings(settings: Settings, schema: Schema) -> None:
    """Refuse ``[message]`` settings that would fail, or silently do nothing, at send time.

    Raises:
        ConfigError: ``sender`` or ``reply_to`` is not one address, or ``unsubscribe`` names
            no declared field of type ``url`` (or ``str``), or one inside a list. Names the
            settings file and line.
    """
    message = settings.message
    for role in ("sender", "reply_to"):
        value = getattr(message, role)
        if value is None:
            continue
        try:
            parse_address(value, role=role)
        except PersonalizeError as exc:
            raise _error(settings, role, exc.message, exc.hint) from None
    path = message.unsubscribe
    if path is None:
        return
    spec = schema.spec(path)
    if spec is None:
        raise _error(
            settings,
            "unsubscribe",
            f"no recipient field {path!r}",
            did_you_mean(path, schema.paths())
            or "name the declared field that holds each recipient's unsubscribe URL, "
            "e.g. 'links.unsubscribe'",
        )
    parts = path.split(".")
    for end in range(1, len(parts)):
        # A list holds one value per item, and a message can have only one header.
        outer = schema.spec(".".join(parts[:end]))
        if outer is not None and named_type(outer.type) != outer.type.strip():
            raise _error(
                settings,
                "unsubscribe",
                f"field {path!r} is inside the list {'.'.join(parts[:end])!r}: a recipient "
                "has one per item, but a message takes one URL",
                "name a field outside lists, e.g. 'links.unsubscribe'",
            )
    if spec.type.strip() not in _URL_TYPES:
        raise _error(
            settings,
            "unsubscribe",
            f"field {path!r} is of type {spec.type!r}, not a URL",
            'declare it with type = "url"; List-Unsubscribe needs an https: or mailto: URL',
        )


def _error(settings: Settings, key: str, message: str, hint: str | None) -> ConfigError:
    return setting_error(settings, ("message", key), message, hint)
