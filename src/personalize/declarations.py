"""Load-time checks of the names declared under ``[recipient]``, and the built-in fields."""

from __future__ import annotations

from .config import FieldSpec, Settings, setting_error
from .errors import short_repr
from .fieldtypes import BUILTIN_TYPES, RESERVED_NAMES

__all__ = ["BUILTIN_FIELDS", "declared_fields", "named_type"]

# The fields every schema has, with their types (see `declared_fields`).
BUILTIN_FIELDS = {"id": "str", "locale": "locale", "timezone": "timezone", "currency": "currency"}


def named_type(type_name: str) -> str:
    """The type inside ``list[...]`` (at any depth), as the schema reads it: ``cart-item``."""
    name = type_name.strip()
    while name.startswith("list[") and name.endswith("]"):
        name = name[5:-1].strip()
    return name


def declared_fields(settings: Settings) -> dict[str, FieldSpec]:
    """The fields of ``[recipient.fields]``, with the built-in ones added.

    Raises:
        ConfigError: a type or field name that no field type, template or rule can use, or a
            built-in field redeclared with another type. Names the file, line and key.
    """
    for name, body in settings.recipient.types.items():
        _check_type_name(settings, name)
        for field in body:
            _check_nested_name(settings, ("recipient", "types", name, field))
    fields = dict(settings.recipient.fields)
    for name in fields:
        _check_field_name(settings, name)
    for name, kind in BUILTIN_FIELDS.items():
        spec = fields.get(name)
        if spec is None:
            fields[name] = FieldSpec(type=kind, required=name == "id")
        elif spec.type.strip() != kind:
            # Rules, formatting and messages read these as their own types.
            raise setting_error(
                settings,
                ("recipient", "fields", name, "type"),
                f"field {name!r} is built in, of type {kind}; it cannot be redeclared "
                f"as {spec.type.strip()!r}",
                f'declare it with type = "{kind}", or give your own field another name',
            )
        elif name == "id" and (spec.has_default or not spec.required):
            # Every record needs an id of its own, whatever the declaration says.
            if spec.has_default:
                raise setting_error(
                    settings,
                    ("recipient", "fields", "id", "default"),
                    "field 'id' cannot have a default: every record needs an id of its own",
                    "remove the default",
                )
            fields[name] = spec.model_copy(update={"required": True})
    return fields


def _check_type_name(settings: Settings, name: str) -> None:
    where = ("recipient", "types", name)
    if name in BUILTIN_TYPES:
        raise setting_error(
            settings,
            where,
            f"type name {name!r} is a built-in type: a field of type {name!r} gets the "
            "built-in, never this type",
            "give the type another name",
        )
    if not name or named_type(name) != name:
        # A field's type is read without surrounding spaces, and list[…] as a list.
        raise setting_error(
            settings,
            where,
            f"type name {short_repr(name)} can never be used as a field's type",
            "give the type a name without surrounding spaces or list[…], e.g. 'cart_item'",
        )


def _check_field_name(settings: Settings, name: str) -> None:
    where = ("recipient", "fields", name)
    if name in RESERVED_NAMES or name.startswith("_"):
        raise setting_error(
            settings,
            where,
            f"field name {name!r} is reserved: templates use it for something else",
            "rename the field; reserved are the names that start with '_', and "
            + ", ".join(sorted(RESERVED_NAMES)),
        )
    if not name.isidentifier():
        # `{{ last-name }}` is a subtraction; a dotted name would read as a nested path.
        raise setting_error(
            settings,
            where,
            f"field name {short_repr(name)} cannot be written in templates",
            "use letters, digits and '_', not starting with a digit, e.g. 'last_name'",
        )
    if name == "not":
        raise setting_error(
            settings,
            where,
            "field name 'not' cannot be written in templates: Jinja reads it as an operator",
            "rename the field",
        )


def _check_nested_name(settings: Settings, where: tuple[str, ...]) -> None:
    # Templates reach any key of an object (`address["zip-code"]`), but rules and the
    # [message] settings split field paths at dots.
    name = where[-1]
    if not name.strip() or "." in name:
        raise setting_error(
            settings,
            where,
            f"field name {short_repr(name)} cannot be part of a field path such as 'address.city'",
            "use a name that is not blank and holds no '.', e.g. 'zip_code'",
        )
