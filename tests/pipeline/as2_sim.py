"""AS2 test harness: gateways with AS2 configured, served by a real uvicorn on loopback, and
a partner ("Amazon") that builds and posts messages with its own certificate.

* :func:`as2_site` writes a gateway home whose partner ``amazon`` uses AS2 (our station
  ``ACMEVENDOR``, the partner ``AMAZON``), with identities from ``tests.transports.as2.pki``;
  :class:`Served` runs its :class:`~gateway.web.GatewayApp` in a uvicorn thread on an
  ephemeral port of 127.0.0.1.
* :func:`amazon_site` is the mirror image: a second gateway standing for Amazon, whose
  partner ``acme`` is us, so that what we send is received, opened and answered by a real
  AS2 endpoint with its own store.
* :func:`post_as_amazon` builds a message as Amazon would (``build_message`` with Amazon's
  key and our certificate) and posts it; the bad-input tests change one thing at a time.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from gateway.config import load_config
from gateway.pipeline import Pipeline
from gateway.store import Store
from gateway.transports.as2.client import HttpAnswer, post
from gateway.transports.as2.cms import Signer
from gateway.transports.as2.message import OutboundMessage, build_message
from gateway.web import create_app
from gateway.web.auth import hash_password
from tests.transports.as2.pki import Identity, make_identity

OUR_AS2 = "ACMEVENDOR"
AMAZON_AS2 = "AMAZON"
#: The operator every test site has (an admin), for the dashboard and the API.
OPERATOR, PASSWORD = "ops", "ops-test-password"
_OPERATOR_HASH = hash_password(PASSWORD)


def basic_auth(name: str = OPERATOR, password: str = PASSWORD) -> str:
    """An ``Authorization`` header value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


