"""``acorn tx list|show|resend|reprocess`` on a store filled by a real chain (the Amazon and
ERP simulators through ``acorn process``): filters select the right rows, ``--json`` has
its documented shape, the raw X12 is printed one segment per line with the findings marked
beside their segment, nothing binary is printed raw, and the exit codes follow design.md
(0 ok; 1 not found or refused; 2 usage or configuration)."""

from __future__ import annotations

import importlib
import io
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.corpus import MUTANTS
from gateway.cli import main
from gateway.cli.tx import _Progress
from gateway.pipeline.operator import Outcome
from gateway.store import Store
from gateway.validation import MapSet
from tests.pipeline.pipeline_sim import (
    REPO,
    AmazonPartner,
    Erp,
    GatewayHome,
    make_home,
    process_until_quiet,
    read_store,
)

DTM = next(m for m in MUTANTS if m.name == "bad date in DTM02")
JUNK = b"\x00\xffbinary\x1b[31m junk\n"


@dataclass
class Chain:
    """A store with: three POs delivered (A fully answered 855/856/810 and acknowledged by
    Amazon, B with an 855, C with nothing), an 850 rejected for a bad DTM02, bytes that
    are not X12 (quarantined) and an export the gateway rejected."""

    home: GatewayHome
    po_a: str
    po_b: str
    po_c: str
    ids: dict[str, int]  # file name -> exchange id
    parents: dict[int, int | None]  # exchange id -> the exchange it was made from
    acked_by: dict[int, int]  # outbound exchange id -> Amazon's 997 exchange id
    broken: bytes

    def id(self, name: str) -> int:
        return self.ids[name]

    def children(self, of: set[int]) -> set[int]:
        """The exchanges made from those in ``of``."""
        return {i for i, parent in self.parents.items() if parent in of}

    @property
    def config(self) -> str:
        return str(self.home.config)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    root = tmp_path_factory.mktemp("tx")
    home = make_home(root / "home", f"sqlite:///{root / 'acorn.db'}")
    amazon, erp = AmazonPartner(home, seed=31), Erp(home)
    po_a, po_b, po_c = amazon.send_purchase_orders(3)
    name, data, _ = amazon.purchase_order_interchange(1)
    broken = DTM.mutate(data.decode("ascii")).encode("ascii")
    amazon.drop(name, broken)
    amazon.drop("AMAZON_junk.bin", JUNK)
    process_until_quiet(home)
    amazon.pick_up()
    orders = {o.po_number: o for o in erp.take_orders()}
    erp.export_documents(orders[po_a])
    erp.export_documents(orders[po_b], ["855"])
    erp.export("000099-810-bad.json", {"type": "invoice", "bogus": 1})
    process_until_quiet(home)
    amazon.exchange()
    process_until_quiet(home)
    view = read_store(home.database_url)
    store = Store(home.database_url)
    acked_by = {}
    with store.transaction() as tx:
        for exchange in view.exchanges:
            for interchange in tx.envelope_tree(exchange.id):
                for group in interchange.groups:
                    if group.ack_exchange_id:
                        acked_by[exchange.id] = group.ack_exchange_id
    store.dispose()
    return Chain(home, po_a, po_b, po_c, {e.file_name: e.id for e in view.exchanges},
                 {e.id: e.parent_id for e in view.exchanges}, acked_by, broken)  # fmt: skip


