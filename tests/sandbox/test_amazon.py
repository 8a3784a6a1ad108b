"""The simulated Amazon over its SFTP stand-in (a folder pair): it sends a scenario's 850 and
answers what the vendor publishes like Amazon would: a good 855 with an accepting 997; an 855
missing a line, an 856 with a bad SSCC check digit and an 810 off by a cent each with a
rejecting 997 that names the segment and element at fault."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.mapping import render
from gateway.sandbox import erp as vendor_erp
from gateway.sandbox.amazon import SimulatedAmazon, Vendor
from gateway.sandbox.scenarios import load_scenarios
from gateway.x12 import Party, parse, serialize

VENDOR = ("ZZ", "ACMEVENDOR")


@pytest.fixture
def amazon(tmp_path: Path) -> Iterator[SimulatedAmazon]:
    simulated = SimulatedAmazon(tmp_path / "amazon", Vendor(
        "ACMEVENDOR", VENDOR, to_vendor=tmp_path / "to-vendor",
        from_vendor=tmp_path / "from-vendor"))  # fmt: skip
    yield simulated
    simulated.pipeline.store.dispose()


def publish(amazon: SimulatedAmazon, document: Any, isa13: int) -> None:
    """The vendor publishes one document for Amazon, as its gateway would."""
    interchange = render(document, sender=Party(*VENDOR), receiver=Party("ZZ", "AMAZON"),
                         interchange_control_number=isa13, group_control_number=isa13,
                         when=datetime.now(UTC), usage="T")  # fmt: skip
    assert amazon.vendor.from_vendor is not None
    (amazon.vendor.from_vendor / f"ACME_{isa13}.edi").write_bytes(serialize(interchange))


def answers(amazon: SimulatedAmazon) -> list[dict[str, Any]]:
    """The 997s Amazon published for the vendor, read back segment by segment."""
    assert amazon.vendor.to_vendor is not None
    found = []
    for path in sorted(amazon.vendor.to_vendor.glob("*_997_*")):
        [txn] = [t for i in parse(path.read_bytes()).interchanges for g in i.groups
                 for t in g.transactions]  # fmt: skip
        segments = [s for s in txn.segments]
        found.append({"ak5": [s.text(1) for s in segments if s.tag == "AK5"],
                      "ak9": next(s.text(1) for s in segments if s.tag == "AK9"),
                      "ak3": [(s.text(1), s.text(2)) for s in segments if s.tag == "AK3"],
                      "ak4": [(s.text(1), s.text(3), s.text(4)) for s in segments
                              if s.tag == "AK4"]})  # fmt: skip
    return found


def test_amazon_sends_its_850_and_accepts_a_good_855_over_the_folder_pair(
    amazon: SimulatedAmazon,
) -> None:
    today = datetime.now(UTC).date()
    [scenario, *_] = load_scenarios(today=today, demo_only=True)
    order = scenario.purchase_order
    amazon.send_purchase_orders([order])
    assert amazon.vendor.to_vendor is not None
    [sent] = list(amazon.vendor.to_vendor.glob("*_850_*"))
    [txn] = [t for i in parse(sent.read_bytes()).interchanges for g in i.groups
             for t in g.transactions]  # fmt: skip
    assert {s.tag: s for s in txn.segments}["BEG"].text(3) == order.po_number
    publish(amazon, vendor_erp.acknowledgment(order, scenario.decisions, today=today), 501)
    [seen] = amazon.answer()
    assert seen.sets == ["855"] and seen.accepted
    assert answers(amazon) == [{"ak5": ["A"], "ak9": "A", "ak3": [], "ak4": []}]


def _bad_855(order: Any, today: Any) -> Any:
    ack = vendor_erp.acknowledgment(order, today=today)
    return ack.model_copy(update={"lines": ack.lines[:-1]})


def _bad_856(order: Any, today: Any) -> Any:
    good = vendor_erp.sscc(7)
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    ack = vendor_erp.acknowledgment(order, today=today)
    return vendor_erp.ship_notice(order, ack, iter([wrong, *[vendor_erp.sscc(n)
                                                            for n in range(8, 20)]]),
                                  today=today)  # fmt: skip


def _bad_810(order: Any, today: Any) -> Any:
    invoice = vendor_erp.invoice(order, vendor_erp.acknowledgment(order, today=today),
                                 today=today)  # fmt: skip
    return invoice.model_copy(update={"total": invoice.total + Decimal("0.01")})


@pytest.mark.parametrize(
    ("make", "segment", "element", "code"),
    [(_bad_855, "CTT", "1", "7"), (_bad_856, "MAN", "2", "7"), (_bad_810, "TDS", "1", "7")],
    ids=["855-missing-a-line", "856-bad-sscc-check-digit", "810-total-off-by-a-cent"],
)
def test_amazon_rejects_a_bad_document_with_a_997_naming_the_error(
    amazon: SimulatedAmazon, make: Any, segment: str, element: str, code: str
) -> None:
    today = datetime.now(UTC).date()
    [scenario, *_] = load_scenarios(today=today, demo_only=True)
    amazon.send_purchase_orders([scenario.purchase_order])
    publish(amazon, make(scenario.purchase_order, today), 601)
    [seen] = amazon.answer()
    assert not seen.accepted and seen.verdict is not None and seen.verdict.problems
    [ack] = answers(amazon)
    assert ack["ak5"] == ["R"] and ack["ak9"] == "R"
    assert [s for s, _ in ack["ak3"]] == [segment]
    [(position, error, _copy)] = ack["ak4"]
    assert (position, error) == (element, code)
