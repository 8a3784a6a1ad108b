"""The operator's dashboard over HTTP (uvicorn on loopback, ``http.client``), on a gateway
home where a real chain was driven with the pipeline simulators: the transaction log and
its filters and pages, the detail page (raw X12 with the findings beside their segments, the
JSON beside, envelopes, 997s, AS2 and MDN), the PO board, alerts and health; actions only
for admins and only with the session's CSRF token; partner data always escaped.

:func:`build_world` (also used by ``test_browser.py``) drives the chain: five POs from
Amazon over the folder transport and one over AS2, a damaged 850 (rejected), the ERP's
855/856/810 for one PO and an 855 for two more, an export the schema rejects, Amazon's
997s, a 997 that cannot be sent over AS2 (failed), and the 855 clocks (one PO late, one
due, one answered after its due alert, which clears it)."""

from __future__ import annotations

import html
import http.client
import json
import random
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import text

from bench.corpus import interchange, purchase_order_set
from gateway.config import load_config
from gateway.pipeline import Pipeline, run_once
from gateway.pipeline.as2_inbound import receive_message
from gateway.pipeline.reconcile import reconcile
from gateway.store import Store, utcnow
from gateway.transports.as2.cms import Signer
from gateway.transports.as2.message import build_message
from gateway.web import pages
from gateway.web.auth import hash_password
from gateway.web.pages import add_pages
from tests.pipeline.as2_sim import AMAZON_AS2, OUR_AS2, Served, listener
from tests.pipeline.pipeline_sim import (
    AmazonPartner,
    Erp,
    GatewayHome,
    make_home,
    process_here,
    process_until_quiet,
    read_store,
)
from tests.transports.as2.pki import make_identity

ADMIN, ADMIN_PASSWORD = "alice", "alice-admin-password"
READER, READER_PASSWORD = "bob", "bob-read-password"
HOSTILE = "<script>alert(1)</script>"
DASH, NEXT, PREVIOUS = "\u2013", "Next \u203a", "\u2039 Previous"  # as the pages print them
_HASHES = {ADMIN: hash_password(ADMIN_PASSWORD), READER: hash_password(READER_PASSWORD)}


# -- the world: a gateway home after a real chain ------------------------------------------


@dataclass(frozen=True)
class World:
    """A gateway home after :func:`build_world`, and what is where in it."""

    home: GatewayHome
    #: PO numbers: ``full`` (855, 856, 810 sent), ``acked`` (855 sent), ``late`` and
    #: ``due`` (no 855; received 26 h and 20 h ago), ``answered`` (its due alert cleared
    #: by its 855), ``as2`` (over AS2, no 855), ``damaged`` (the rejected 850's).
    po: dict[str, str]
    #: Exchange ids by name (see :func:`build_world`).
    ids: dict[str, int]
    invoice: str
    shipment: str

    def pipeline(self) -> Pipeline:
        config = load_config(self.home.config)
        return Pipeline(config=config, store=Store(config.gateway.database))


def _configure(home: GatewayHome) -> None:
    """A second partner over AS2 (with our station) and two operators: an admin and a
    read-only one."""
    keys = home.root / "keys"
    ours, theirs = make_identity(keys, "acme"), make_identity(keys, "amazon")
    home.config.write_text(home.config.read_text() + f"""
[[partners]]
name = "amazon-as2"
id = "ZZ:AMAZONAS2"
our_id = "ZZ:ACMEVENDOR"
transport = "as2"
[partners.as2]
as2_id = "{AMAZON_AS2}"
url = "http://127.0.0.1:9/as2"
certificates = [{json.dumps(str(theirs.cert_path))}]
max_attempts = 1
connect_timeout = 2

[as2]
as2_id = "{OUR_AS2}"
[as2.key]
certificate = {json.dumps(str(ours.cert_path))}
private_key = {json.dumps(str(ours.key_path))}

[[web.operators]]
name = "{ADMIN}"
role = "admin"
password_hash = "{_HASHES[ADMIN]}"

[[web.operators]]
name = "{READER}"
role = "read"
password_hash = "{_HASHES[READER]}"
""", encoding="utf-8")  # fmt: skip


