"""Building a document model without running its validators, when every value is already
in the form validation would give it and plainly within the model's declared constraints.

Validating a model runs its Python validators (X12 text, decimal places, digits) on every
value, which dominates mapping an inbound 850 into a :class:`PurchaseOrder`. :func:`checked`
reads the constraints from the model's own field declarations (nothing is restated here) and
checks the values against them with plain comparisons; the instance it builds is the one
validation builds (same ``__dict__`` in field order, same fields set, the values themselves).
It answers ``None`` whenever it is not sure: a value of another type (a str for a date, an
int for a Decimal), a constraint it does not know, a decimal in exponent form, a model with
model or field validators. The caller then validates as usual, which gives the same instance
or the precise error; :func:`checked` never accepts what validation refuses.

Like :mod:`dataclasses` writes ``__init__``, the builder of each model is written once as
Python source (:func:`builder_source` shows it) with every check inline: a call per field
would cost as much as the checks.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import annotated_types
from pydantic import AfterValidator, BaseModel, BeforeValidator, WithJsonSchema
from pydantic.fields import FieldInfo

from gateway.erp.types import _decimal, _x12_text, check_places, is_x12_text

M = TypeVar("M")
Builder = Callable[[Mapping[str, Any]], Any]

#: Configuration keys (and the values) under which a validated instance holds its input
#: unchanged; any other setting makes a model ineligible.
_CONFIG = {"extra": ("forbid",), "frozen": (True, False), "str_strip_whitespace": (False,)}
_MISSING = object()


class _Unsupported(Exception):
    """A declaration :func:`checked` does not know how to check; the model always validates."""


_BUILDERS: dict[type[Any], Builder | None] = {}


def checked(model: type[M], fields: Mapping[str, Any]) -> M | None:
    """``model(**fields)`` built without validation when each value is exactly what
    validation would keep and plainly fits its field; otherwise ``None`` (validate)."""
    try:
        build = _BUILDERS[model]
    except KeyError:
        build = _BUILDERS[model] = _builder(model)
    return None if build is None else build(fields)  # type: ignore[no-any-return]


def builder_source(model: type[Any]) -> str:
    """The source of the builder :func:`checked` uses for ``model`` (raises for a model it
    leaves to validation)."""
    return _Writer(model).source()


def _builder(model: type[Any]) -> Builder | None:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    try:
        writer = _Writer(model)
        source = writer.source()
    except (_Unsupported, TypeError):
        return None
    exec(compile(source, f"<checked {model.__name__}>", "exec"), writer.names)
    return writer.names["build"]  # type: ignore[no-any-return]


class _Writer:
    """Writes the builder of one model: per field in declared order, take the value or its
    default, check it, then set what ``BaseModel.model_construct`` sets."""

    def __init__(self, model: type[BaseModel]) -> None:
        config = dict(model.model_config)
        config.pop("title", None)
        if any(value not in _CONFIG.get(key, ()) for key, value in config.items()):
            raise _Unsupported(f"configuration {config}")
        decorators = model.__pydantic_decorators__
        if (decorators.validators or decorators.field_validators or decorators.root_validators
                or decorators.model_validators or model.__pydantic_post_init__
                or model.__pydantic_root_model__):  # fmt: skip
            raise _Unsupported("validators")
        self.model = model
        self.names: dict[str, Any] = {
            "_model": model, "_new": model.__new__, "_set": object.__setattr__,
            "_MISSING": _MISSING,
            "is_x12_text": is_x12_text, "Decimal": Decimal,
        }  # fmt: skip

    def name(self, value: Any) -> str:
        """A name in the builder's namespace for ``value``."""
        name = f"_c{len(self.names)}"
        self.names[name] = value
        return name

    def source(self) -> str:
        body = ["def build(fields):", "    given = 0"]
        required = 0
        values = []
        for index, (name, field) in enumerate(self.model.__pydantic_fields__.items()):
            if field.alias is not None or field.validation_alias is not None:
                raise _Unsupported(f"{name} has an alias")
            var = f"v{index}"
            test = self.check(field.annotation, field.metadata, var)
            body.append(f"    {var} = fields.get({name!r}, _MISSING)")
            if field.is_required():
                required += 1
                body += [f"    if {var} is _MISSING or not {test}:", "        return None"]
            else:
                if field.default_factory is not None:
                    if field.default_factory_takes_validated_data:
                        raise _Unsupported(f"{name} has a default factory taking data")
                    default = f"{self.name(field.default_factory)}()"
                else:
                    hash(field.default)  # a mutable default is copied by validation: refuse it
                    default = self.name(field.default)
                body += [f"    if {var} is _MISSING:", f"        {var} = {default}",
                         f"    elif not {test}:", "        return None",
                         "    else:", "        given += 1"]  # fmt: skip
            values.append(f"{name!r}: {var}")
        # A field the model does not have is refused by validation (extra="forbid").
        body += [f"    if len(fields) != {required} + given:", "        return None"]
        # What BaseModel.model_construct sets, without its per-field alias lookups.
        body += [
            "    instance = _new(_model)",
            f"    _set(instance, '__dict__', {{{', '.join(values)}}})",
            "    _set(instance, '__pydantic_fields_set__', set(fields))",
            "    _set(instance, '__pydantic_extra__', None)",
            "    _set(instance, '__pydantic_private__', None)",
            "    return instance",
        ]
        return "\n".join(body) + "\n"

    def check(self, annotation: Any, metadata: list[Any], var: str) -> str:
        """An expression true when ``var`` is a value of ``annotation`` that validation keeps
        as it is and that meets every constraint in ``metadata``."""
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            inner, *extra = typing.get_args(annotation)
            flat: list[Any] = []
            for item in extra:
                flat += item.metadata if isinstance(item, FieldInfo) else [item]
            return self.check(inner, [*flat, *metadata], var)
        if origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                raise _Unsupported(f"union {annotation}")
            return f"({var} is None or {self.check(options[0], metadata, var)})"
        if origin is typing.Literal:
            _no_constraints(annotation, metadata)
            # By type as well: validation tells True from 1.
            allowed = frozenset((type(a), a) for a in typing.get_args(annotation))
            kinds = self.name(frozenset(kind for kind, _ in allowed))
            return f"(type({var}) in {kinds} and (type({var}), {var}) in {self.name(allowed)})"
        if origin is list:
            (item,) = typing.get_args(annotation)
            item_var = f"{var}_item"
            return (
                f"(type({var}) is list{_length_test(annotation, metadata, var)}"
                f" and all([{self.check(item, [], item_var)} for {item_var} in {var}]))"
            )
        if annotation is str:
            return self.text(metadata, var)
        if annotation is Decimal:
            return self.decimal(metadata, var)
        if annotation is int:
            low, high = _bounds(annotation, metadata)
            return f"(type({var}) is int and {low} <= {var} <= {high})"
        if annotation in (bool, date) or (
            isinstance(annotation, type) and issubclass(annotation, BaseModel)
        ):
            # A model instance is kept as it is (revalidate_instances="never").
            _no_constraints(annotation, metadata)
            return f"(type({var}) is {self.name(annotation)})"
        raise _Unsupported(f"type {annotation}")

    def text(self, metadata: list[Any], var: str) -> str:
        lengths, tests = [], []
        for item in metadata:
            if isinstance(item, AfterValidator) and item.func is _x12_text:
                tests.append(f"is_x12_text({var})")
            elif _general(item).keys() == {"pattern"}:
                # As pydantic applies it (a search, anchors in the pattern), only on ASCII
                # text without a line feed, where Python's and Rust's regular expressions
                # agree ($ matches before a final line feed in Python, not in Rust).
                search = self.name(re.compile(_general(item)["pattern"]).search)
                tests.append(f"{var}.isascii() and '\\n' not in {var}"
                             f" and {search}({var}) is not None")  # fmt: skip
            elif not isinstance(item, WithJsonSchema):
                lengths.append(item)
        length = _length_test(str, lengths, var)
        return " and ".join([f"(type({var}) is str{length}", *tests]) + ")"

    def decimal(self, metadata: list[Any], var: str) -> str:
        """A Decimal whose text is plain digits, at most ``max_digits`` of them, with at most
        the allowed decimal places: so it is finite, not negative, has no exponent above
        zero (str() writes those in E notation) and pydantic counts no more digits than the
        text has. ``ge`` must then be at most 0."""
        most_digits = most_places = 28
        for item in metadata:
            if isinstance(item, BeforeValidator) and item.func is _decimal:
                continue  # keeps a Decimal as it is
            if isinstance(item, WithJsonSchema):
                continue
            if isinstance(item, annotated_types.Ge) and item.ge <= 0:  # type: ignore[operator]
                continue
            if _general(item).keys() == {"max_digits"}:
                most_digits = min(most_digits, _general(item)["max_digits"])
            elif (isinstance(item, AfterValidator) and isinstance(item.func, partial)
                  and item.func.func is check_places and not item.func.args):  # fmt: skip
                most_places = min(most_places, item.func.keywords["places"])
            else:
                raise _Unsupported(f"constraint {item} on Decimal")
        plain = f"[0-9]{{1,{most_digits}}}"
        if most_places:
            plain += f"|(?=[0-9.]{{3,{most_digits + 1}}}$)[0-9]+\\.[0-9]{{1,{most_places}}}"
        match = self.name(re.compile(plain).fullmatch)
        return f"(type({var}) is Decimal and {match}(str({var})) is not None)"


