"""GTIN, ISBN and SSCC check digits on public examples, every one-digit mutation of them,
and the problems reported per product id kind."""

from __future__ import annotations

import pytest

from gateway.erp import ProductId
from gateway.rules.check_digits import (
    gs1_check_digit,
    gtin_valid,
    isbn10_check_character,
    isbn_valid,
    product_id_problems,
    sscc_key,
    sscc_valid,
)
from tests.rules.rules_builders import found

#: Public examples: U.P.C.-A of a Gillette product (Wikipedia "Universal Product Code"),
#: EAN-13 of a Faber-Castell pencil and EAN-8 (Wikipedia "International Article Number"),
#: GS1's GTIN-14 sample, GS1 US's zero-padded GTIN-14.
GTINS = ["036000291452", "4006381333931", "96385074", "10012345678902", "00012345600012"]
#: ISBN-13 and ISBN-10 of the same book (Wikipedia "ISBN"), two ISBN-10 ending in X, and
#: an ISBN-13 in the 979 prefix.
ISBNS = ["9780306406157", "0306406152", "080442957X", "097522980X", "9791090636071"]
#: GS1's SSCC example, bare and with the ``00`` application identifier.
SSCCS = ["106141411234567897", "00106141411234567897"]


def mutations(code: str, alphabet: str = "0123456789") -> list[str]:
    """Every code that differs from ``code`` in exactly one character (from ``alphabet``)."""
    return [
        code[:i] + c + code[i + 1 :] for i in range(len(code)) for c in alphabet if c != code[i]
    ]


def test_gs1_check_digit_of_the_examples() -> None:
    """The GS1 mod-10 digit (weights 3, 1 from the right) of each example body is its last
    digit, computed by hand for the U.P.C.: 0*3+3+6*3+0+0*3+0+2*3+9+1*3+4+5*3 = 58 -> 2."""
    assert gs1_check_digit("03600029145") == 2
    for code in [*GTINS, SSCCS[0]]:
        assert gs1_check_digit(code[:-1]) == int(code[-1])


@pytest.mark.parametrize("code", GTINS)
def test_gtin_examples_are_valid(code: str) -> None:
    """The public GTIN-8/12/13/14 examples pass."""
    assert gtin_valid(code)


@pytest.mark.parametrize("code", GTINS)
def test_every_one_digit_mutation_of_a_gtin_fails(code: str) -> None:
    """GS1 mod 10 catches every single-digit substitution (weights 1 and 3 are prime to 10)."""
    assert not any(gtin_valid(m) for m in mutations(code))


@pytest.mark.parametrize(
    "code",
    ["03600029145", "0360002914521", "036000291452 ", "03600O291452", "", "123456789012345",
     "0360-0029145", "\uff1036000291452"],
)  # fmt: skip
def test_gtin_of_wrong_length_or_characters_fails(code: str) -> None:
    """Only 8, 12, 13 or 14 ASCII digits (a full-width digit is not one)."""
    assert not gtin_valid(code)


@pytest.mark.parametrize("code", ISBNS)
def test_isbn_examples_are_valid(code: str) -> None:
    """ISBN-13 (978 and 979) and ISBN-10 (digit and X check characters) examples pass."""
    assert isbn_valid(code)


@pytest.mark.parametrize("code", ISBNS)
def test_every_one_character_mutation_of_an_isbn_fails(code: str) -> None:
    """Mod 11 (weights 10..1, 11 prime) and GS1 mod 10 catch every single substitution,
    including X put in place of a digit or a digit in place of X."""
    assert not any(isbn_valid(m) for m in mutations(code, "0123456789X"))


def test_isbn10_check_character() -> None:
    """The ISBN-10 check character, X standing for ten."""
    assert isbn10_check_character("030640615") == "2"
    assert isbn10_check_character("080442957") == "X"


@pytest.mark.parametrize(
    "code",
    ["4006381333931", "9770306406156", "080442957x", "0-306-40615-2", "030640615", "X306406152"],
)
def test_isbn_outside_the_isbn_forms_fails(code: str) -> None:
    """A valid EAN-13 outside 978/979 is not an ISBN; a lower-case x, hyphens, a short code
    or an X not in last place are refused."""
    assert not isbn_valid(code)


