"""``acorn po status PO`` on a store filled by a real chain: the 850 (when, which exchange,
ISA13/GS06/ST02, delivered or not) and our 997 for it; each 855/856/810 with its
interchange, send state and Amazon's 997; what is due (the 855 deadline with the time left
or how late it is, whether an 856 and an 810 exist); exit 1 for an unknown PO; ``acorn
chain`` still answers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from gateway.cli import main
from gateway.cli.po import span
from gateway.store import Store, utcnow
from tests.pipeline.pipeline_sim import (
    AmazonPartner,
    Erp,
    GatewayHome,
    make_home,
    process_until_quiet,
)


@dataclass
class Orders:
    """PO ``answered`` has its 855, 856 and 810 sent and acknowledged by Amazon; ``waiting``
    has nothing yet (its 855 is due); ``late`` arrived 30 hours ago without an 855."""

    home: GatewayHome
    answered: str
    waiting: str
    late: str

    @property
    def config(self) -> str:
        return str(self.home.config)


@pytest.fixture(scope="module")
def orders(tmp_path_factory: pytest.TempPathFactory) -> Orders:
    root = tmp_path_factory.mktemp("po")
    home = make_home(root / "home", f"sqlite:///{root / 'acorn.db'}")
    amazon, erp = AmazonPartner(home, seed=41), Erp(home)
    answered, waiting, late = amazon.send_purchase_orders(3)
    process_until_quiet(home)
    amazon.pick_up()
    taken = {o.po_number: o for o in erp.take_orders()}
    erp.export_documents(taken[answered])
    process_until_quiet(home)
    amazon.exchange()
    process_until_quiet(home)
    store = Store(home.database_url)
    with store.transaction() as tx:
        tx._s.execute(text("UPDATE documents SET created_at = :at WHERE po_number = :po"),
                      {"at": utcnow() - timedelta(hours=30), "po": late})  # fmt: skip
    store.dispose()
    return Orders(home, answered, waiting, late)


def acorn(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_po_status_shows_the_850_our_997_each_answer_with_amazons_997_and_nothing_due(
    orders: Orders, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = acorn(capsys, "po", "status", orders.answered, "--config", orders.config)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"PO {orders.answered} (amazon)"
    assert re.match(r"  850  received \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d in exchange \d+ "
                    r"\(AMAZON_850_000001000\.edi, delivered\)", lines[1])  # fmt: skip
    assert re.match(r"\s+ISA13 000001000  GS06 1000  ST02 0001$", lines[2])
    assert "ERP: delivered" in lines[3] and f"amazon-{orders.answered}.json" in lines[3]
    assert re.match(r"\s+our 997: exchange \d+ sent \(ISA13 0+1, AK9 A\)$", lines[4])
    for set_id in ("855", "856", "810"):
        (head,) = [i for i, line in enumerate(lines) if line.startswith(f"  {set_id}  ")]
        assert re.match(r"\s+exchange \d+ ISA13 \d{9} sent  997: accepted \(exchange \d+\)$",
                        lines[head + 1]), lines[head + 1]  # fmt: skip
    due = lines[lines.index("due") + 1:]
    assert [line.split()[0] for line in due] == ["855", "856", "810"]
    assert all(" sent (exchange " in line and "997 accepted" in line for line in due)


def test_po_status_json_is_one_object_with_the_chain_and_what_is_due(
    orders: Orders, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = acorn(capsys, "po", "status", orders.answered, "--config", orders.config,
                         "--json")  # fmt: skip
    assert code == 0
    status = json.loads(out)
    assert status["po_number"] == orders.answered and status["partners"] == ["amazon"]
    types = [d["type"] for d in status["documents"]]
    assert types == ["purchase_order", "po_acknowledgment", "ship_notice", "invoice"]
    order = status["documents"][0]
    assert (order["isa13"], order["gs06"], order["st02"]) == ("000001000", "1000", "0001")
    assert order["delivered_at"] and order["po_ack_state"] == "acknowledged"
    (our_997,) = order["our_997"]
    assert our_997["state"] == "sent" and our_997["ak9"] == "A"
    for answer in status["documents"][1:]:
        (sent,) = answer["sent"]
        assert sent["state"] == "sent" and sent["acknowledgment"]["status"] == "accepted"
        assert sent["acknowledgment"]["exchange"] and sent["as2"] is None
    assert {k: v["state"] for k, v in status["due"].items()} == {
        "855": "sent", "856": "sent", "810": "sent"}
    assert status["due"]["855"]["ack"] == "accepted"


def test_po_status_of_a_waiting_po_says_when_its_855_is_due_and_that_nothing_else_exists(
    orders: Orders, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = acorn(capsys, "po", "status", orders.waiting, "--config", orders.config)
    assert code == 0
    assert re.search(r"855 acknowledgment\s+due by \S+ \(23h \d+m left\)", out), out
    assert re.search(r"856 ship notice\s+none yet", out)
    assert re.search(r"810 invoice\s+none yet", out)
    code, out, _ = acorn(capsys, "po", "status", orders.waiting, "--config", orders.config,
                         "--json")  # fmt: skip
    due = json.loads(out)["due"]["855"]
    deadline = datetime.fromisoformat(due["deadline"])
    assert due["state"] == "due" and 23 * 3600 < due["seconds_left"] <= 24 * 3600
    assert abs((deadline - utcnow()).total_seconds() - due["seconds_left"]) < 60


def test_po_status_of_a_po_without_855_past_its_deadline_says_how_late(
    orders: Orders, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = acorn(capsys, "po", "status", orders.late, "--config", orders.config)
    assert code == 0
    assert re.search(r"855 acknowledgment\s+late by 6h \d+m \(deadline \S+\)", out), out


def test_po_status_of_an_unknown_po_exits_1(
    orders: Orders, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = acorn(capsys, "po", "status", "NOSUCHPO", "--config", orders.config)
    assert code == 1 and out == "" and "no document for PO NOSUCHPO" in err
    code, out, _ = acorn(capsys, "po", "status", "NOSUCHPO", "--config", orders.config, "--json")
    assert code == 1 and json.loads(out) == {"po_number": "NOSUCHPO", "documents": []}
    code, _, _ = acorn(capsys, "po", "status", "--config", orders.config)
    assert code == 2


def test_acorn_chain_still_answers_with_the_same_documents(
    orders: Orders, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = acorn(capsys, "chain", orders.answered, "--config", orders.config, "--json")
    assert code == 0
    chain = json.loads(out)
    assert [d["type"] for d in chain["documents"]] == [
        "purchase_order", "po_acknowledgment", "ship_notice", "invoice"]
    assert chain["documents"][1]["sent"][0]["envelopes"][0]["group_ack"] == "accepted"
    code, out, _ = acorn(capsys, "chain", orders.answered, "--config", orders.config)
    assert code == 0 and out.startswith("purchase_order")


@pytest.mark.parametrize("command", [["po"], ["po", "status"]])
def test_po_commands_have_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = acorn(capsys, *command, "--help")
    assert code == 0 and out.startswith("usage: acorn " + " ".join(command))
    if command == ["po", "status"]:
        assert "--json" in out and "--config" in out and "--partner" in out


def test_durations_read_as_people_write_them() -> None:
    assert [span(s) for s in (30, 12 * 60, 5 * 3600 + 12 * 60, -(26 * 3600))] == [
        "under a minute", "12m", "5h 12m", "1d 2h"]