def _as2_purchase_order(pipeline: Pipeline, home: GatewayHome) -> str:
    """Amazon's AS2 side posts a signed, encrypted 850 (handled as the /as2 endpoint
    does); returns its PO number."""
    keys = home.root / "keys"
    ours, theirs = make_identity(keys, "acme"), make_identity(keys, "amazon")
    segments = purchase_order_set(random.Random(7), 1, 2)
    payload = (interchange([segments], isa13=777, gs06=777).decode("ascii")
               .replace("ZZ*AMAZON         ", "ZZ*AMAZONAS2      ").encode("ascii"))  # fmt: skip
    message = build_message(
        payload, filename="as2-po.edi", our_id=AMAZON_AS2, partner_id=OUR_AS2,
        signer=Signer(theirs.certificate, theirs.key), signature="sha256",
        recipient=ours.certificate, encryption="aes256-cbc",
    )  # fmt: skip
    answer = receive_message(pipeline, {k.lower(): v for k, v in message.headers},
                             message.body)  # fmt: skip
    assert answer.status == 200, answer
    return segments[1].split("*")[3]


def _backdate(store: Store, po_number: str, hours: float) -> None:
    """Make a PO look received ``hours`` ago (its document and its 850's exchange)."""
    when = utcnow() - timedelta(hours=hours)
    with store.transaction() as tx:
        session = tx._s  # test set-up: the clock of one PO, written directly
        session.execute(text("UPDATE documents SET created_at = :t WHERE po_number = :po "
                             "AND type = 'purchase_order'"), {"t": when, "po": po_number})
        session.execute(text("UPDATE exchanges SET created_at = :t WHERE id = (SELECT "
                             "exchange_id FROM documents WHERE po_number = :po AND type = "
                             "'purchase_order')"), {"t": when, "po": po_number})  # fmt: skip


def build_world(root: Path) -> World:
    """Drive a real chain on a new gateway home under ``root`` (see the module docstring);
    every store is closed on return, so the home may be copied."""
    home = make_home(root, f"sqlite:///{root / 'acorn.db'}")
    _configure(home)
    amazon, erp = AmazonPartner(home), Erp(home)
    full, acked, late, due, answered = amazon.send_purchase_orders(5)
    name, data, [damaged] = amazon.purchase_order_interchange(1)
    start = data.index(b"DTM*064*")
    end = data.index(b"~", start)
    amazon.drop(name, data[:start] + b"DTM*064*20261341" + data[end:])  # an impossible date
    process_here(home)
    orders = {order.po_number: order for order in erp.take_orders()}
    erp.export_documents(orders[full])
    erp.export_documents(orders[acked], ("855",))
    erp.export(f"{len(erp.exported) + 1:06d}-810-bad.json",
               {"type": "invoice", "invoice_number": HOSTILE, "po_number": full})  # fmt: skip
    process_until_quiet(home)
    amazon.exchange()  # Amazon picks up our 997s, 855s, 856 and 810 and answers with 997s
    process_until_quiet(home)

    pipeline = World(home, {}, {}, "", "").pipeline()
    try:
        as2_po = _as2_purchase_order(pipeline, home)
        for _ in range(2):  # delivers the AS2 PO; its 997 cannot reach Amazon: failed
            run_once(pipeline)
        _backdate(pipeline.store, late, 26)
        _backdate(pipeline.store, due, 20)
        _backdate(pipeline.store, answered, 20)
        reconcile(pipeline)  # late: po_ack_late; due and answered: po_ack_due
    finally:
        pipeline.store.dispose()
    erp.export_documents(orders[answered], ("855",))  # clears its po_ack_due alert
    process_until_quiet(home)

    view = read_store(home.database_url)
    order_of = {d.po_number: d.exchange_id for d in view.documents if d.type == "purchase_order"}
    export_of = {(d.type, d.po_number): d.exchange_id for d in view.documents
                 if d.type != "purchase_order"}  # fmt: skip
    sent_of = {e.parent_id: e.id for e in view.exchanges
               if e.direction == "out" and e.kind == "document"}  # fmt: skip
    [rejected] = [e.id for e in view.exchanges if e.state == "rejected" and e.channel == "partner"]
    [bad_export] = [e.id for e in view.exchanges if e.state == "rejected" and e.channel == "erp"]
    [failed] = [e.id for e in view.exchanges if e.state == "failed"]
    ids = {
        "850_full": order_of[full], "850_acked": order_of[acked], "850_late": order_of[late],
        "850_as2": order_of[as2_po], "850_rejected": rejected, "export_bad": bad_export,
        "997_failed": failed,
    }  # fmt: skip
    for set_id, type_ in (("855", "po_acknowledgment"), ("856", "ship_notice"),
                          ("810", "invoice")):  # fmt: skip
        ids[f"export_{set_id}"] = export_of[(type_, full)]
        ids[f"out_{set_id}"] = sent_of[export_of[(type_, full)]]
    ids["out_855_acked"] = sent_of[export_of[("po_acknowledgment", acked)]]
    invoice = next(d.business_key for d in view.documents if d.type == "invoice")
    shipment = next(d.business_key for d in view.documents if d.type == "ship_notice")
    po = {"full": full, "acked": acked, "late": late, "due": due, "answered": answered,
          "as2": as2_po, "damaged": damaged}  # fmt: skip
    return World(home, po, ids, invoice, shipment)


