"""``checked``: a model built without its validators is the instance validation builds, and
nothing validation refuses is ever built."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from gateway.erp import (
    DOCUMENT_TYPES,
    Address,
    Location,
    ProductId,
    PurchaseOrder,
    PurchaseOrderLine,
    ShipWindow,
    document_json,
    parse_document,
)
from gateway.erp.checked import NOT_GIVEN, builder, checked, plain_decimal_test
from gateway.erp.purchase_order import FreightTerms
from gateway.erp.types import _TEXT, is_x12_text
from tests.goldens import GOLDEN

#: The models an inbound 850 is made of: the fast path must take their usual values.
INBOUND_850 = (PurchaseOrder, PurchaseOrderLine, ProductId, Location, FreightTerms, ShipWindow)


def _golden_documents() -> list[Any]:
    documents = []
    for path in sorted(GOLDEN.glob("*/*.json")):
        data = json.loads(path.read_text())
        documents += [parse_document(d) for d in (data if isinstance(data, list) else [data])]
    return documents


def _instances(node: Any) -> list[BaseModel]:
    """Every model instance in a document, the document included."""
    if isinstance(node, BaseModel):
        found = [node]
        for name in type(node).model_fields:
            found += _instances(getattr(node, name))
        return found
    if isinstance(node, list):
        return [i for item in node for i in _instances(item)]
    return []


INSTANCES = [i for d in _golden_documents() for i in _instances(d)]
#: Up to 20 instances of each model, for the property (the big documents are slow to check).
SAMPLE = [i for m in dict.fromkeys(type(i) for i in INSTANCES)
          for i in [j for j in INSTANCES if type(j) is m][:20]]  # fmt: skip


def _given(instance: BaseModel) -> dict[str, Any]:
    """The fields the instance was made from, as keyword arguments."""
    return {name: getattr(instance, name) for name in instance.model_fields_set}


def _same(built: BaseModel, validated: BaseModel) -> None:
    """Everything validation gives an instance, and the same JSON."""
    assert type(built) is type(validated)
    assert list(built.__dict__.items()) == list(validated.__dict__.items())
    assert built.model_fields_set == validated.model_fields_set
    assert built.__pydantic_extra__ == validated.__pydantic_extra__
    assert built.__pydantic_private__ == validated.__pydantic_private__
    assert repr(built) == repr(validated)
    assert built == validated
    assert built.model_dump_json(indent=2, exclude_none=True) == validated.model_dump_json(
        indent=2, exclude_none=True
    )


def test_golden_instances_build_as_validation_builds_them() -> None:
    """Each model instance of every golden document, rebuilt from its fields, is the
    validated one; the models of an inbound 850 always take the fast path."""
    fast = 0
    for instance in INSTANCES:
        fields = _given(instance)
        built = checked(type(instance), fields)
        if built is None:
            assert not isinstance(instance, INBOUND_850), type(instance).__name__
            continue
        fast += 1
        _same(built, type(instance)(**fields))
    assert fast > 100


def test_a_purchase_order_is_the_validated_one_through_and_through() -> None:
    """The JSON of a document built bottom-up is the canonical JSON of the golden file."""
    for path in sorted((GOLDEN / "850").glob("*.json")):
        for data in json.loads(path.read_text()):
            document = parse_document(data)
            assert document_json(_rebuild(document)) == document_json(document)


def _rebuild(node: Any) -> Any:
    if isinstance(node, BaseModel):
        fields = {name: _rebuild(getattr(node, name)) for name in node.model_fields_set}
        built = checked(type(node), fields)
        return type(node)(**fields) if built is None else built
    if isinstance(node, list):
        return [_rebuild(item) for item in node]
    return node


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (ProductId, {"kind": "upc", "value": "12*4"}),  # a delimiter
        (ProductId, {"kind": "upc", "value": " 1234"}),  # a leading blank
        (ProductId, {"kind": "upc", "value": ""}),
        (ProductId, {"kind": "upc", "value": "1" * 49}),
        (ProductId, {"kind": "UP", "value": "1234"}),
        (ProductId, {"kind": "upc"}),
        (ProductId, {"kind": "upc", "value": "1234", "other": 1}),
        (ProductId, {"kind": "upc", "value": 1234}),
        (ShipWindow, {"not_before": "2025-03-01", "not_after": date(2025, 3, 2)}),
        (Location, {"code": "RIC2", "qualifier": 92}),
    ],
)
def test_what_validation_refuses_or_converts_is_left_to_validation(
    model: type[BaseModel], fields: dict[str, Any]
) -> None:
    """A value validation refuses, or would convert, is not taken as it is."""
    assert checked(model, fields) is None


@pytest.mark.parametrize(
    "value",
    ["12", "12.5", "12.50", "0.0001", "999999999999999", "1E+1", "-1", "-0", "1.00000",
     "0.00001", "1234567890123456", "12345678901.2345", "NaN", "Infinity", "0E-7", "1e-7"],
)  # fmt: skip
def test_decimals_are_taken_only_when_plainly_valid(value: str) -> None:
    """A unit price is taken as it is only in plain digits within its digits and places;
    whatever is taken, validation takes the same way."""
    fields = {
        "line_id": "1", "quantity": Decimal("1"), "unit": "EA", "unit_price": Decimal(value),
        "product_ids": [ProductId(kind="upc", value="1")],
    }  # fmt: skip
    built = checked(PurchaseOrderLine, fields)
    if built is not None:
        _same(built, PurchaseOrderLine(**fields))
        assert "E" not in str(Decimal(value)) and not value.startswith("-")


#: Values to put in one field: of every type the models use, and the edges of each.
VALUES = st.one_of(
    st.text(alphabet=st.sampled_from("AZaz09 *~^>!\"&'()+,-./:;?=%@[]_{}\\|<#$\n\té"),
            max_size=90),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.builds(lambda digits, places, exponent: Decimal(f"{digits}{places}{exponent}"),
              st.sampled_from(["0", "1", "-1", "12", "-0", "999999999999999", "1234567890123456"]),
              st.sampled_from(["", ".", ".5", ".50", ".0001", ".00001", ".1234567"]),
              st.sampled_from(["", "E+1", "E-2", "E-9"])),
    st.integers(-5, 10**8), st.booleans(), st.none(), st.dates(),
    st.sampled_from(["upc", "asin", "EA", "CA", "PE", "92", "ZZ", "new", "USD", "usd",
                     "prepaid", "ship", "LB", "accepted", "rejected", "1", 1, 1.0, True]),
    st.sampled_from(SAMPLE), st.lists(st.sampled_from(SAMPLE), max_size=3),
)  # fmt: skip


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_changed_field_is_built_only_when_validation_gives_the_same(data: st.DataObject) -> None:
    """Put any value in any field of any golden instance: when checked builds the model,
    validation accepts the same fields and gives the same instance."""
    instance = data.draw(st.sampled_from(SAMPLE))
    fields = _given(instance)
    names = sorted({*type(instance).model_fields, "unknown"})
    name = data.draw(st.sampled_from(names))
    if data.draw(st.booleans()) and name in fields:
        del fields[name]
    else:
        fields[name] = data.draw(VALUES)
    built = checked(type(instance), fields)
    if built is None:
        return
    try:
        validated = type(instance)(**fields)
    except ValidationError as exc:
        raise AssertionError(f"built what validation refuses: {fields}") from exc
    _same(built, validated)


def test_every_document_type_is_known() -> None:
    """The fast path is tried on the documents of every type (the test data covers them)."""
    assert {type(d).__name__ for d in _golden_documents()} >= {
        m.__name__ for m in DOCUMENT_TYPES.values() if m.__name__ != "FunctionalAck"
    }


def test_the_builder_is_checked_without_the_dict() -> None:
    """Called directly, a model's builder gives what checked gives; a field passed NOT_GIVEN
    is one not passed (its default, out of the fields set)."""
    for instance in SAMPLE:
        model, fields = type(instance), _given(instance)
        built = builder(model)(**fields)
        if built is None:
            assert checked(model, fields) is None
            continue
        _same(built, model(**fields))
        absent = {name: NOT_GIVEN for name in model.model_fields if name not in fields}
        _same(builder(model)(**fields, **absent), model(**fields))


def test_a_builder_takes_only_the_fields_of_its_model() -> None:
    """An unknown field is a TypeError for the builder (checked answers None); a model left
    to validation has a builder that always answers None."""
    with pytest.raises(TypeError):
        builder(ProductId)(kind="upc", value="1", other=1)
    assert checked(ProductId, {"kind": "upc", "value": "1", "other": 1}) is None
    assert builder(Address)(name="ACME") is None


def _decimal_pattern(most_digits: int, most_places: int) -> str:
    """The regular expression the builders used for a Decimal's text."""
    plain = f"[0-9]{{1,{most_digits}}}"
    if most_places:
        plain += f"|(?=[0-9.]{{3,{most_digits + 1}}}$)[0-9]+\\.[0-9]{{1,{most_places}}}"
    return plain


