"""End to end on the folder transport, on SQLite and on PostgreSQL (issue 4, first line).

Amazon sends 100 850s; the ERP gets 100 PO files and Amazon 100 997s. The ERP exports an
855, an 856 and an 810 for every PO; Amazon gets 300 interchanges with unique, strictly
increasing control numbers and answers each with a 997; every outbound group ends
acknowledged and ``acorn chain PO`` shows each PO with its three answers and their 997s.
"""

from __future__ import annotations

from collections import Counter

from tests.pipeline.pipeline_sim import (
    NON_TERMINAL_STATES,
    OUR_ID,
    PARTNER_ID,
    AmazonPartner,
    Erp,
    GatewayHome,
    chain_json,
    process_until_quiet,
    read_store,
    run_acorn,
    visible_files,
)

ORDERS = 100
DOCUMENT_TYPES = ("po_acknowledgment", "ship_notice", "invoice")
SET_OF_TYPE = {"po_acknowledgment": "855", "ship_notice": "856", "invoice": "810"}


def test_one_hundred_orders_travel_850_to_997_and_back_exactly_once(
    gateway_home: GatewayHome,
) -> None:
    home = gateway_home
    amazon, erp = AmazonPartner(home, seed=4), Erp(home)

    # -- 850s in: one PO file each to the ERP, one 997 each to Amazon ------------------
    po_numbers = amazon.send_purchase_orders(ORDERS)
    assert len(set(po_numbers)) == ORDERS
    inbound_isa13 = {f"{n:09d}" for n in range(1000, 1000 + ORDERS)}
    passes = process_until_quiet(home)
    assert passes[0]["files_received"] == ORDERS
    assert passes[0]["interchanges_processed"] == ORDERS
    assert passes[0]["orders_delivered"] == ORDERS
    assert passes[0]["interchanges_sent"] == ORDERS
    assert visible_files(home.to_us) == []  # every 850 was taken from Amazon's side

    orders = erp.take_orders()
    delivered = Counter(po for _name, po in erp.received)
    assert delivered == Counter(po_numbers)  # each PO exactly once, nothing else
    assert sorted(name for name, _po in erp.received) == sorted(
        f"amazon-{po}.json" for po in po_numbers
    )
    assert not list(home.erp_inbox.iterdir())  # no temporary file left behind

    acks_of_850s = amazon.pick_up()
    assert len(acks_of_850s) == ORDERS
    assert all(f.set_ids == {"997"} for f in acks_of_850s)
    assert all(f.sender == OUR_ID and f.receiver == PARTNER_ID for f in acks_of_850s)
    # One 997 per 850 group (AK1 PO + its GS06), accepting it (AK5 A, AK9 A).
    assert sorted(f.sets[0].key for f in acks_of_850s) == sorted(
        f"PO:{int(n)}" for n in inbound_isa13
    )
    assert all(f.sets[0].accepted and f.sets[0].set_statuses == ("A",) for f in acks_of_850s)
    assert amazon.acknowledge(acks_of_850s) == 0  # never a 997 for a 997

    # -- the ERP answers: 300 interchanges to Amazon ---------------------------------------
    for i, order in enumerate(orders):
        erp.export_documents(order, motor=i % 2 == 1)
    passes = process_until_quiet(home)
    assert passes[0]["exports_received"] == 3 * ORDERS
    assert passes[0]["exports_queued"] == 3 * ORDERS
    assert passes[0]["interchanges_sent"] == 3 * ORDERS
    assert visible_files(home.erp_outbox) == []
    assert visible_files(home.processing) == [] and visible_files(home.rejected) == []
    assert len(visible_files(home.archive)) == 3 * ORDERS

    documents = amazon.pick_up()
    assert len(documents) == 3 * ORDERS
    per_set = Counter(s.set_id for f in documents for s in f.sets)
    assert per_set == {"855": ORDERS, "856": ORDERS, "810": ORDERS}
    assert all(len(f.sets) == 1 for f in documents)
    keys = {(f.sets[0].set_id, f.sets[0].key) for f in documents}
    assert keys == (
        {("855", po) for po in po_numbers}
        | {("856", f"SH{po}") for po in po_numbers}
        | {("810", f"IN{po}") for po in po_numbers}
    )

    # Control numbers: unique, and strictly increasing in the order the files were sent.
    view = read_store(home.database_url)
    outbound = {i["exchange_id"]: i for i in view.outbound()}
    assert len(view.sent_order) == 4 * ORDERS == len(outbound)
    sent_isa13 = [int(outbound[e]["isa13"]) for e in view.sent_order]
    sent_gs06 = [int(g["gs06"]) for e in view.sent_order for g in outbound[e]["groups"]]
    assert sent_isa13 == sorted(set(sent_isa13)) == list(range(1, 4 * ORDERS + 1))
    assert sent_gs06 == sorted(set(sent_gs06))
    assert len(sent_gs06) == 4 * ORDERS
    received_isa13 = [int(f.isa13) for f in acks_of_850s + documents]
    assert sorted(received_isa13) == sent_isa13  # Amazon got each one, once

    # -- Amazon's 997s come back: everything acknowledged ---------------------------------
    assert amazon.acknowledge(documents) == 3 * ORDERS
    passes = process_until_quiet(home)
    assert passes[0]["files_received"] == 3 * ORDERS
    assert passes[0]["interchanges_processed"] == 3 * ORDERS
    assert passes[0]["interchanges_sent"] == 0  # no 997 for Amazon's 997s
    assert amazon.pick_up() == []

    view = read_store(home.database_url)
    groups = [g for i in view.outbound() for g in i["groups"]]
    assert Counter(g["gs01"] for g in groups) == {"FA": ORDERS, "PR": ORDERS, "SH": ORDERS,
                                                  "IN": ORDERS}  # fmt: skip
    assert {g["ack"] for g in groups if g["gs01"] != "FA"} == {"accepted"}
    assert {g["ack"] for g in groups if g["gs01"] == "FA"} == {None}  # a 997 waits for none
    states = Counter(e.state for e in view.exchanges)
    assert not NON_TERMINAL_STATES & set(states)
    assert states == {"delivered": ORDERS, "sent": 4 * ORDERS, "rendered": 3 * ORDERS,
                      "processed": 3 * ORDERS}  # fmt: skip
    assert {d.state for d in view.documents if d.type == "purchase_order"} == {"delivered"}
    assert {d.po_state for d in view.documents if d.type == "purchase_order"} == {
        "acknowledged"
    }

    # -- acorn chain PO shows each PO's chain with every 997 -----------------------------
    for po in po_numbers:
        chain = chain_json(home, po)
        assert chain["po_number"] == po
        types = [d["type"] for d in chain["documents"]]
        assert types == ["purchase_order", *DOCUMENT_TYPES]
        order = chain["documents"][0]
        assert order["state"] == "delivered" and order["po_ack_state"] == "acknowledged"
        assert [e["set_id"] for e in order["envelopes"]] == ["850"]
        for link in chain["documents"][1:]:
            assert link["state"] == "rendered"
            assert len(link["sent"]) == 1 and link["sent"][0]["state"] == "sent"
            envelopes = link["sent"][0]["envelopes"]
            assert [e["set_id"] for e in envelopes] == [SET_OF_TYPE[link["type"]]]
            assert envelopes[0]["group_ack"] == "accepted"
            assert envelopes[0]["ack"] == "accepted"
    # The real command line, once: exit 0 and the same chain.
    result = run_acorn("chain", po_numbers[0], "--config", str(home.config), "--json")
    assert result.returncode == 0, result.stderr
    assert '"group_ack": "accepted"' in result.stdout