def copy_world(world: World, root: Path) -> World:
    """The same world in another directory (paths in acorn.toml moved along)."""
    shutil.copytree(world.home.root, root)
    old, new = str(world.home.root), str(root)
    config = root / "acorn.toml"
    config.write_text(config.read_text().replace(old, new), encoding="utf-8")
    moved = {name: Path(str(getattr(world.home, name)).replace(old, new))
             for name in ("root", "config", "to_us", "from_us", "erp_inbox", "erp_outbox")}
    home = replace(world.home, database_url=world.home.database_url.replace(old, new), **moved)
    return replace(world, home=home)


@dataclass
class Site:
    """A world's dashboard served by uvicorn on 127.0.0.1."""

    world: World
    served: Served

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.served.sock.getsockname()[1]}"

    @property
    def port(self) -> int:
        return int(self.served.sock.getsockname()[1])


@dataclass
class Serving:
    """Context manager: serve ``world`` (its GatewayApp, the pages added) until the end."""

    world: World

    def __enter__(self) -> Site:
        pipeline = self.world.pipeline()
        self.served = Served(pipeline, listener())
        add_pages(self.served.app.api, pipeline)  # a no-op once create_api adds them
        self.served.__enter__()
        return Site(self.world, self.served)

    def __exit__(self, *exc: object) -> None:
        self.served.__exit__(*exc)
        self.served.pipeline.store.dispose()


# -- an HTTP client with a session cookie --------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: str

    @property
    def text(self) -> str:
        """The body with its HTML entities decoded (for assertions on content)."""
        return html.unescape(self.raw)

    @property
    def ids(self) -> list[int]:
        """The exchange ids of the log's rows, in order."""
        return [int(i) for i in re.findall(r'<tr class="exchange" data-id="(\d+)"', self.raw)]

    def section(self, start: str, end: str | None = None) -> str:
        """The decoded text from ``start`` to ``end`` (or the end)."""
        body = self.text
        first = body.index(start)
        return body[first: body.index(end, first) if end else len(body)]