def acorn(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def listed(capsys: pytest.CaptureFixture[str], chain: Chain, *filters: str) -> set[int]:
    code, out, _ = acorn(capsys, "tx", "list", "--config", chain.config, "--json",
                         "--limit", "1000", *filters)  # fmt: skip
    assert code == 0
    document = json.loads(out)
    assert document["total"] == len(document["exchanges"])
    return {row["id"] for row in document["exchanges"]}


def _named(chain: Chain, pattern: str) -> set[int]:
    return {i for name, i in chain.ids.items() if re.fullmatch(pattern, name)}


# -- tx list ---------------------------------------------------------------------------------


def test_tx_list_prints_a_table_newest_first_with_sets_keys_and_a_page_footer(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = acorn(capsys, "tx", "list", "--config", chain.config)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ID", "CREATED", "(UTC)", "DIR"]
    ids = [int(line.split()[0]) for line in lines[1:-1]]
    assert ids == sorted(chain.ids.values(), reverse=True)
    assert lines[-1] == f"-- 1-{len(ids)} of {len(ids)}"
    order = chain.id("AMAZON_850_000001000.edi")
    row = next(line for line in lines if line.startswith(f"{order} "))
    assert " 850 " in row and " delivered " in row and "PO:" in row
    assert re.search(r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", row)  # UTC, to the second
    code, out, _ = acorn(capsys, "tx", "list", "--config", chain.config, "--limit", "3",
                         "--offset", "2")  # fmt: skip
    page = out.splitlines()
    assert [int(line.split()[0]) for line in page[1:-1]] == ids[2:5]
    assert page[-1] == f"-- 3-5 of {len(ids)}; --offset 5 for more"


def test_tx_list_json_is_one_document_with_the_exchanges_and_the_total(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = acorn(capsys, "tx", "list", "--config", chain.config, "--json", "--limit", "2")
    assert code == 0
    document = json.loads(out)
    assert document["total"] == len(chain.ids) and len(document["exchanges"]) == 2
    first = document["exchanges"][0]
    assert set(first) >= {"id", "created_at", "direction", "channel", "partner", "sets", "state",
                          "file_name", "po_numbers", "invoices", "shipments", "reason"}  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", first["created_at"])


def test_tx_list_filters_select_the_right_exchanges(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    everything = set(chain.ids.values())
    bad_export, junk = chain.id("000099-810-bad.json"), chain.id("AMAZON_junk.bin")
    rejected_850 = chain.id("AMAZON_850_000001003.edi")
    a, order_a = chain.po_a, chain.id("AMAZON_850_000001000.edi")
    exports_a = _named(chain, rf"\d+-(855|856|810)-{a}\.json")
    outbound_a = chain.children(exports_a)
    assert len(exports_a) == len(outbound_a) == 3
    amazon_997s_a = {chain.acked_by[i] for i in outbound_a}

    assert listed(capsys, chain, "--partner", "amazon") == everything - {bad_export}
    assert listed(capsys, chain, "--partner", "nobody") == set()
    assert listed(capsys, chain, "--set", "850") == _named(chain, r"AMAZON_850_\d+\.edi")
    assert listed(capsys, chain, "--set", "855") == (
        _named(chain, r"\d+-855-\d+\.json") | _named(chain, r"ACMEVENDOR_855_.*"))
    assert listed(capsys, chain, "--set", "810", "--channel", "erp") == _named(
        chain, rf"\d+-810-{a}\.json")
    assert listed(capsys, chain, "--state", "rejected") == {rejected_850, bad_export}
    assert listed(capsys, chain, "--state", "rejected", "--channel", "erp") == {bad_export}
    assert listed(capsys, chain, "--state", "rejected", "--state", "quarantined") == {
        rejected_850, bad_export, junk}
    assert listed(capsys, chain, "--direction", "out") == _named(chain, r"ACMEVENDOR_.*")
    assert listed(capsys, chain, "--since", "1h") == everything
    assert listed(capsys, chain, "--since", "2000-01-01T00:00:00+02:00") == everything
    assert listed(capsys, chain, "--since", "2999-01-01") == set()
    # A PO: its 850, our 997 for it, its exports, their interchanges and Amazon's 997s.
    assert listed(capsys, chain, "--po", a) == (
        {order_a} | chain.children({order_a}) | exports_a | outbound_a | amazon_997s_a)
    invoice = _named(chain, rf"\d+-810-{a}\.json")
    assert listed(capsys, chain, "--invoice", f"IN{a}") == (
        invoice | chain.children(invoice) | {chain.acked_by[i] for i in chain.children(invoice)})
    shipment = _named(chain, rf"\d+-856-{a}\.json")
    assert listed(capsys, chain, "--shipment", f"SH{a}") == (
        shipment | chain.children(shipment)
        | {chain.acked_by[i] for i in chain.children(shipment)})
    assert listed(capsys, chain, "--po", chain.po_c, "--direction", "in") == {
        chain.id("AMAZON_850_000001002.edi")}


@pytest.mark.parametrize(
    "args",
    [["--since", "yesterday"], ["--set", "85"], ["--direction", "sideways"], ["--limit", "0"],
     ["--offset", "-1"], ["--channel", "fax"]],
)  # fmt: skip
def test_tx_list_refuses_bad_options_with_exit_2(
    chain: Chain, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, out, err = acorn(capsys, "tx", "list", "--config", chain.config, *args)
    assert code == 2 and out == "" and "error" in err


def test_a_missing_configuration_is_exit_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["tx", "list"], ["tx", "show", "1"], ["tx", "resend", "1"],
                    ["tx", "reprocess", "1"], ["po", "status", "X"]):  # fmt: skip
        code, _, err = acorn(capsys, *command, "--config", str(tmp_path / "none.toml"))
        assert code == 2 and err.startswith("acorn: ") and "Traceback" not in err


# -- tx show ---------------------------------------------------------------------------------


def _rejected_850(chain: Chain) -> int:
    return chain.id("AMAZON_850_000001003.edi")


def test_tx_show_prints_the_x12_one_segment_per_line_with_the_finding_beside_its_segment(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange_id = _rejected_850(chain)
    code, out, _ = acorn(capsys, "tx", "show", str(exchange_id), "--config", chain.config)
    assert code == 0
    offset = chain.broken.index(b"DTM*064")
    (marked,) = [line for line in out.splitlines() if "<--" in line]
    assert re.match(rf"\s+\d+ @{offset}\s+DTM\*064\*20261341\s+<-- DTM\[\d+\] DTM02: ", marked)
    assert "invalid date" in marked and "'20261341'" in marked and "[AK403=8]" in marked
    segment = re.compile(r"\s+\d+ @\d+\s+[A-Z0-9]{2,3}\*")
    segments = [line for line in out.splitlines() if segment.match(line)]
    assert len(segments) == chain.broken.count(b"~")
    assert "state rejected" in out
    assert "\nenvelopes\n" in out and "ST 850 0001  rejected" in out
    assert "acknowledgment exchange" in out  # the 997 we sent for it

    code, out, _ = acorn(capsys, "tx", "show", str(exchange_id), "--config", chain.config,
                         "--json")  # fmt: skip
    view = json.loads(out)
    assert view["content"] == "x12"
    assert [line["n"] for line in view["x12"]] == list(range(1, len(view["x12"]) + 1))
    assert all(set(line) == {"n", "offset", "segment", "findings"} for line in view["x12"])
    assert all(chain.broken[line["offset"]:].startswith(line["segment"].encode())
               for line in view["x12"])  # fmt: skip
    (dtm,) = [line for line in view["x12"] if line["findings"]]
    assert dtm["offset"] == offset and dtm["findings"][0]["element_name"] == "DTM02"
    (interchange,) = view["envelopes"]
    assert interchange["groups"][0]["transactions"][0]["status"] == "rejected"
    assert view["exchange"]["state"] == "rejected" and "DTM" in view["exchange"]["reason"]
    assert [c["relation"] for c in view["linked"]["children"]] == ["acknowledgment"]
    assert view["timeline"][0]["event"] == "file_received"


def test_tx_show_of_a_delivered_850_has_its_purchase_order_and_our_997(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange_id = chain.id("AMAZON_850_000001000.edi")
    code, out, _ = acorn(capsys, "tx", "show", str(exchange_id), "--config", chain.config,
                         "--json")  # fmt: skip
    assert code == 0
    view = json.loads(out)
    (document,) = view["documents"]
    assert document["type"] == "purchase_order" and document["body"]["po_number"] == chain.po_a
    assert document["state"] == "delivered" and document["delivered_at"]
    (child,) = view["linked"]["children"]
    assert child["relation"] == "acknowledgment" and child["state"] == "sent"
    kinds = [event["event"] for event in view["timeline"]]
    assert kinds[0] == "file_received" and "delivered_to_erp" in kinds


def test_tx_show_of_an_outbound_855_names_its_export_and_the_997_that_acknowledged_it(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = min(_named(chain, r"ACMEVENDOR_855_.*"))
    code, out, _ = acorn(capsys, "tx", "show", str(sent), "--config", chain.config)
    assert code == 0
    assert f"997: accepted by exchange {chain.acked_by[sent]}" in out
    assert re.search(r"from\s+exchange \d+ \(rendered\): in erp rendered \d+-855-", out)
    code, out, _ = acorn(capsys, "tx", "show", str(chain.acked_by[sent]), "--config",
                         chain.config, "--json")  # fmt: skip
    (group,) = json.loads(out)["linked"]["acknowledges"]
    assert group["exchange_id"] == sent and group["ack_status"] == "accepted"


def test_tx_show_of_an_export_prints_pretty_json_and_a_rejected_one_its_problems(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = chain.id("000099-810-bad.json")
    code, out, _ = acorn(capsys, "tx", "show", str(bad), "--config", chain.config)
    assert code == 0
    assert '\nJSON\n  {\n    "type": "invoice",\n    "bogus": 1\n  }' in out
    assert "findings not tied to a segment" in out and "$." in out
    code, out, _ = acorn(capsys, "tx", "show", str(bad), "--config", chain.config, "--json")
    view = json.loads(out)
    assert view["content"] == "json" and view["json"] == {"type": "invoice", "bogus": 1}
    assert view["unlocated_findings"] and all("path" in p for p in view["unlocated_findings"])


def test_tx_show_never_prints_binary_raw(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    junk = chain.id("AMAZON_junk.bin")
    code, out, _ = acorn(capsys, "tx", "show", str(junk), "--config", chain.config)
    assert code == 0
    assert "\x00" not in out and "\x1b" not in out and "\udcff" not in out
    assert "\\x00\\xffbinary\\x1b[31m junk" in out
    code, out, _ = acorn(capsys, "tx", "show", str(junk), "--config", chain.config, "--json")
    assert json.loads(out)["text"] == "\\x00\\xffbinary\\x1b[31m junk\\n"


def test_tx_show_of_an_unknown_exchange_exits_1(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = acorn(capsys, "tx", "show", "99999", "--config", chain.config)
    assert code == 1 and out == "" and "no exchange 99999" in err
    code, _, err = acorn(capsys, "tx", "show", "x", "--config", chain.config)
    assert code == 2


@pytest.mark.parametrize(
    "command",
    [["tx"], ["tx", "list"], ["tx", "show"], ["tx", "resend"], ["tx", "reprocess"]],
)
def test_every_tx_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = acorn(capsys, *command, "--help")
    assert code == 0 and out.startswith("usage: acorn " + " ".join(command))
    assert "--config" in out or command == ["tx"]
    if command != ["tx"]:
        assert "--json" in out


# -- actions ---------------------------------------------------------------------------------


def test_tx_resend_copies_a_sent_exchange_refuses_an_inbound_one_and_sends_with_now(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = make_home(tmp_path / "home", f"sqlite:///{tmp_path / 'acorn.db'}")
    amazon = AmazonPartner(home, seed=32)
    amazon.send_purchase_orders(1)
    process_until_quiet(home)
    (ack,) = amazon.pick_up()
    rows = {e.file_name: e for e in read_store(home.database_url).exchanges}
    sent, inbound = rows[ack.name], rows["AMAZON_850_000001000.edi"]
    config = str(home.config)

    code, out, err = acorn(capsys, "tx", "resend", str(inbound.id), "--config", config)
    assert code == 1 and out == "" and "refused: only outbound partner exchanges" in err
    code, out, _ = acorn(capsys, "tx", "resend", str(sent.id), "--config", config, "--json",
                         "--now")  # fmt: skip
    assert code == 0
    document = json.loads(out)
    (copied,) = document["resent"]
    assert copied["action"] == "copied" and copied["state"] == "queued"
    assert document["refused"] == [] and document["pass"]["interchanges_sent"] == 1
    (again,) = amazon.pick_up()
    assert again.data == ack.data and again.name == ack.name.replace(".edi", ".resend-1.edi")
    code, out, err = acorn(capsys, "tx", "resend", str(copied["new_exchange"]), "99999",
                           "--config", config)  # fmt: skip
    assert code == 1
    assert "state sent" not in err and "no such exchange" in err
    assert f"exchange {copied['new_exchange']}: copied" in out


def test_tx_reprocess_filter_shows_progress_and_a_summary_and_exits_1_when_one_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = make_home(tmp_path / "home", f"sqlite:///{tmp_path / 'acorn.db'}")
    amazon, erp = AmazonPartner(home, seed=33), Erp(home)
    validate_module = importlib.import_module("gateway.validation.validate")
    maps = tmp_path / "maps"
    shutil.copytree(REPO / "maps", maps)
    map_850 = maps / "850.4010.xml"
    map_850.write_text(re.sub(r'(<element xid="BEG02">.*?<valid_codes>).*?(</valid_codes>)',
                              r"\1<code>ZZ</code>\2", map_850.read_text(), count=1,
                              flags=re.S))  # fmt: skip
    monkeypatch.setattr(validate_module, "_DEFAULT_MAPS", MapSet(maps))
    pos = amazon.send_purchase_orders(2)
    process_until_quiet(home)
    monkeypatch.setattr(validate_module, "_DEFAULT_MAPS", None)  # fixed
    (delivered_po,) = amazon.send_purchase_orders(1)
    process_until_quiet(home)
    config = str(home.config)

    code, _, err = acorn(capsys, "tx", "reprocess", "1", "--filter", "--config", config)
    assert code == 2 and "not both" in err
    code, _, err = acorn(capsys, "tx", "reprocess", "--config", config)
    assert code == 2
    code, _, err = acorn(capsys, "tx", "reprocess", "1", "--state", "rejected", "--config", config)
    assert code == 2 and "--filter" in err

    code, out, err = acorn(capsys, "tx", "reprocess", "--filter", "--partner", "amazon",
                           "--state", "rejected", "--state", "delivered",
                           "--config", config)  # fmt: skip
    assert code == 1
    progress = err.splitlines()
    assert [line.split()[0] for line in progress] == ["[1/3]", "[2/3]", "[3/3]"]
    assert sum("reprocessed: superseded by exchange" in line for line in progress) == 2
    assert sum("refused: state delivered" in line for line in progress) == 1
    assert out.startswith("reprocessed 2, refused 1 (of 3); the next `acorn process`")
    assert "refused: state delivered" in out  # listed again under the summary

    process_until_quiet(home)
    erp.take_orders()
    assert sorted(po for _, po in erp.received) == sorted([*pos, delivered_po])
    code, out, _ = acorn(capsys, "tx", "reprocess", "--filter", "--config", config, "--json",
                         "--now")  # fmt: skip
    assert code == 0 and json.loads(out) == {"reprocessed": [], "refused": [],
                                             "pass": json.loads(out)["pass"]}  # fmt: skip


def test_the_progress_bar_redraws_one_line_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = _Progress(2, stream)
    progress.step(Outcome(1, "reprocessed", "ok"))
    progress.step(Outcome(2, "refused", "no"))
    assert stream.getvalue() == (f"\r[{'#' * 10}{' ' * 10}] 1/2" f"\r[{'#' * 20}] 2/2\n")
