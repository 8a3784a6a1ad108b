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
would cost as much as the checks. It takes the fields as keyword arguments, so that a hot
caller (mapping an 850's lines) calls it directly through :func:`builder`, without a dict
of the fields or a look-up of the model.
"""

from __future__ import annotations

import keyword
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
#: A model's builder: the fields as keyword arguments, the instance or ``None``.
Builder = Callable[..., Any]

#: Configuration keys (and the values) under which a validated instance holds its input
#: unchanged; any other setting makes a model ineligible.
_CONFIG = {"extra": ("forbid",), "frozen": (True, False), "str_strip_whitespace": (False,)}
_MISSING = object()


class _Unsupported(Exception):
    """A declaration :func:`checked` does not know how to check; the model always validates."""


#: Per model: the names of its fields and its builder (one that always answers None for a
#: model left to validation).
_BUILDERS: dict[type[Any], tuple[frozenset[str], Builder]] = {}

#: Passed for a field, the same as not passing it: the field takes its default and stays out
#: of the fields set. For a caller that passes every field of a model, some only sometimes.
NOT_GIVEN: Any = _MISSING


def checked(model: type[M], fields: Mapping[str, Any]) -> M | None:
    """``model(**fields)`` built without validation when each value is exactly what
    validation would keep and plainly fits its field; otherwise ``None`` (validate)."""
    names, build = _entry(model)
    # A field the model does not have is refused by validation (extra="forbid").
    if not names.issuperset(fields):
        return None
    return build(**fields)  # type: ignore[no-any-return]


def builder(model: type[M]) -> Callable[..., M | None]:
    """The builder :func:`checked` uses for ``model``, for hot callers, which fetch it once.

    ``builder(model)(**fields)`` is ``checked(model, fields)`` when every key of ``fields``
    names a field of the model (another raises TypeError); a field not passed, or passed
    :data:`NOT_GIVEN`, takes its default and stays out of the fields set, as with
    validation. For a model :func:`checked` leaves to validation it always answers None.
    """
    return _entry(model)[1]


def _entry(model: type[Any]) -> tuple[frozenset[str], Builder]:
    try:
        return _BUILDERS[model]
    except KeyError:
        entry = _BUILDERS[model] = _builder(model)
        return entry


def builder_source(model: type[Any]) -> str:
    """The source of the builder :func:`checked` uses for ``model`` (raises for a model it
    leaves to validation)."""
    return _Writer(model).source()


def plain_decimal_test(most_digits: int, most_places: int) -> Callable[[str], bool]:
    """The test the builders make of a Decimal's text, as a function (to test it): true when
    the text is 1 to ``most_digits`` ASCII digits, or digits, a point and 1 to
    ``most_places`` digits, ``most_digits`` digits in all at most.

    Exactly ``[0-9]{1,D}|(?=[0-9.]{3,D+1}$)[0-9]+\\.[0-9]{1,P}`` as a full match (the second
    branch only when ``most_places`` > 0), at a fraction of its cost.
    """
    source = f"lambda _value: {_plain_decimal('_value', most_digits, most_places)}"
    return eval(compile(source, "<plain decimal>", "eval"), {"_len": len})  # type: ignore[no-any-return]


def _plain_decimal(text: str, most_digits: int, most_places: int) -> str:
    """The expression of :func:`plain_decimal_test` on the text the expression ``text``
    gives, evaluated once; it binds ``_text`` and ``_parts``. Inline in every builder: it
    runs for every Decimal of every line."""
    # isdigit() alone would take other scripts' digits: isascii() keeps 0-9 only.
    digits = f"_text.isdigit() and _len(_text) <= {most_digits}"
    if not most_places:
        return f"((_text := {text}).isascii() and {digits})"
    # Without a point, partition leaves the fraction ([2]) empty.
    point = (f"_len(_text) <= {most_digits + 1} and (_parts := _text.partition('.'))[0].isdigit()"
             f" and 0 < _len(_parts[2]) <= {most_places} and _parts[2].isdigit()")  # fmt: skip
    return f"((_text := {text}).isascii() and ({digits} or {point}))"


def _builder(model: type[Any]) -> tuple[frozenset[str], Builder]:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return frozenset(), _validate
    try:
        writer = _Writer(model)
        source = writer.source()
    except (_Unsupported, TypeError):
        return frozenset(), _validate
    exec(compile(source, f"<checked {model.__name__}>", "exec"), writer.names)
    return frozenset(model.__pydantic_fields__), writer.names["build"]


def _validate(**fields: Any) -> None:
    """The builder of a model :func:`checked` does not build: always leave it to validation."""
    return None


class _Writer:
    """Writes the builder of one model: per field in declared order, take the value or its
    default, check it, then set what ``BaseModel.model_construct`` sets.

    The builder's parameters are the field names, so every other name it uses starts with
    an underscore (a field name never does): ``_type``, not ``type``, which is a field of
    :class:`~gateway.erp.PurchaseOrder`.
    """

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
            "_model": model, "_new": model.__new__, "_MISSING": _MISSING,
            "_type": type, "_len": len, "_all": all, "_str": str, "_list": list, "_int": int,
            "_is_x12_text": is_x12_text, "_Decimal": Decimal,
            **{f"_set{slot}": _slot_setter(model, slot) for slot in _SLOTS},
        }  # fmt: skip

    def name(self, value: Any) -> str:
        """A name in the builder's namespace for ``value``."""
        name = f"_c{len(self.names)}"
        self.names[name] = value
        return name

    def source(self) -> str:
        fields = self.model.__pydantic_fields__
        for name, field in fields.items():
            if field.alias is not None or field.validation_alias is not None:
                raise _Unsupported(f"{name} has an alias")
            if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
                raise _Unsupported(f"field name {name!r}")
        parameters = ", ".join(f"{name}=_MISSING" for name in fields)
        required = [name for name, field in fields.items() if field.is_required()]
        body = [
            f"def build(*, {parameters}):" if fields else "def build():",
            # {} would be a dict.
            f"    _fields_set = {{{', '.join(map(repr, required))}}}" if required
            else "    _fields_set = set()",
        ]  # fmt: skip
        for name, field in fields.items():
            test = self.check(field.annotation, field.metadata, name)
            if field.is_required():
                # Every test starts with the value's type (or None): _MISSING fails them all.
                body += [f"    if not {test}:", "        return None"]
                continue
            if field.default_factory is not None:
                if field.default_factory_takes_validated_data:
                    raise _Unsupported(f"{name} has a default factory taking data")
                default = f"{self.name(field.default_factory)}()"
            else:
                hash(field.default)  # a mutable default is copied by validation: refuse it
                default = self.name(field.default)
            body += [f"    if {name} is _MISSING:", f"        {name} = {default}",
                     f"    elif not {test}:", "        return None",
                     "    else:", f"        _fields_set.add({name!r})"]  # fmt: skip
        values = ", ".join(f"{name!r}: {name}" for name in fields)
        # What BaseModel.model_construct sets, without its per-field alias lookups.
        body += [
            "    _instance = _new(_model)",
            f"    _set__dict__(_instance, {{{values}}})",
            "    _set__pydantic_fields_set__(_instance, _fields_set)",
            "    _set__pydantic_extra__(_instance, None)",
            "    _set__pydantic_private__(_instance, None)",
            "    return _instance",
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
            kinds = frozenset(kind for kind, _ in allowed)
            if len(kinds) == 1:
                # Values of one type (the usual codes): the value alone tells them apart.
                (kind,) = kinds
                values = self.name(frozenset(value for _, value in allowed))
                return f"(_type({var}) is {self.name(kind)} and {var} in {values})"
            return (f"(_type({var}) in {self.name(kinds)}"
                    f" and (_type({var}), {var}) in {self.name(allowed)})")  # fmt: skip
        if origin is list:
            (item,) = typing.get_args(annotation)
            item_var = f"_{var}_item"
            return (
                f"(_type({var}) is _list{_length_test(annotation, metadata, var)}"
                f" and _all([{self.check(item, [], item_var)} for {item_var} in {var}]))"
            )
        if annotation is str:
            return self.text(metadata, var)
        if annotation is Decimal:
            return self.decimal(metadata, var)
        if annotation is int:
            low, high = _bounds(annotation, metadata)
            return f"(_type({var}) is _int and {low} <= {var} <= {high})"
        if annotation in (bool, date) or (
            isinstance(annotation, type) and issubclass(annotation, BaseModel)
        ):
            # A model instance is kept as it is (revalidate_instances="never").
            _no_constraints(annotation, metadata)
            return f"(_type({var}) is {self.name(annotation)})"
        raise _Unsupported(f"type {annotation}")

    def text(self, metadata: list[Any], var: str) -> str:
        lengths, tests = [], []
        for item in metadata:
            if isinstance(item, AfterValidator) and item.func is _x12_text:
                # is_x12_text's first test, inline: most text is letters and digits only.
                tests.append(f"({var}.isalnum() and {var}.isascii() or _is_x12_text({var}))")
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
        return " and ".join([f"(_type({var}) is _str{length}", *tests]) + ")"

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
        test = _plain_decimal(f"_str({var})", most_digits, most_places)
        return f"(_type({var}) is _Decimal and {test})"


#: The attributes of a model instance that model_construct sets, slots of BaseModel.
_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")


def _slot_setter(model: type[BaseModel], name: str) -> Callable[[Any, Any], None]:
    """What ``object.__setattr__(instance, name, value)`` calls for an instance of ``model``:
    the ``__set__`` of the data descriptor ``name`` finds first in the class's MRO. Called
    directly, it skips the look-up, a good part of building a small model."""
    for klass in model.__mro__:
        if name in vars(klass):
            descriptor = vars(klass)[name]
            if hasattr(type(descriptor), "__set__"):
                return descriptor.__set__  # type: ignore[no-any-return]
            break
    raise _Unsupported(f"{name} is not a slot of {model.__name__}")


def _no_constraints(annotation: Any, metadata: list[Any]) -> None:
    if metadata:
        raise _Unsupported(f"constraints {metadata} on {annotation}")


def _length_test(annotation: Any, metadata: list[Any], var: str) -> str:
    """`` and <low> <= _len(var) <= <high>`` for MinLen/MaxLen constraints (or less)."""
    low, high = 0, None
    for item in metadata:
        if isinstance(item, annotated_types.MinLen):
            low = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            high = item.max_length
        else:
            raise _Unsupported(f"constraint {item} on {annotation}")
    if high is not None:
        return f" and {low} <= _len({var}) <= {high}"
    return f" and {low} <= _len({var})" if low else ""


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
