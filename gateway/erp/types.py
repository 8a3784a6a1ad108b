"""Field types shared by the ERP documents: X12-safe text, money, quantities, codes.

The ERP documents are the contract with the ERP; every value in them must be something the
gateway can put into X12 and read back unchanged. So text is restricted, at validation
time and with its JSON path, to the X12 004010 extended character set (X12.6 section 3.3:
``A-Z a-z 0-9`` and ``! " & ' ( ) + , - . / : ; ? = % @ [ ] _ { } \\ | < # $`` and space)
less the delimiters the gateway writes (``*`` element, ``>`` component, ``~`` segment,
``^`` repetition), without leading or trailing blanks, and within the X12 element's
maximum length. Money and quantities are :class:`~decimal.Decimal`, never float.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema

#: Characters of the X12 extended set that the gateway accepts in text (delimiters removed).
X12_TEXT_CHARACTERS = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    "!\"&'()+,-./:;?=%@[]_{}\\|<#$ "
)
_TEXT = re.compile("[" + re.escape(X12_TEXT_CHARACTERS) + "]*")
#: The same rule for the JSON Schema: anchored (JSON Schema patterns search), escaping only
#: what an ECMA-262 character class needs (``\\``, ``[``, ``]``; ``-`` placed last).
_TEXT_SCHEMA_PATTERN = "^[A-Za-z0-9!\"&'()+,./:;?=%@\\[\\]_{}\\\\|<#$ -]*$"

#: Every ERP model refuses unknown fields and is immutable.
MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


def is_x12_text(value: str) -> bool:
    """Whether ``value`` can travel in an X12 text element as it is: only characters of the
    extended set less the delimiters, and no leading or trailing blank."""
    if value.isalnum() and value.isascii():
        # Letters and digits only, the usual identifier: allowed, and no blank at either end.
        return True
    # Stripping every allowed character leaves nothing exactly when _TEXT matches the whole
    # value, and is several times cheaper than the regular expression.
    return not value.strip(X12_TEXT_CHARACTERS) and value == value.strip(" ")


def _x12_text(value: str) -> str:
    if is_x12_text(value):
        return value
    if _TEXT.fullmatch(value) is None:
        bad = next(c for c in value if c not in X12_TEXT_CHARACTERS)
        raise ValueError(
            f"character {bad!r} cannot be sent in X12 (allowed: letters, digits, space and"
            f" {X12_TEXT_CHARACTERS[62:-1]})"
        )
    if value != value.strip(" "):
        raise ValueError("leading or trailing blanks are not kept by X12")
    return value


def Text(max_length: int, min_length: int = 1) -> Any:
    """A string that fits an X12 AN element of ``min_length``..``max_length`` characters."""
    return Annotated[
        str,
        Field(
            min_length=min_length,
            max_length=max_length,
            json_schema_extra={"pattern": _TEXT_SCHEMA_PATTERN},
        ),
        AfterValidator(_x12_text),
    ]


def _decimal(value: Any) -> Any:
    """JSON numbers arrive as floats: take them by their shortest repr (what was written),
    refuse those with more digits than a float keeps, and refuse booleans."""
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true/false")
    if isinstance(value, float):
        text = repr(value)
        digits = len(text.replace("-", "").replace(".", "").lstrip("0"))
        if "e" in text or "inf" in text or "nan" in text or digits > 15:
            raise ValueError(f"{text} is not exact as a JSON number; send it as a string")
        return Decimal(text)
    if isinstance(value, str):
        try:
            Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
        if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
            raise ValueError(f"{value!r} must be written as digits with an optional decimal point")
    return value


_DECIMAL_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"},
            {"type": "number"},
        ]
    }
)


def check_places(value: Decimal, places: int) -> Decimal:
    """``value`` when it is finite with at most ``places`` significant decimal places
    (``1.500`` fits 1); else ValueError."""
    if not value.is_finite():
        raise ValueError("must be a finite number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places and value != value.quantize(
        Decimal(1).scaleb(-places)
    ):
        raise ValueError(f"at most {places} decimal places")
    return value


def _places(places: int) -> Any:
    # A partial, not a closure, so that gateway.erp.checked can read ``places`` back.
    return AfterValidator(partial(check_places, places=places))


#: A money amount: up to 4 decimal places (unit prices), not negative.
Money = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0, max_digits=15), _places(4),
                  _DECIMAL_SCHEMA]  # fmt: skip
#: A money amount in whole cents (X12 N2 elements such as TDS01 and SAC05), not negative.
Cents = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0, max_digits=15), _places(2),
                  _DECIMAL_SCHEMA]  # fmt: skip
#: A quantity: not negative, up to 3 decimal places (X12 R, e.g. weights).
Quantity = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0, max_digits=15), _places(3),
                     _DECIMAL_SCHEMA]  # fmt: skip

#: An X12 unit of measure code (element 355) the maps accept: ``EA`` each, ``CA`` case,
#: ``CT`` carton, ``PK`` package, ``BX`` box, ``DZ`` dozen, ``PL`` pallet, ``UN`` unit,
#: ``KT`` kit, ``PR`` pair, ``ST`` set, ``LB`` pound, ``KG`` kilogram, ``GR`` gram.
UnitOfMeasure = Literal[
    "EA", "CA", "CT", "PK", "BX", "DZ", "PL", "UN", "KT", "PR", "ST", "LB", "KG", "GR"
]
#: Unit price basis (PO105 / IT105, element 639) the maps accept: ``PE`` per each, ``NT``
#: net, ``RE`` retail, ``CA`` per case, ``CT`` per carton, ``TE`` per ton, ``UM`` per unit
#: of measure, ``QT`` quoted, ``DI`` distributor, ``NC`` no charge, ``HP`` per hundred,
#: ``PP`` per pound, ``WE`` wholesale each.
PriceBasis = Literal[
    "PE", "RE", "NT", "CA", "CT", "TE", "UM", "QT", "DI", "NC", "HP", "PP", "WE"
]
#: A currency code (ISO 4217), e.g. ``USD``.
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
#: A Standard Carrier Alpha Code: 2 to 4 upper-case letters.
Scac = Annotated[str, Field(pattern=r"^[A-Z]{2,4}$")]
#: An SSCC-18, with or without the GS1-128 application identifier ``00`` (20 digits).
Sscc = Annotated[str, Field(pattern=r"^(00)?[0-9]{18}$")]