def _no_constraints(annotation: Any, metadata: list[Any]) -> None:
    if metadata:
        raise _Unsupported(f"constraints {metadata} on {annotation}")


def _length_test(annotation: Any, metadata: list[Any], var: str) -> str:
    """`` and <low> <= len(var) <= <high>`` for MinLen/MaxLen constraints (or less)."""
    low, high = 0, None
    for item in metadata:
        if isinstance(item, annotated_types.MinLen):
            low = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            high = item.max_length
        else:
            raise _Unsupported(f"constraint {item} on {annotation}")
    if high is not None:
        return f" and {low} <= len({var}) <= {high}"
    return f" and {low} <= len({var})" if low else ""


def _bounds(annotation: Any, metadata: list[Any]) -> tuple[int, int]:
    low, high = -(2**63), 2**63
    for item in metadata:
        if isinstance(item, annotated_types.Ge) and isinstance(item.ge, int):
            low = item.ge
        elif isinstance(item, annotated_types.Le) and isinstance(item.le, int):
            high = item.le
        else:
            raise _Unsupported(f"constraint {item} on {annotation}")
    return low, high


def _general(item: Any) -> dict[str, Any]:
    """The settings of a ``Field(max_digits=..., pattern=...)`` constraint, else {}."""
    return vars(item) if type(item).__name__ == "_PydanticGeneralMetadata" else {}
