"""Checking a backup document's shape: exact keys, exact types, nothing else.

A schema is a Python type (``str``, ``int``, ``bool``, ``float``, ``type(None)``, ``Any``), a
``list[X]`` / ``dict[str, X]`` hint, a union (``X | None``), or a ``Keys`` mapping of the exact
keys of a JSON object. ``check`` raises ``ShapeError`` naming the first field that differs.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union


class ShapeError(Exception):
    """FIELD of a document does not have the expected shape; ``str()`` says how."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field or 'the document'}: {problem}")
        self.field = field
        self.problem = problem


class Keys(dict):  # type: ignore[type-arg,unused-ignore]
    """A JSON object with exactly these keys (name -> schema)."""


def of_dataclass(cls: type) -> Keys:
    """The exact keys and field types of a dataclass, nested dataclasses included."""
    hints = typing.get_type_hints(cls)
    return Keys({f.name: _resolve(hints[f.name]) for f in dataclasses.fields(cls)})


def _resolve(hint: Any) -> Any:
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return of_dataclass(hint)
    origin = typing.get_origin(hint)
    if origin in (list, dict, Union, types.UnionType):
        args = tuple(_resolve(a) for a in typing.get_args(hint))
        if origin is list:
            return list[args[0]]  # type: ignore[valid-type]
        if origin is dict:
            return dict[args[0], args[1]]  # type: ignore[valid-type]
        return Union[args]  # noqa: UP007 - built from a tuple
    return hint


def _name(schema: Any) -> str:
    if isinstance(schema, Keys):
        return "an object"
    origin = typing.get_origin(schema)
    if origin is list:
        return "a list"
    if origin is dict:
        return "an object"
    if origin in (Union, types.UnionType):
        return " or ".join(_name(a) for a in typing.get_args(schema))
    return {
        str: "a string",
        int: "an integer",
        bool: "true or false",
        float: "a number",
        type(None): "null",
    }.get(schema, str(schema))


def check(value: Any, schema: Any, field: str = "") -> None:
    """Raise ShapeError unless VALUE has exactly the shape SCHEMA."""
    if schema is Any:
        return
    if isinstance(schema, Keys):
        if not isinstance(value, dict):
            raise ShapeError(field, "must be an object")
        unknown = sorted(set(value) - set(schema))
        if unknown:
            raise ShapeError(_join(field, str(unknown[0])), "is not a known field")
        missing = sorted(set(schema) - set(value))
        if missing:
            raise ShapeError(_join(field, missing[0]), "is missing")
        for key, sub in schema.items():
            check(value[key], sub, _join(field, key))
        return
    origin = typing.get_origin(schema)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(schema):
            try:
                check(value, option, field)
                return
            except ShapeError:
                continue
        raise ShapeError(field, f"must be {_name(schema)}")
    if origin is list:
        if not isinstance(value, list):
            raise ShapeError(field, "must be a list")
        (item,) = typing.get_args(schema)
        for index, element in enumerate(value):
            check(element, item, f"{field}[{index}]")
        return
    if origin is dict:
        if not isinstance(value, dict):
            raise ShapeError(field, "must be an object")
        _, item = typing.get_args(schema)
        for key, element in value.items():
            check(element, item, _join(field, str(key)))
        return
    if schema is int or schema is float:
        ok = isinstance(value, (int, float) if schema is float else int)
        ok = ok and not isinstance(value, bool)
    else:
        ok = isinstance(value, schema)
    if not ok:
        raise ShapeError(field, f"must be {_name(schema)}")


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key