#: Texts around every edge of the decimal test: lengths, points, signs, exponents, other
#: scripts' digits (which str.isdigit takes), blanks and line feeds.
DECIMAL_TEXTS = st.one_of(
    st.from_regex(r"[0-9]{0,30}(\.[0-9]{0,30})?", fullmatch=True),
    st.text(alphabet=st.sampled_from("0123456789..-+Ee \n\u0663\u00b2\uff11x"), max_size=34),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


@settings(max_examples=3000, deadline=None)
# From 2 digits: the expression's look-ahead {3,D+1} is not valid below (nor any Decimal
# with a point, which the test refuses as well).
@given(text=DECIMAL_TEXTS, most_digits=st.integers(2, 28), most_places=st.integers(0, 28))
def test_the_decimal_text_test_is_the_regular_expression(
    text: str, most_digits: int, most_places: int
) -> None:
    """The Decimal test inline in the builders answers as the regular expression did, for
    every text."""
    expected = re.fullmatch(_decimal_pattern(most_digits, most_places), text) is not None
    assert plain_decimal_test(most_digits, most_places)(text) is expected


@settings(max_examples=2000, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("Az09 -*~\n\u00e9\u0663\u00df\u00aa"), max_size=12))
def test_x12_text_is_the_regular_expression_without_blanks_at_the_ends(text: str) -> None:
    """is_x12_text (and its first test, letters and digits only, inline in the builders)
    answers as the extended character set's expression without leading or trailing blanks,
    also for letters and digits of other scripts."""
    expected = _TEXT.fullmatch(text) is not None and text == text.strip(" ")
    assert is_x12_text(text) is expected
