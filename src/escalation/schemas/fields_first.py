"""A model's fields validated straight from JSON, before the model's own member bound.

``ContactEvent`` (and so ``RoutedContact``) refuses an object with more members than it
could have in a model "before" validator (``contact._bounded``), so that 100,000 unknown
members are one error, not 100,000 to build. A before validator is handed Python
values: pydantic parses the whole JSON into dicts and lists first, then validates
those, which for a routed contact (1.4 KB, its routing and ladder included) is about a
third of its decode.

The bound only ever refuses objects that fail anyway (members past the fields' count
are unknown ones, which the model forbids): so ``fields_first`` validates the fields
alone, in pydantic-core's JSON mode, and builds the model from them as pydantic does.
Any error sends the caller to the full model, whose errors (and bound) are the ones
reported; an input is accepted exactly when the full model accepts it
(tests/unit/schemas/test_fields_first.py compares the two over many wrong values).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel
from pydantic_core import SchemaValidator

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def fields_first(model: type[M]) -> Callable[[bytes], M]:
    """``model``'s JSON decoder past its model-level before validator; raises
    ``ValidationError`` on anything the caller must hand to the full model."""
    schema = model.__pydantic_core_schema__
    inner = schema.get("schema", {})
    if schema.get("type") != "model" or inner.get("type") != "function-before":
        raise TypeError(f"{model.__name__} has no model-level before validator to pass")
    if inner["schema"].get("type") != "model-fields" or model.__pydantic_post_init__:
        raise TypeError(f"{model.__name__} is not a plain model of fields")
    fields = SchemaValidator(inner["schema"], schema.get("config"))

    def decode(data: bytes) -> M:
        values, extra, fields_set = fields.validate_json(data)
        made = model.__new__(model)
        _set(made, "__dict__", values)
        _set(made, "__pydantic_fields_set__", fields_set)
        _set(made, "__pydantic_extra__", extra)
        _set(made, "__pydantic_private__", None)
        return made

    return decode