@pytest.mark.parametrize("code", SSCCS)
def test_sscc_examples_are_valid(code: str) -> None:
    """SSCC-18, bare or after the ``00`` application identifier."""
    assert sscc_valid(code)


def test_every_one_digit_mutation_of_an_sscc_fails() -> None:
    """Every substitution in the 18 digits fails in both forms; a 20-digit code must start
    with the ``00`` application identifier."""
    assert not any(sscc_valid(m) for m in mutations(SSCCS[0]))
    assert not any(sscc_valid(m) for m in mutations(SSCCS[1]))


def test_sscc_key_drops_the_application_identifier() -> None:
    """Both spellings of one SSCC have the same key."""
    assert sscc_key(SSCCS[1]) == sscc_key(SSCCS[0]) == SSCCS[0]


def ids(*pairs: tuple[str, str]) -> list[ProductId]:
    return [ProductId(kind=k, value=v) for k, v in pairs]  # type: ignore[arg-type]


def test_product_ids_of_each_kind_pass_with_their_valid_forms() -> None:
    """upc 12, ean 13, gtin14 14, case codes any GTIN length, isbn 10 or 13, upc_consumer
    11 (no check digit) or 12; ASINs and vendor numbers are not examined."""
    good = ids(
        ("upc", "036000291452"), ("ean", "4006381333931"), ("gtin14", "10012345678902"),
        ("upc_case", "036000291452"), ("upc_case", "10012345678902"),
        ("ean_case", "96385074"), ("isbn", "0306406152"), ("isbn", "9780306406157"),
        ("upc_consumer", "03600029145"), ("upc_consumer", "036000291452"),
        ("asin", "B00EXAMPLE"), ("vendor_item", "ACORN-1"), ("sku", "x"),
    )  # fmt: skip
    assert product_id_problems(good, "$.lines[0].product_ids") == []


def test_wrong_check_digit_is_an_error_at_the_value() -> None:
    """A one-digit typo is ``check_digit`` at ``...product_ids[i].value``, naming the
    expected digit."""
    problems = product_id_problems(
        ids(("asin", "B00EXAMPLE"), ("upc", "036000291453")), "$.lines[3].product_ids"
    )
    assert found(problems) == [("$.lines[3].product_ids[1].value", "check_digit", "error")]
    assert "expected 2" in problems[0].message


def test_isbn10_wrong_check_character_names_the_expected_one() -> None:
    """ISBN-10 with a wrong check character: the message gives the right one."""
    (problem,) = product_id_problems(ids(("isbn", "0804429570")), "$.p")
    assert (problem.path, problem.code) == ("$.p[0].value", "check_digit")
    assert "expected X" in problem.message


@pytest.mark.parametrize(
    ("kind", "value"),
    [("upc", "4006381333931"), ("ean", "036000291452"), ("gtin14", "4006381333931"),
     ("upc_case", "12345"), ("isbn", "4006381333931"), ("isbn", "03064061X2"),
     ("upc_consumer", "0360002914"), ("upc", "03600029145A")],
)  # fmt: skip
def test_wrong_length_or_form_is_product_id_format(kind: str, value: str) -> None:
    """A valid GTIN of the wrong length for its kind, a non-ISBN EAN as ISBN, letters:
    ``product_id_format``, an error."""
    problems = product_id_problems(ids((kind, value)), "$.items[0].product_ids")
    assert found(problems) == [("$.items[0].product_ids[0].value", "product_id_format", "error")]


def test_upc_consumer_of_12_digits_is_checked() -> None:
    """A 12-digit upc_consumer value is a U.P.C.-A and its check digit counts."""
    problems = product_id_problems(ids(("upc_consumer", "036000291453")), "$.p")
    assert found(problems) == [("$.p[0].value", "check_digit", "error")]


def test_identifiers_amazon_sent_are_only_warned_about() -> None:
    """An identifier in ``known`` (sent on the PO line) must be echoed as sent: its bad
    check digit is a warning; another bad one beside it stays an error."""
    sent = ids(("upc", "036000291453"))
    problems = product_id_problems(
        [*sent, *ids(("ean", "4006381333932"))], "$.lines[0].product_ids", known=sent
    )
    assert found(problems) == [
        ("$.lines[0].product_ids[0].value", "check_digit", "warning"),
        ("$.lines[0].product_ids[1].value", "check_digit", "error"),
    ]