def listener() -> socket.socket:
    """A socket bound to an ephemeral port of 127.0.0.1 (uvicorn serves on it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket, path: str = "/as2") -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}{path}"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))


def _table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"] + [f"{k} = {_toml(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


@dataclass
class Site:
    """A gateway with AS2: its directory, configuration, identities and listening socket."""

    root: Path
    config: Path
    database_url: str
    identity: Identity
    partner_identities: list[Identity]
    sock: socket.socket
    erp_inbox: Path
    erp_outbox: Path

    @property
    def url(self) -> str:
        return self.mdn_url.removesuffix("/mdn")

    @property
    def mdn_url(self) -> str:
        return load_config(self.config).as2.mdn_url  # type: ignore[union-attr,return-value]

    def pipeline(self) -> Pipeline:
        config = load_config(self.config)
        store = Store(config.gateway.database)
        store.upgrade()
        return Pipeline(config=config, store=store)


def write_site(
    root: Path,
    database_url: str,
    *,
    our_as2: str,
    our_x12: str,
    partner_name: str,
    partner_as2: str,
    partner_x12: str,
    identity: Identity,
    partner_identities: list[Identity],
    partner_url: str,
    sock: socket.socket | None = None,
    station: dict[str, Any] | None = None,
    partnership: dict[str, Any] | None = None,
) -> Site:
    """Write ``root/acorn.toml`` for a gateway whose one partner speaks AS2."""
    sock = sock or listener()
    erp_inbox, erp_outbox = root / "erp" / "inbox", root / "erp" / "outbox"
    for folder in (erp_inbox, erp_outbox):
        folder.mkdir(parents=True, exist_ok=True)
    station_values = {"as2_id": our_as2, "mdn_url": url_of(sock, "/as2/mdn"),
                      **(station or {})}  # fmt: skip
    partnership_values = {
        "as2_id": partner_as2, "url": partner_url,
        "certificates": [str(i.cert_path) for i in partner_identities], **(partnership or {}),
    }  # fmt: skip
    gateway = {"database": database_url, "erp_inbox": str(erp_inbox),
               "erp_outbox": str(erp_outbox), "settle_seconds": 0}  # fmt: skip
    key = {"certificate": str(identity.cert_path), "private_key": str(identity.key_path)}
    partner = {"name": partner_name, "id": partner_x12, "our_id": our_x12, "transport": "as2"}
    text = "".join([
        _table("gateway", gateway), _table("as2", station_values), _table("as2.key", key),
        _table("[partners]", partner), _table("partners.as2", partnership_values),
        _table("[web.operators]", {"name": OPERATOR, "role": "admin",
                                   "password_hash": _OPERATOR_HASH}),
    ])  # fmt: skip
    config = root / "acorn.toml"
    config.write_text(text, encoding="utf-8")
    return Site(root, config, database_url, identity, partner_identities, sock, erp_inbox,
                erp_outbox)  # fmt: skip


def as2_site(
    root: Path, database_url: str, *, amazon_url: str = "http://127.0.0.1:9/as2",
    amazon: list[Identity] | None = None, **overrides: Any,
) -> Site:  # fmt: skip
    """Our gateway: station ACMEVENDOR (X12 ZZ:ACMEVENDOR), partner ``amazon`` (AMAZON,
    ZZ:AMAZON) at ``amazon_url``, with ``amazon`` certificates (default: Amazon's one)."""
    keys = root / "keys"
    ours = make_identity(keys, "acme")
    theirs = amazon or [make_identity(keys, "amazon")]
    return write_site(root, database_url, our_as2=OUR_AS2, our_x12="ZZ:ACMEVENDOR",
                      partner_name="amazon", partner_as2=AMAZON_AS2, partner_x12="ZZ:AMAZON",
                      identity=ours, partner_identities=theirs, partner_url=amazon_url,
                      **overrides)  # fmt: skip


def amazon_site(root: Path, database_url: str, ours: Site, **overrides: Any) -> Site:
    """A second gateway standing for Amazon, whose partner ``acme`` is the site ``ours``."""
    return write_site(root, database_url, our_as2=AMAZON_AS2, our_x12="ZZ:AMAZON",
                      partner_name="acme", partner_as2=OUR_AS2, partner_x12="ZZ:ACMEVENDOR",
                      identity=ours.partner_identities[0], partner_identities=[ours.identity],
                      partner_url=ours.url, **overrides)  # fmt: skip


class Served:
    """A site's GatewayApp served by uvicorn in a thread (a real HTTP server on loopback)."""

    def __init__(self, pipeline: Pipeline, sock: socket.socket) -> None:
        self.pipeline = pipeline
        self.sock = sock
        self.app = create_app(pipeline)
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on",
                                access_log=False)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)  # fmt: skip

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    @property
    def url(self) -> str:
        return url_of(self.sock)


@contextmanager
def serving(site: Site) -> Iterator[Served]:
    """Serve ``site`` for the duration of the block."""
    with Served(site.pipeline(), site.sock) as served:
        yield served


def amazon_message(
    site: Site, payload: bytes, *, filename: str = "po.edi", signer: Identity | None = None,
    recipient: Identity | None = None, **options: Any,
) -> OutboundMessage:  # fmt: skip
    """A message from Amazon to ``site`` built with our own builder: signed with Amazon's key
    (or ``signer``), encrypted for our certificate (or ``recipient``); ``options`` go to
    :func:`build_message` (signature, encryption, compress, mdn...)."""
    signer = signer or site.partner_identities[0]
    recipient = recipient or site.identity
    settings: dict[str, Any] = {"signature": "sha256", "encryption": "aes256-cbc", "mdn": "sync",
                                "mdn_signed": True}  # fmt: skip
    settings.update(options)
    return build_message(
        payload, filename=filename, our_id=AMAZON_AS2, partner_id=OUR_AS2,
        signer=Signer(signer.certificate, signer.key), recipient=recipient.certificate,
        **settings,
    )  # fmt: skip


def post_message(
    url: str, message: OutboundMessage, *, headers: Iterable[tuple[str, str]] | None = None,
    body: bytes | None = None,
) -> HttpAnswer:  # fmt: skip
    """POST ``message`` (or other ``headers``/``body``) to ``url``."""
    return post(url, tuple(headers if headers is not None else message.headers),
                message.body if body is None else body, connect_timeout=10,
                read_timeout=60)  # fmt: skip
