"""Bad input, on SQLite and on PostgreSQL (reliability.md G3 total input handling, G1, G2, G7).

* X12 that fails validation: the exchange is ``rejected`` with the reason, and the 997 sent
  to Amazon says AK5 R; nothing reaches the ERP.
* Bytes that are not X12: ``quarantined`` with the reason; no 997, nothing delivered.
* A bad ERP export (unknown field, a line not on the PO, a total a cent off): moved to
  ``rejected/`` beside ``<name>.errors.json`` listing JSON paths and messages; no control
  number consumed (the next good export gets the next number). Nothing leaves the outbox
  folder without a committed row.
* The same 850 file dropped twice is stored once; the same interchange (same ISA13) under
  another name is a ``duplicate``: answered with a 997 again, never delivered twice.
* A file still being written (``.tmp``/``.part``, hidden, or too fresh) is left alone.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from bench.corpus import MUTANTS
from gateway.transports import sha256_of
from tests.pipeline.pipeline_sim import (
    AmazonPartner,
    Erp,
    GatewayHome,
    make_home,
    process_here,
    process_until_quiet,
    read_store,
    visible_files,
)


def _inbound(home: GatewayHome) -> dict[str, Any]:
    return {e.file_name: e for e in read_store(home.database_url).exchanges
            if e.channel == "partner" and e.direction == "in"}  # fmt: skip


def _one_order(home: GatewayHome) -> tuple[AmazonPartner, Erp, Any]:
    """One PO delivered to the ERP (its 997 taken by Amazon)."""
    amazon, erp = AmazonPartner(home, seed=77), Erp(home)
    amazon.send_purchase_orders(1, max_lines=3)
    process_until_quiet(home)
    assert len(amazon.pick_up()) == 1
    (order,) = erp.take_orders()
    return amazon, erp, order


# -- inbound -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutant", "reason"),
    [("bad date in DTM02", "DTM"), ("mandatory BEG removed", "BEG"),
     ("SE01 count wrong", "SE")],
)  # fmt: skip
def test_an_850_failing_validation_is_rejected_with_its_reason_and_answered_ak5_r(
    gateway_home: GatewayHome, mutant: str, reason: str
) -> None:
    home = gateway_home
    amazon = AmazonPartner(home, seed=5)
    name, data, (po,) = amazon.purchase_order_interchange(1)
    broken = next(m for m in MUTANTS if m.name == mutant).mutate(data.decode("ascii"))
    amazon.drop(name, broken.encode("ascii"))

    figures = process_here(home)
    assert figures["files_received"] == 1 and figures["orders_delivered"] == 0

    exchange = _inbound(home)[name]
    assert exchange.state == "rejected"
    assert exchange.reason and reason in exchange.reason, exchange.reason
    (ack,) = amazon.pick_up()
    assert ack.set_ids == {"997"}
    (answer,) = ack.sets
    assert answer.key == f"PO:{int(name[11:20])}"
    assert answer.set_statuses == ("R",) and answer.accepted is False
    assert b"AK5*R" in ack.data and b"AK9*R" in ack.data
    assert visible_files(home.erp_inbox) == []  # nothing reaches the ERP
    assert not [d for d in read_store(home.database_url).documents if d.po_number == po]


@pytest.mark.parametrize(
    "junk",
    [b"%PDF-1.4\nnot an interchange\n", b"\x00\xff\xfe binary \x1c\x1d", b"ISA*00*short~",
     b""],
    ids=["text", "binary", "truncated-isa", "empty"],
)  # fmt: skip
def test_bytes_that_are_not_x12_are_quarantined_with_the_reason_and_get_no_997(
    gateway_home: GatewayHome, junk: bytes
) -> None:
    home = gateway_home
    amazon = AmazonPartner(home)
    amazon.drop("AMAZON_850_junk.edi", junk)

    figures = process_here(home)
    assert figures["files_received"] == 1 and figures["interchanges_sent"] == 0

    exchange = _inbound(home)["AMAZON_850_junk.edi"]
    assert exchange.state == "quarantined"
    assert exchange.reason and exchange.reason.startswith("not X12"), exchange.reason
    assert exchange.sha256 == sha256_of(junk)  # the evidence is kept as received
    assert amazon.pick_up() == []  # no 997 (nor TA1) for what is not X12
    assert visible_files(home.to_us) == [] and visible_files(home.erp_inbox) == []
    assert process_until_quiet(home)[0]["files_received"] == 0


def test_the_same_850_file_dropped_twice_is_stored_once(gateway_home: GatewayHome) -> None:
    home = gateway_home
    amazon, erp = AmazonPartner(home, seed=8), Erp(home)
    name, data, (po,) = amazon.purchase_order_interchange(1)
    amazon.drop(name, data)
    assert process_here(home)["files_received"] == 1
    amazon.drop(name, data)  # Amazon sends the file again (it missed our removal)
    figures = process_here(home)
    assert figures["files_received"] == 0 and figures["interchanges_processed"] == 0
    assert visible_files(home.to_us) == []  # removed again, not reprocessed

    rows = [e for e in read_store(home.database_url).exchanges if e.file_name == name]
    assert len(rows) == 1 and rows[0].state == "delivered"
    erp.take_orders()
    assert erp.received == [(f"amazon-{po}.json", po)]
    assert len(amazon.pick_up()) == 1  # one 997


def test_the_same_interchange_under_another_name_is_a_duplicate_answered_never_delivered(
    gateway_home: GatewayHome,
) -> None:
    home = gateway_home
    amazon, erp = AmazonPartner(home, seed=9), Erp(home)
    name, data, (po,) = amazon.purchase_order_interchange(1)
    amazon.drop(name, data)
    process_until_quiet(home)
    again = name.replace(".edi", "-resent.edi")
    amazon.drop(again, data)  # same ISA13, another file name
    figures = process_here(home)
    assert figures["files_received"] == 1 and figures["orders_delivered"] == 0
    assert figures["interchanges_sent"] == 1  # the duplicate is answered again

    inbound = _inbound(home)
    assert inbound[name].state == "delivered"
    assert inbound[again].state == "duplicate"
    erp.take_orders()
    assert erp.received == [(f"amazon-{po}.json", po)]  # delivered once
    acks = amazon.pick_up()
    assert [a.sets[0].key for a in acks] == [f"PO:{int(name[11:20])}"] * 2
    assert len({a.isa13 for a in acks}) == 2  # each answer with its own ISA13
    store_view = read_store(home.database_url)
    assert [d.po_number for d in store_view.documents if d.type == "purchase_order"] == [po]


def test_files_still_being_written_are_left_alone(tmp_path, database_url: str) -> None:
    # settle_seconds = 30: a complete-looking file modified just now is still being written.
    home = make_home(tmp_path / "home", database_url, settle_seconds=30)
    amazon, erp = AmazonPartner(home, seed=10), Erp(home)
    name, data, (po,) = amazon.purchase_order_interchange(1)
    partial = {
        home.to_us / f"{name}.tmp": data[:50], home.to_us / f"{name}.part": data,
        home.to_us / f".{name}": data, home.erp_outbox / "000001-855-x.json.tmp": b"{",
        home.erp_outbox / "000002-855-x.json.part": b'{"type"',
    }  # fmt: skip
    for path, content in partial.items():
        path.write_bytes(content)
    fresh = home.to_us / name
    fresh.write_bytes(data)  # complete, but modified within the settle time
    fresh_export = home.erp_outbox / "000003-855-y.json"
    fresh_export.write_bytes(b"{}")

    figures = process_here(home)
    assert figures["files_received"] == 0 and figures["exports_received"] == 0
    for path, content in partial.items():
        assert path.read_bytes() == content
    assert fresh.exists() and fresh_export.exists()
    assert read_store(home.database_url).exchanges == []

    # Once settled (modified 60 s ago), the complete files are taken; the others never.
    old = time.time() - 60
    for path in (fresh, fresh_export, *partial):
        os.utime(path, (old, old))
    figures = process_here(home)
    assert figures["files_received"] == 1 and figures["exports_received"] == 1
    for path, content in partial.items():
        assert path.read_bytes() == content
    erp.take_orders()
    assert erp.received == [(f"amazon-{po}.json", po)]


# -- the ERP outbox --------------------------------------------------------------------------


def _unknown_field(erp: Erp, order: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    document = json.loads(erp.acknowledgment(order).model_dump_json())
    document["colour"] = "red"
    return document, [("$.colour", "unknown field")]


def _wrong_line(erp: Erp, order: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    document = json.loads(erp.acknowledgment(order).model_dump_json())
    document["lines"][0]["line_id"] = "99"
    line = order.lines[0].line_id
    return document, [
        ("$.lines[0].line_id", f"line 99 is not on purchase order {order.po_number}"),
        ("$.lines", f"purchase order line {line} is not acknowledged; every line needs a status"),
    ]


def _cent_off(erp: Erp, order: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    invoice = erp.invoice(order)
    document = json.loads(invoice.model_dump_json())
    document["total"] = str(invoice.total + Decimal("0.01"))
    message = (f"total {invoice.total + Decimal('0.01')} differs from items + charges"
               f" - allowances + taxes = {invoice.total}")  # fmt: skip
    return document, [("$.total", message)]


@pytest.mark.parametrize("make_bad", [_unknown_field, _wrong_line, _cent_off],
                         ids=["unknown-field", "wrong-line", "total-cent-off"])  # fmt: skip
def test_a_bad_export_is_rejected_with_its_errors_file_and_uses_no_control_number(
    gateway_home: GatewayHome, make_bad: Any
) -> None:
    home = gateway_home
    amazon, erp, order = _one_order(home)  # the 997 of the 850 used ISA13 1 and GS06 1
    document, expected = make_bad(erp, order)
    bad = erp.export(erp.file_name("bad", order.po_number), document)

    figures = process_here(home)
    assert figures["exports_received"] == 1 and figures["exports_queued"] == 0
    assert figures["interchanges_sent"] == 0 and amazon.pick_up() == []
    assert visible_files(home.processing) == [] and visible_files(home.archive) == []
    assert sorted(p.name for p in visible_files(home.rejected)) == [bad, f"{bad}.errors.json"]
    errors = json.loads((home.rejected / f"{bad}.errors.json").read_text(encoding="utf-8"))
    assert errors["file"] == bad
    found = [(p["path"], p["message"]) for p in errors["problems"]]
    for problem in expected:
        assert problem in found, found
    assert all(p["severity"] == "error" for p in errors["problems"])
    view = read_store(home.database_url)
    (row,) = [e for e in view.exchanges if e.file_name == bad]
    assert row.state == "rejected" and row.id == errors["exchange"]
    assert view.counters == {"amazon.isa13": 1, "amazon.gs06": 1}  # nothing consumed

    # The next good export gets the very next numbers.
    good = erp.export_documents(order, ["855"])[0]
    assert process_here(home)["interchanges_sent"] == 1
    (sent,) = amazon.pick_up()
    assert sent.isa13 == "000000002" and sent.gs06 == ("2",)
    assert sent.sets[0].set_id == "855" and sent.sets[0].key == order.po_number
    assert [p.name for p in visible_files(home.archive)] == [good]


def test_nothing_leaves_the_outbox_without_a_committed_row(gateway_home: GatewayHome) -> None:
    home = gateway_home
    _amazon, erp, order = _one_order(home)
    erp.export_documents(order)
    erp.export(erp.file_name("bad", "x"), b"{ not json")
    erp.export(erp.file_name("bad", "y"), {"type": "purchase_order"})
    process_until_quiet(home)

    view = read_store(home.database_url)
    rows = Counter((e.file_name, e.sha256) for e in view.exchanges if e.channel == "erp")
    filed = [p for p in visible_files(home.archive) + visible_files(home.rejected)
             if not p.name.endswith(".errors.json")]  # fmt: skip
    assert len(filed) == 5
    for path in filed:
        assert rows[(path.name, sha256_of(path.read_bytes()))] == 1, path.name
    states = {e.file_name: e.state for e in view.exchanges if e.channel == "erp"}
    assert sorted(states.values()) == ["rejected", "rejected", "rendered", "rendered", "rendered"]
    assert visible_files(home.erp_outbox) == [] and visible_files(home.processing) == []