class Browser:
    """A client of one site that keeps its session cookie, as a browser would."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.cookie: str | None = None

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Reply:  # fmt: skip
        sent = {"Accept": "text/html", **(headers or {})}
        body = urlencode(form) if form is not None else None
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookie:
            sent["Cookie"] = self.cookie
        connection = http.client.HTTPConnection("127.0.0.1", self.site.port, timeout=20)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            raw = response.read().decode("utf-8")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie" and value.startswith("acorn_session="):
                    pair = value.split(";", 1)[0]
                    self.cookie = None if pair == "acorn_session=null" else pair
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, raw)
        finally:
            connection.close()

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> Reply:
        return self.request("POST", path, form)

    def login(self, name: str, password: str) -> Browser:
        reply = self.post("/login", {"name": name, "password": password, "next": "/exchanges"})
        assert reply.status == 303 and reply.headers["location"] == "/exchanges", reply
        return self

    def csrf(self) -> str:
        """The session's CSRF token, as the pages carry it."""
        found = re.search(r'name="csrf" value="([^"]+)"', self.get("/exchanges").raw)
        assert found, "no CSRF token on the page"
        return found.group(1)


def log(browser: Browser, **query: str | list[str]) -> Reply:
    return browser.get("/exchanges?" + urlencode(query, doseq=True))


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The world, built once; never served (tests copy it)."""
    return build_world(tmp_path_factory.mktemp("dashboard") / "template")


@pytest.fixture(scope="module")
def site(template: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A copy of the world, served for the tests that only read."""
    world = copy_world(template, tmp_path_factory.mktemp("dashboard-read") / "home")
    with Serving(world) as running:
        yield running


@pytest.fixture
def own_site(template: World, tmp_path: Path) -> Iterator[Site]:
    """A fresh copy of the world, served, for a test that acts on it."""
    with Serving(copy_world(template, tmp_path / "home")) as running:
        yield running


@pytest.fixture
def admin(site: Site) -> Browser:
    return Browser(site).login(ADMIN, ADMIN_PASSWORD)


@pytest.fixture
def reader(site: Site) -> Browser:
    return Browser(site).login(READER, READER_PASSWORD)


# -- the log -------------------------------------------------------------------------------


def test_pages_need_an_operator_and_the_home_page_is_the_log(site: Site) -> None:
    anonymous = Browser(site)
    for path in ("/", "/exchanges?po=1", "/exchanges/1", "/po", "/alerts", "/health"):
        reply = anonymous.get(path)
        assert reply.status == 303 and reply.headers["location"].startswith("/login?next="), path
    assert anonymous.request("POST", "/exchanges/1/resend", {"csrf": "x"}).status == 401
    signed_in = Browser(site).login(ADMIN, ADMIN_PASSWORD)
    reply = signed_in.get("/")
    assert reply.status == 303 and reply.headers["location"] == "/exchanges"


def test_the_log_lists_every_exchange_newest_first_with_its_keys(admin: Browser) -> None:
    world = admin.site.world
    everything = read_store(world.home.database_url).exchanges
    reply = log(admin, per="200")
    assert reply.status == 200
    newest_first = sorted(everything, key=lambda e: (e.created_at, e.id), reverse=True)
    assert reply.ids == [e.id for e in newest_first]
    assert f"1{DASH}{len(everything)} of {len(everything)} exchanges" in reply.text
    row = re.search(rf'data-id="{world.ids["out_810"]}">(.*?)</tr>', reply.raw, re.S)
    assert row is not None
    cells = html.unescape(row.group(1))
    assert "810" in cells and "sent" in cells and f"INV {world.invoice}" in cells
    assert f"PO {world.po['full']}" in cells
    rejected = re.search(rf'data-id="{world.ids["850_rejected"]}">(.*?)</tr>', reply.raw, re.S)
    assert rejected is not None and "invalid date" in rejected.group(1)
    assert "times UTC" in reply.text and "Created (UTC)" in reply.text


def test_filters_select_the_right_exchanges(admin: Browser) -> None:
    world, ids = admin.site.world, admin.site.world.ids
    view = read_store(world.home.database_url)
    today = datetime.now(UTC).date()

    by_po = set(log(admin, po=world.po["full"], per="200").ids)
    assert {ids["850_full"], ids["export_855"], ids["out_855"], ids["export_856"],
            ids["out_856"], ids["export_810"], ids["out_810"]} <= by_po  # fmt: skip
    assert not by_po & {ids["850_acked"], ids["850_late"], ids["out_855_acked"]}

    assert set(log(admin, set="810").ids) == {ids["export_810"], ids["out_810"]}
    assert set(log(admin, state="rejected").ids) == {ids["850_rejected"], ids["export_bad"]}
    assert set(log(admin, state=["rejected", "failed"]).ids) == {
        ids["850_rejected"], ids["export_bad"], ids["997_failed"]}
    assert set(log(admin, partner="amazon-as2").ids) == {ids["850_as2"], ids["997_failed"]}
    outbound = {e.id for e in view.exchanges if e.direction == "out"}
    assert set(log(admin, direction="out", channel="partner", per="200").ids) == outbound
    erp = {e.id for e in view.exchanges if e.channel == "erp"}
    assert set(log(admin, channel="erp", per="200").ids) == erp
    assert set(log(admin, invoice=world.invoice).ids) >= {ids["export_810"], ids["out_810"]}
    assert set(log(admin, shipment=world.shipment).ids) >= {ids["export_856"], ids["out_856"]}

    # The free search: a PO, invoice or shipment number, or a part of a file name (any case).
    assert set(log(admin, q=world.po["full"], per="200").ids) == by_po
    by_invoice = set(log(admin, q=world.invoice).ids)
    assert {ids["export_810"], ids["out_810"]} <= by_invoice and ids["out_855"] not in by_invoice
    assert ids["out_856"] in log(admin, q=world.shipment).ids
    assert log(admin, q="810-BAD").ids == [ids["export_bad"]]
    assert log(admin, q="100%_").ids == []  # LIKE wildcards are taken literally

    # Dates, UTC, both days included.
    def made(first: date, last: date) -> set[int]:
        return {e.id for e in view.exchanges if first <= e.created_at.date() <= last}

    yesterday = today - timedelta(days=1)
    assert made(yesterday, yesterday)  # the POs made 20 and 26 hours old
    assert set(log(admin, since=str(today), until=str(today), per="200").ids) == made(today,
                                                                                      today)
    assert set(log(admin, until=str(yesterday), per="200").ids) == made(date.min, yesterday)
    assert set(log(admin, since=str(yesterday), per="200").ids) == made(yesterday, today)
    assert log(admin, since=str(today + timedelta(days=1))).ids == []
    cutoff = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    recent = {e.id for e in view.exchanges if e.created_at >= cutoff}
    assert recent and set(log(admin, since=f"{cutoff.isoformat()}Z", per="200").ids) == recent
    combined = log(admin, partner="amazon", set="850", state="rejected", since=str(today))
    assert combined.ids == [ids["850_rejected"]]
    assert 'value="rejected" checked' in combined.raw and "Clear filters" in combined.text


def test_a_filter_that_cannot_be_read_is_reported_not_guessed(admin: Browser) -> None:
    for query, message in (({"since": "yesterday-ish"}, "since: 'yesterday-ish' is not a date"),
                           ({"state": "lost"}, "state: unknown 'lost'"),
                           ({"set": "85O"}, "is not an X12 set id"),
                           ({"direction": "sideways"}, "direction: 'sideways' is not one of"),
                           ({"po": "9" * 101}, "po: at most 100 characters")):  # fmt: skip
        reply = log(admin, **query)
        assert reply.status == 400 and message in reply.text and reply.ids == [], query


def test_the_log_is_paginated_with_page_links_that_keep_the_filters(admin: Browser) -> None:
    everything = log(admin, per="200").ids
    total = len(everything)
    pages = -(-total // 5)
    seen: list[int] = []
    for number in range(1, pages + 1):
        reply = log(admin, per="5", page=str(number))
        seen += reply.ids
        assert f"{(number - 1) * 5 + 1}{DASH}{min(number * 5, total)} of {total}" in reply.text
        assert 'aria-current="page">' + str(number) in reply.raw
    assert seen == everything
    first = log(admin, per="5")
    assert 'href="/exchanges?per=5&amp;page=2"' in first.raw and NEXT in first.text
    assert PREVIOUS not in first.text
    assert log(admin, per="5", page="999").ids == everything[(pages - 1) * 5:]  # the last page
    filtered = log(admin, direction="out", per="2")
    assert 'href="/exchanges?direction=out&amp;per=2&amp;page=2"' in filtered.raw


# -- one exchange --------------------------------------------------------------------------


def test_the_detail_page_marks_each_finding_beside_its_segment(admin: Browser) -> None:
    world = admin.site.world
    reply = admin.get(f"/exchanges/{world.ids['850_rejected']}")
    assert reply.status == 200
    rows = re.findall(r'<tr class="seg( flagged)?" id="seg-(\d+)">(.*?)</tr>', reply.raw, re.S)
    assert len(rows) == 17  # one segment per line, ISA to IEA
    flagged = [(n, html.unescape(body)) for mark, n, body in rows if mark]
    [(_, body)] = flagged
    assert "DTM*064*20261341" in body
    assert "DTM[6]" in body and "DTM02" in body and "invalid date" in body
    assert "20261341" in body and "AK403=8" in body
    assert "BEG*00*" in html.unescape(rows[3][2]) and world.po["damaged"] in reply.text
    assert "Timeline" in reply.text and "inbound_rejected" in reply.text
    envelopes = reply.section("Envelopes", "Timeline")
    assert "ISA" in envelopes and "GS PO" in envelopes and "ST 850" in envelopes
    assert "1 finding" in envelopes and "rejected" in envelopes
    assert "acknowledgment" in reply.section("Linked", "Raw X12")  # the 997 we sent for it


def test_the_detail_page_shows_the_json_beside_the_x12_and_the_as2_mdn(admin: Browser) -> None:
    world = admin.site.world
    reply = admin.get(f"/exchanges/{world.ids['850_as2']}")
    beside = reply.section('class="pane beside"', "Envelopes")
    assert f"purchase_order {world.po['as2']}" in beside
    assert f'"po_number": "{world.po["as2"]}"' in beside and '"type": "purchase_order"' in beside
    as2 = reply.section("AS2 received")
    assert "automatic-action/MDN-sent-automatically; processed" in as2
    assert "Disposition: automatic-action/MDN-sent-automatically; processed" in as2  # MDN text
    assert "Original-Message-ID:" in as2 and "sha-256" in as2

    outbound = admin.get(f"/exchanges/{world.ids['out_855']}")
    assert f"ERP export (exchange {world.ids['export_855']})" in outbound.text
    assert '"type": "po_acknowledgment"' in outbound.section('class="pane beside"')
    envelopes = outbound.section("Envelopes", "Timeline")
    assert "GS PR" in envelopes and "ST 855" in envelopes and "accepted" in envelopes
    assert re.search(r"accepted</span> by <a href=\"/exchanges/\d+\">", outbound.raw)

    export = admin.get(f"/exchanges/{world.ids['export_810']}")
    assert f"X12 rendered (exchange {world.ids['out_810']})" in export.text
    assert "BIG*" in export.section('class="pane beside"')
    assert '"type": "invoice"' in export.section('class="pane own"', 'class="pane beside"')


def test_partner_and_erp_data_are_escaped(admin: Browser) -> None:
    world = admin.site.world
    reply = admin.get(f"/exchanges/{world.ids['export_bad']}")
    assert HOSTILE not in reply.raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in reply.raw
    assert "$.invoice_number: String should have at most 22 characters" in reply.text
    search = log(admin, q=HOSTILE)
    assert HOSTILE not in search.raw and search.status == 200


def test_admins_see_the_actions_that_apply_and_readers_none(
    admin: Browser, reader: Browser
) -> None:
    ids = admin.site.world.ids
    expected = {"out_855": ("resend",), "997_failed": ("resend",), "850_rejected": ("reprocess",),
                "export_bad": ("reprocess",), "850_full": (), "export_855": ()}  # fmt: skip
    for name, actions in expected.items():
        page = admin.get(f"/exchanges/{ids[name]}").raw
        for action in ("resend", "reprocess"):
            form = f'action="/exchanges/{ids[name]}/{action}"'
            assert (form in page) == (action in actions), (name, action)
        seen = reader.get(f"/exchanges/{ids[name]}")
        assert "/resend" not in seen.raw and "/reprocess" not in seen.raw, name
        assert ('id="read-only"' in seen.raw) == bool(actions), name


def test_actions_are_refused_to_readers_and_without_the_csrf_token(
    admin: Browser, reader: Browser
) -> None:
    world = admin.site.world
    before = len(read_store(world.home.database_url).exchanges)
    target = f"/exchanges/{world.ids['out_855']}"
    refused = reader.post(f"{target}/resend", {"csrf": reader.csrf()})
    assert refused.status == 403 and f"{READER} is a read-only operator" in refused.text
    refused = reader.post(f"/exchanges/{world.ids['850_rejected']}/reprocess",
                          {"csrf": reader.csrf()})  # fmt: skip
    assert refused.status == 403
    for form in ({}, {"csrf": "forged"}, {"csrf": reader.csrf()}):  # another session's token
        refused = admin.post(f"{target}/resend", form)
        assert refused.status == 403 and "CSRF token is missing or wrong" in refused.text, form
    assert len(read_store(world.home.database_url).exchanges) == before
    assert "operator_action" not in admin.get(target).text


def test_an_admin_resends_and_reprocesses_and_is_sent_back_with_the_outcome(
    own_site: Site,
) -> None:
    world, ids = own_site.world, own_site.world.ids
    admin = Browser(own_site).login(ADMIN, ADMIN_PASSWORD)

    reply = admin.post(f"/exchanges/{ids['out_855']}/resend", {"csrf": admin.csrf()})
    assert reply.status == 303
    location = reply.headers["location"]
    assert location.startswith(f"/exchanges/{ids['out_855']}?done=")
    page = admin.get(location)
    copy = int(re.search(r"queued as exchange (\d+)", page.text).group(1))  # type: ignore[union-attr]
    assert "Done: a copy ACMEVENDOR_855_" in page.text and ".resend-1.edi" in page.text
    assert "operator_action" in page.text and f'"operator": "{ADMIN}"' in page.text
    queued = admin.get(f"/exchanges/{copy}")
    assert '<span class="badge warn">queued</span>' in queued.raw
    assert f"from #{ids['out_855']} (resend)" in html.unescape(
        re.sub(r"<[^>]+>", "", queued.raw))

    reply = admin.post(f"/exchanges/{ids['997_failed']}/resend", {"csrf": admin.csrf()})
    assert "failed -> queued" in admin.get(reply.headers["location"]).text

    reply = admin.post(f"/exchanges/{ids['850_rejected']}/reprocess", {"csrf": admin.csrf()})
    page = admin.get(reply.headers["location"])
    again = int(re.search(r"superseded by exchange (\d+)", page.text).group(1))  # type: ignore[union-attr]
    assert "superseded" in page.text
    assert "received" in admin.get(f"/exchanges/{again}").text

    reply = admin.post(f"/exchanges/{ids['850_full']}/resend", {"csrf": admin.csrf()})
    assert "?refused=" in reply.headers["location"]
    page = admin.get(reply.headers["location"])
    assert "Refused: only outbound partner exchanges are sent" in page.text
    states = {e.id: e.state for e in read_store(world.home.database_url).exchanges}
    assert states[copy] == "queued" and states[ids["997_failed"]] == "queued"
    assert states[again] == "received" and states[ids["850_rejected"]] == "superseded"


def test_an_unknown_exchange_is_a_404_page(admin: Browser) -> None:
    for path in ("/exchanges/999999", "/exchanges/abc"):
        reply = admin.get(path)
        assert reply.status == 404 and "There is no exchange" in reply.text, path


def test_a_huge_interchange_shows_its_first_segments_and_every_finding() -> None:
    view = {"x12": [{"n": n, "offset": n * 10, "segment": f"REF*ZZ*{n}",
                     "findings": [{"segment": "REF", "message": "bad"}] if n == 9000 else []}
                    for n in range(1, 12_001)]}  # fmt: skip
    lines = pages._lines(view)
    assert len(lines) == pages.MAX_SEGMENTS + 1 and lines[-1]["n"] == 9000
    assert lines[-1]["marks"][0]["message"] == "bad"
    assert pages._pretty({"name": "evil\u202egpj.exe"}) == '{\n  "name": "evil\\u202egpj.exe"\n}'


# -- PO board, alerts, health --------------------------------------------------------------


def test_the_po_board_puts_waiting_pos_by_deadline_then_every_po_status(admin: Browser) -> None:
    po = admin.site.world.po
    reply = admin.get("/po")
    assert reply.status == 200
    waiting = reply.section("Waiting for an 855", "Purchase orders")
    order = [waiting.index(po[name]) for name in ("late", "due", "as2")]
    assert order == sorted(order)  # the nearest deadline first
    assert po["full"] not in waiting and po["answered"] not in waiting
    assert re.search(rf"{po['late']}.*?late by 2h \d+m", waiting, re.S)
    assert re.search(rf"{po['due']}.*?3h \d+m left", waiting, re.S)
    assert re.search(rf"{po['as2']}.*?23h \d+m left", waiting, re.S)

    rows = {m.group(1): " ".join(html.unescape(re.sub(r"<[^>]+>", " ", m.group(2))).split())
            for m in re.finditer(r'<tr>\s*<td><a href="/po/(\d+)">.*?</a></td>(.*?)</tr>',
                                 reply.raw, re.S)}  # fmt: skip
    assert set(rows) == {po[n] for n in ("full", "acked", "late", "due", "answered", "as2")}
    assert rows[po["full"]].count("sent 997 accepted open") == 3
    assert "sent 997 accepted" in rows[po["acked"]] and "none yet" in rows[po["acked"]]
    assert "late" in rows[po["late"]] and "due" in rows[po["due"]]
    assert "Amazon's 24-hour clock" in waiting


def test_one_po_shows_its_chain(admin: Browser) -> None:
    po, ids = admin.site.world.po, admin.site.world.ids
    reply = admin.get(f"/po?po={po['full']}")
    assert reply.status == 303 and reply.headers["location"] == f"/po/{po['full']}"
    chain = admin.get(reply.headers["location"])
    for name in ("850_full", "export_855", "out_855", "out_856", "out_810"):
        assert f'href="/exchanges/{ids[name]}"' in chain.raw, name
    assert "our 997" in chain.text and "AK9 A" in chain.text
    assert admin.get("/po/NOSUCHPO").status == 404


def test_alerts_show_the_open_ones_first_then_the_cleared(admin: Browser) -> None:
    world = admin.site.world
    reply = admin.get("/alerts")
    opened = reply.section("<h2>Open", "<h2>Cleared")
    cleared = reply.section("<h2>Cleared")
    for kind in ("po_ack_late", "po_ack_due", "send_failed", "inbound_rejected"):
        assert kind in opened, kind
    assert world.po["late"] in opened and world.po["due"] in opened
    assert f'href="/exchanges/{world.ids["850_rejected"]}"' in reply.raw
    assert "po_ack_due" in cleared and world.po["answered"] in cleared
    assert world.po["answered"] not in opened


def test_health_shows_checks_transports_queue_and_certificates(admin: Browser) -> None:
    reply = admin.get("/health")
    assert reply.status == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", reply.text).split())
    assert "Health ready" in text
    assert "database ok" in text and "migrations ok" in text
    transports = reply.section("Transports", "AS2 certificates")
    assert "amazon folder" in " ".join(re.sub(r"<[^>]+>", " ", transports).split())
    assert "AS2 AMAZON at http://127.0.0.1:9/as2" in transports
    assert "failed 1" in text  # the queue by state
    certificates = reply.section("AS2 certificates")
    assert "CN=acme" in certificates and "CN=amazon" in certificates
    assert len(re.findall(r"36[45] days", certificates)) == 2
