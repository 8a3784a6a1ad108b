"""Receiving AS2 through the real endpoint (uvicorn on loopback): the bad inputs of
reliability.md T5 (a to k), one test per case, each with its specified answer, no ERP
delivery and one audit row; the duplicate race of T2; certificates (expired, rollover);
asynchronous MDNs owed to the sender (T14). Every test runs on SQLite and on PostgreSQL
(the ``databases`` fixture of tests/pipeline/conftest.py); the battery's tests are marked
``battery("Tn")`` and record their figures: inputs are the messages posted, lost a message
that should be delivered and is not or a case without its audit row, delivered twice the
ERP deliveries beyond one, unhandled exceptions the 5xx answers."""

from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from asn1crypto import cms as asn1cms

from gateway.pipeline import Pipeline, run_once
from gateway.pipeline.as2_inbound import MDN_ATTEMPTS, send_owed_mdns
from gateway.store import Store
from gateway.transports.as2 import cms
from gateway.transports.as2.client import HttpAnswer
from gateway.transports.as2.mdn import ReceivedMdn, read_mdn
from gateway.transports.as2.mime import Entity, entity_with_headers
from gateway.transports.as2.smime import encrypt_entity, sign_entity
from tests.pipeline.as2_sim import (
    Served,
    Site,
    amazon_message,
    as2_site,
    post_message,
    serving,
)
from tests.pipeline.pipeline_sim import create_postgres_database, drop_postgres_database
from tests.reliability.battery import Battery
from tests.transports.as2.pki import make_identity

REPO = Path(__file__).resolve().parents[2]
PAYLOAD = (REPO / "sandbox_fixtures" / "golden" / "850" / "cn_consigned_cases.edi").read_bytes()


@pytest.fixture(scope="module")
def migrated_template() -> Iterator[str]:
    """A PostgreSQL database with the gateway's schema, copied by each PostgreSQL case
    (CREATE DATABASE ... TEMPLATE is much quicker than running the migrations each time)."""
    name, url = create_postgres_database()
    store = Store(url)
    store.upgrade()
    store.dispose()
    yield name
    drop_postgres_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """tests/pipeline/conftest.py's ``databases``, the PostgreSQL ones copied from
    :func:`migrated_template`."""
    if request.param == "postgresql":
        new = request.getfixturevalue("postgresql_databases")
        template = request.getfixturevalue("migrated_template")
        return lambda: new(template)
    made = iter(range(1, 1_000))
    return lambda: f"sqlite:///{tmp_path / f'acme-{next(made)}.db'}"


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Site:
    """Our gateway on the parametrized database (SQLite, then PostgreSQL)."""
    return as2_site(tmp_path / "acme", database_url)


@pytest.fixture
def served(site: Site) -> Iterator[Served]:
    with serving(site) as running:
        yield running


def mdn_of(site: Site, answer: HttpAnswer, *, signed: bool = True) -> ReceivedMdn:
    """The MDN of an answer, its signature checked against our certificate."""
    assert answer.status == 200, answer.body[:300]
    return read_mdn(answer.headers["content-type"], answer.body,
                    trusted=[site.identity.certificate], now=datetime.now(UTC),
                    require_signed=signed, allowed_digests=cms.DIGESTS)  # fmt: skip


def delivered(served: Served, site: Site) -> list[Path]:
    """Run a pass of the pipeline; the purchase orders it delivered to the ERP."""
    run_once(served.pipeline)
    return sorted(site.erp_inbox.glob("*.json"))


def as2_rows(pipeline: Pipeline, **filters: Any) -> list[Any]:
    with pipeline.store.transaction() as tx:
        return tx.as2_messages(direction="in", **filters)


def record_figures(
    battery: Battery, pipeline: Pipeline, site: Site, answers: list[HttpAnswer], *, what: str,
    deliveries: int = 0, **measures: Any,
) -> None:  # fmt: skip
    """Record a battery case after a pass of the pipeline: lost = no audit row, or fewer
    ERP deliveries than ``deliveries``; delivered twice = ERP deliveries beyond one;
    unhandled = 5xx answers. Also the 997s queued for Amazon."""
    rows = as2_rows(pipeline)
    run_once(pipeline)
    files = sorted(site.erp_inbox.glob("*.json"))
    with pipeline.store.transaction() as tx:
        acks = [e for e in tx.exchanges() if e.direction == "out" and e.kind == "ack"]
    battery.record(
        len(answers), lost=(0 if rows else 1) + max(0, deliveries - len(files)),
        delivered_twice=max(0, len(files) - 1),
        unhandled_exceptions=sum(1 for a in answers if a.status >= 500), what=what,
        audit_rows=len(rows), erp_deliveries=len(files), acks_997=len(acks),
        statuses=sorted({a.status for a in answers}), **measures,
    )  # fmt: skip


def refused_case(served: Served, site: Site, answer: HttpAnswer, modifier: str) -> None:
    """The common checks of a T5 case answered by an error MDN: the disposition, the MDN
    signed as asked, no MIC, no delivery, one audit row."""
    mdn = mdn_of(site, answer)
    assert mdn.disposition.status == "processed"
    assert mdn.disposition.modifier == f"error: {modifier}"
    assert mdn.signer is not None and mdn.mic is None
    assert delivered(served, site) == []
    rows = as2_rows(served.pipeline)
    assert [r.status for r in rows] == ["failed"]
    assert rows[0].disposition.endswith(f"processed/error: {modifier}")


def post_wrapped(
    served: Served, site: Site, entity: Entity, tamper: Callable[[bytes], bytes] | None = None
) -> HttpAnswer:
    """Sign ``entity`` with Amazon's key (then change the signed body with ``tamper``),
    encrypt it for us and post it with Amazon's headers."""
    amazon = site.partner_identities[0]
    signed = sign_entity(entity, cms.Signer(amazon.certificate, amazon.key), "sha256")
    if tamper is not None:
        signed = entity_with_headers([("Content-Type", signed.fields["Content-Type"])],
                                     tamper(signed.body))  # fmt: skip
    body = encrypt_entity(signed, site.identity.certificate, "aes256-cbc", "rsa-pkcs1v15")
    message = amazon_message(site, PAYLOAD)
    headers = _with(message.headers, content_type=body.fields["Content-Type"])
    return post_message(served.url, message, headers=headers, body=body.body)


def test_a_message_signed_and_encrypted_by_amazon_is_stored_answered_and_delivered(
    served: Served, site: Site
) -> None:
    """The good case: a signed MDN with Amazon's MIC, the payload stored byte for byte and
    delivered to the ERP once."""
    message = amazon_message(site, PAYLOAD)
    mdn = mdn_of(site, post_message(served.url, message))
    assert mdn.disposition.ok and mdn.disposition.modifier is None
    assert mdn.original_message_id == message.message_id
    assert mdn.mic is not None and mdn.mic.matches(message.mic)
    rows = as2_rows(served.pipeline)
    assert [r.status for r in rows] == ["processed"]
    with served.pipeline.store.transaction() as tx:
        assert tx.payload(rows[0].exchange_id) == PAYLOAD
    assert len(delivered(served, site)) == 1


@pytest.mark.battery("T5")
def test_t5a_a_signature_by_an_unknown_certificate_is_authentication_failed(
    served: Served, site: Site, tmp_path: Path, battery: Battery
) -> None:
    """Signed by a certificate that is not Amazon's: authentication-failed, signed MDN."""
    stranger = make_identity(tmp_path / "other", "stranger")
    answer = post_message(served.url, amazon_message(site, PAYLOAD, signer=stranger))
    refused_case(served, site, answer, "authentication-failed")
    record_figures(battery, served.pipeline, site, [answer], what="T5a unknown signer")


@pytest.mark.battery("T5")
def test_t5a_a_tampered_signed_content_is_refused(
    served: Served, site: Site, battery: Battery
) -> None:
    """One byte of the signed content changed after signing: the digest no longer matches;
    refused with one audit row (failed, with the error disposition) and no delivery."""
    payload_entity = entity_with_headers([("Content-Type", "application/edi-x12")], PAYLOAD)
    answer = post_wrapped(served, site, payload_entity,
                          tamper=lambda body: body.replace(b"BEG*", b"BEG~", 1))  # fmt: skip
    mdn = mdn_of(site, answer)
    assert mdn.disposition.modifier in ("error: integrity-check-failed",
                                        "error: authentication-failed")  # fmt: skip
    assert mdn.signer is not None and mdn.mic is None
    assert delivered(served, site) == []
    rows = as2_rows(served.pipeline)
    assert [r.status for r in rows] == ["failed"]
    assert rows[0].disposition.endswith(f"processed/{mdn.disposition.modifier}")
    record_figures(battery, served.pipeline, site, [answer], what="T5a tampered content")


@pytest.mark.battery("T5")
def test_t5b_a_message_encrypted_for_another_certificate_is_decryption_failed(
    served: Served, site: Site, tmp_path: Path, battery: Battery
) -> None:
    """Encrypted for someone else's certificate: decryption-failed."""
    other = make_identity(tmp_path / "other", "someone-else")
    answer = post_message(served.url, amazon_message(site, PAYLOAD, recipient=other))
    refused_case(served, site, answer, "decryption-failed")
    record_figures(battery, served.pipeline, site, [answer], what="T5b wrong recipient")


@pytest.mark.battery("T5")
def test_t5b_corrupt_cms_is_decryption_failed(
    served: Served, site: Site, battery: Battery
) -> None:
    """The second half of the enveloped data zeroed: decryption-failed."""
    message = amazon_message(site, PAYLOAD)
    corrupt = bytearray(message.body)
    corrupt[len(corrupt) // 2 :] = bytes(len(corrupt) - len(corrupt) // 2)
    answer = post_message(served.url, message, body=bytes(corrupt))
    refused_case(served, site, answer, "decryption-failed")
    record_figures(battery, served.pipeline, site, [answer], what="T5b corrupt CMS")


@pytest.mark.battery("T5")
def test_t5c_a_signed_but_unencrypted_message_is_insufficient_message_security(
    served: Served, site: Site, battery: Battery
) -> None:
    """Amazon's partnership requires signed and encrypted messages."""
    answer = post_message(served.url, amazon_message(site, PAYLOAD, encryption=None))
    refused_case(served, site, answer, "insufficient-message-security")
    record_figures(battery, served.pipeline, site, [answer], what="T5c signed, not encrypted")


@pytest.mark.battery("T5")
def test_t5c_an_encrypted_but_unsigned_message_is_insufficient_message_security(
    served: Served, site: Site, battery: Battery
) -> None:
    """Encrypted but unsigned, where a signature is required."""
    answer = post_message(served.url, amazon_message(site, PAYLOAD, signature=None))
    refused_case(served, site, answer, "insufficient-message-security")
    record_figures(battery, served.pipeline, site, [answer], what="T5c encrypted, not signed")


@pytest.mark.battery("T5")
def test_t5d_bad_compressed_data_is_decompression_failed(
    served: Served, site: Site, battery: Battery
) -> None:
    """A compressed-data layer whose zlib stream is garbage, signed and encrypted properly."""
    compressed = asn1cms.ContentInfo({
        "content_type": "compressed_data",
        "content": asn1cms.CompressedData({
            "version": "v0", "compression_algorithm": {"algorithm": "zlib"},
            "encap_content_info": {"content_type": "data",
                                   "content": b"\x78\x9c this is not zlib"},
        }),
    }).dump()  # fmt: skip
    entity = entity_with_headers(
        [("Content-Type", 'application/pkcs7-mime; smime-type=compressed-data; name="smime.p7z"'),
         ("Content-Transfer-Encoding", "binary")], compressed,
    )  # fmt: skip
    answer = post_wrapped(served, site, entity)
    refused_case(served, site, answer, "decompression-failed")
    record_figures(battery, served.pipeline, site, [answer], what="T5d bad compressed data")


@pytest.mark.battery("T5")
def test_t5e_a_required_md5_mic_is_failed_unsupported_mic_algorithms(
    served: Served, site: Site, battery: Battery
) -> None:
    """``signed-receipt-micalg=required, md5``: failed/Failure: unsupported MIC-algorithms."""
    message = amazon_message(site, PAYLOAD)
    headers = _with(message.headers, options="signed-receipt-protocol=required, "
                    "pkcs7-signature; signed-receipt-micalg=required, md5")  # fmt: skip
    answer = post_message(served.url, message, headers=headers)
    mdn = mdn_of(site, answer)
    assert mdn.disposition.status == "failed"
    assert mdn.disposition.modifier == "Failure: unsupported MIC-algorithms"
    assert mdn.signer is not None
    assert delivered(served, site) == []
    assert [r.status for r in as2_rows(served.pipeline)] == ["failed"]
    record_figures(battery, served.pipeline, site, [answer], what="T5e required md5")


@pytest.mark.battery("T5")
def test_t5e_a_required_sha1_mic_is_refused_when_the_partner_may_not_use_sha1(
    tmp_path: Path, database_url: str, battery: Battery
) -> None:
    """sha1 only per partner: refused (signed MDN, one failed audit row, no delivery)."""
    site = as2_site(tmp_path / "acme", database_url,
                    partnership={"accepted_digests": ["sha256", "sha512"]})  # fmt: skip
    with serving(site) as served:
        message = amazon_message(site, PAYLOAD)
        headers = _with(message.headers, options="signed-receipt-protocol=required, "
                        "pkcs7-signature; signed-receipt-micalg=required, sha1")  # fmt: skip
        answer = post_message(served.url, message, headers=headers)
        mdn = mdn_of(site, answer)
        assert str(mdn.disposition).endswith("failed/Failure: unsupported MIC-algorithms")
        assert mdn.signer is not None
        assert delivered(served, site) == []
        rows = as2_rows(served.pipeline)
        assert [r.status for r in rows] == ["failed"]
        assert rows[0].disposition.endswith("failed/Failure: unsupported MIC-algorithms")
        record_figures(battery, served.pipeline, site, [answer], what="T5e required sha1")


def test_an_optional_mic_algorithm_we_refuse_gets_our_default_instead(
    served: Served, site: Site
) -> None:
    """``optional, md5``: processed, with the MIC in sha256 (RFC 4130 7.3)."""
    message = amazon_message(site, PAYLOAD)
    headers = _with(message.headers, options="signed-receipt-protocol=optional, "
                    "pkcs7-signature; signed-receipt-micalg=optional, md5")  # fmt: skip
    mdn = mdn_of(site, post_message(served.url, message, headers=headers))
    assert mdn.disposition.ok and mdn.mic is not None and mdn.mic.algorithm == "sha256"


@pytest.mark.battery("T5")
@pytest.mark.parametrize("missing", ["AS2-To", "AS2-From", "Message-ID", "AS2-Version"])
def test_t5f_a_missing_as2_header_is_http_400_without_mdn(
    served: Served, site: Site, missing: str, battery: Battery
) -> None:
    """A missing AS2 header: HTTP 400 naming it, no MDN, one refused audit row."""
    message = amazon_message(site, PAYLOAD)
    headers = [(k, v) for k, v in message.headers if k.lower() != missing.lower()]
    answer = post_message(served.url, message, headers=headers)
    assert answer.status == 400
    assert answer.headers["content-type"].startswith("text/plain")
    assert missing.encode() in answer.body
    assert delivered(served, site) == []
    rows = as2_rows(served.pipeline)
    assert [r.status for r in rows] == ["refused"] and missing in rows[0].reason
    record_figures(battery, served.pipeline, site, [answer], what=f"T5f missing {missing}")


@pytest.mark.battery("T5")
def test_t5g_an_unknown_as2_pair_is_http_403_without_mdn(
    served: Served, site: Site, battery: Battery
) -> None:
    """An unknown AS2-From: 403, no MDN, one bounded audit row without the body."""
    message = amazon_message(site, PAYLOAD)
    headers = _with(message.headers, as2_from="MALLORY")
    answer = post_message(served.url, message, headers=headers)
    assert answer.status == 403
    assert not answer.headers["content-type"].startswith("multipart")
    assert delivered(served, site) == []
    rows = as2_rows(served.pipeline)
    assert [(r.status, r.as2_from, r.partner) for r in rows] == [("refused", "MALLORY", None)]
    with served.pipeline.store.transaction() as tx:
        assert tx.as2_body(rows[0].id) is None  # bounded: the body is not kept
    record_figures(battery, served.pipeline, site, [answer], what="T5g unknown AS2 pair")


@pytest.mark.battery("T5")
def test_t5h_a_body_over_the_limit_is_http_413(
    tmp_path: Path, database_url: str, battery: Battery
) -> None:
    """Declared with Content-Length, and chunked without one: 413, no processing."""
    site = as2_site(tmp_path / "acme", database_url, station={"body_limit": 100_000})
    with serving(site) as served:
        message = amazon_message(site, PAYLOAD)
        big = b"x" * 300_000
        declared = post_message(served.url, message, body=big)
        assert declared.status == 413
        # The connection closes: kept alive, the rest of the body would still be read.
        assert declared.headers.get("connection") == "close"
        port = site.sock.getsockname()[1]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.putrequest("POST", "/as2")
            for name, value in message.headers:
                connection.putheader(name, value)
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            try:
                for start in range(0, len(big), 16_384):
                    chunk = big[start : start + 16_384]
                    connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                connection.send(b"0\r\n\r\n")
            except OSError:
                pass  # the server may close before the end: that is the point
            chunked = connection.getresponse()
            assert chunked.status == 413
        finally:
            connection.close()
        assert delivered(served, site) == []
        assert [r.status for r in as2_rows(served.pipeline)] == ["refused", "refused"]
        chunked_answer = HttpAnswer(chunked.status, {}, b"")
        record_figures(battery, served.pipeline, site, [declared, chunked_answer],
                       what="T5h body over the limit (Content-Length, chunked)")  # fmt: skip


def test_t5h_the_endpoint_reads_at_most_the_limit_plus_one_chunk(site: Site) -> None:
    """At the ASGI level: a chunked 1 MB body against a 100 kB limit is read no further
    than the limit plus 64 kB."""
    import asyncio

    from gateway.web.app import _read_body, _TooLarge

    consumed = 0

    async def receive() -> dict[str, Any]:
        nonlocal consumed
        consumed += 65_536
        return {"type": "http.request", "body": b"x" * 65_536, "more_body": consumed < 1 << 20}

    with pytest.raises(_TooLarge):
        asyncio.run(_read_body({}, receive, 100_000))
    assert consumed <= 100_000 + 65_536
    consumed = 0
    with pytest.raises(_TooLarge):
        asyncio.run(_read_body({"content-length": str(1 << 20)}, receive, 100_000))
    assert consumed == 0  # refused on Content-Length alone


@pytest.mark.battery("T5")
def test_t5i_a_text_html_body_is_insufficient_message_security(
    served: Served, site: Site, battery: Battery
) -> None:
    """A text/html body: insufficient-message-security."""
    message = amazon_message(site, PAYLOAD)
    headers = _with(message.headers, content_type="text/html; charset=utf-8")
    answer = post_message(served.url, message, headers=headers,
                          body=b"<html><body>ISA*00*...</body></html>")  # fmt: skip
    refused_case(served, site, answer, "insufficient-message-security")
    record_figures(battery, served.pipeline, site, [answer], what="T5i text/html")


@pytest.mark.battery("T5")
def test_t5j_a_message_id_over_998_characters_is_http_400(
    served: Served, site: Site, battery: Battery
) -> None:
    """A Message-ID over 998 characters: 400, one refused audit row, bounded."""
    message = amazon_message(site, PAYLOAD)
    headers = _with(message.headers, message_id="<" + "x" * 1000 + "@amazon>")
    answer = post_message(served.url, message, headers=headers)
    assert answer.status == 400 and b"Message-ID" in answer.body
    assert delivered(served, site) == []
    rows = as2_rows(served.pipeline)
    assert [r.status for r in rows] == ["refused"] and len(rows[0].message_id) <= 1000
    record_figures(battery, served.pipeline, site, [answer], what="T5j 1,000-character id")


@pytest.mark.battery("T5")
def test_t5j_an_sql_looking_message_id_is_stored_literally_with_no_sql_effect(
    served: Served, site: Site, battery: Battery
) -> None:
    """``<x' OR '1'='1>`` is a Message-ID like any other: stored literally, processed."""
    message = amazon_message(site, PAYLOAD)
    hostile = "<x' OR '1'='1>"
    headers = _with(message.headers, message_id=hostile)
    answer = post_message(served.url, message, headers=headers)
    mdn = mdn_of(site, answer)
    assert mdn.disposition.ok and mdn.original_message_id == hostile
    rows = as2_rows(served.pipeline)
    assert [(r.message_id, r.status) for r in rows] == [(hostile, "processed")]
    assert as2_rows(served.pipeline, message_id="<x' OR '1'='2>") == []
    assert len(delivered(served, site)) == 1
    record_figures(battery, served.pipeline, site, [answer], what="T5j SQL-looking id",
                   deliveries=1)  # fmt: skip


@pytest.mark.battery("T2")
def test_t5k_and_t2_the_same_message_20_times_at_once_is_delivered_once_with_identical_mdns(
    served: Served, site: Site, battery: Battery
) -> None:
    """The duplicate race: 20 concurrent posts of one Message-ID and body, then 20 more one
    after the other: one delivery, one 997 in total, 40 byte-identical signed MDNs saying
    processed."""
    message = amazon_message(site, PAYLOAD)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: post_message(served.url, message), range(20)))
    answers += [post_message(served.url, message) for _ in range(20)]
    assert {a.status for a in answers} == {200}
    assert len({a.body for a in answers}) == 1
    mdn = mdn_of(site, answers[0])
    assert mdn.disposition.ok and mdn.mic is not None and mdn.mic.matches(message.mic)
    assert [r.status for r in as2_rows(served.pipeline)] == ["processed"]
    assert len(delivered(served, site)) == 1
    with served.pipeline.store.transaction() as tx:
        exchanges = tx.exchanges()
        resends = [e for _, e, _ in tx.events(exchanges[0].id) if e == "as2_resend"]
    assert len([e for e in exchanges if e.direction == "in"]) == 1
    assert len(resends) >= 20
    acks = [e for e in exchanges if e.direction == "out" and e.kind == "ack"]
    assert len(acks) == 1  # one 997 in total
    record_figures(battery, served.pipeline, site, answers, deliveries=1,
                   what="T2 one message 20x concurrent then 20x sequential",
                   identical_mdns=len({a.body for a in answers}) == 1, resend_events=len(resends))


@pytest.mark.battery("T2")
def test_t2_the_same_body_under_a_new_message_id_is_not_delivered_again(
    served: Served, site: Site, battery: Battery
) -> None:
    """A captured body re-posted under another Message-ID still verifies (the signature
    does not cover HTTP headers): it is answered, and the second line of defence (the same
    file, the same ISA13) keeps it from the ERP."""
    message = amazon_message(site, PAYLOAD)
    first = post_message(served.url, message)
    assert mdn_of(site, first).disposition.ok
    replay = _with(message.headers, message_id="<replayed@attacker>")
    again = post_message(served.url, message, headers=replay)
    assert mdn_of(site, again).disposition.ok
    assert len(delivered(served, site)) == 1
    with served.pipeline.store.transaction() as tx:
        inbound = [e for e in tx.exchanges() if e.direction == "in"]
        kinds = [kind for e in inbound for _, kind, _ in tx.events(e.id)]
    assert "as2_duplicate_payload" in kinds
    record_figures(battery, served.pipeline, site, [first, again], deliveries=1,
                   what="T2 the same body under a new Message-ID")  # fmt: skip


@pytest.mark.battery("T2")
def test_t2_the_same_message_id_with_another_body_gets_an_error_mdn_and_an_alert(
    served: Served, site: Site, battery: Battery
) -> None:
    """A Message-ID reused for another body: error MDN, alert, nothing more delivered."""
    first = amazon_message(site, PAYLOAD)
    answers = [post_message(served.url, first)]
    assert mdn_of(site, answers[0]).disposition.ok
    other = amazon_message(site, PAYLOAD.replace(b"BEG*00", b"BEG*01", 1))
    headers = _with(other.headers, message_id=first.message_id)
    answers.append(post_message(served.url, other, headers=headers))
    mdn = mdn_of(site, answers[1])
    assert mdn.disposition.modifier == "error: unexpected-processing-error"
    assert len(delivered(served, site)) == 1
    with served.pipeline.store.transaction() as tx:
        alerts = tx.alerts(open_only=True)
    assert [a.kind for a in alerts] == ["as2_message_id_reused"]
    record_figures(battery, served.pipeline, site, answers, deliveries=1,
                   what="T2 the same Message-ID with another body")  # fmt: skip


def test_a_failed_message_does_not_block_a_good_resend_of_its_message_id(
    served: Served, site: Site, tmp_path: Path
) -> None:
    """Dedupe counts successes only (django-pyas2#33): a message refused for its signature,
    then sent again properly under the same Message-ID, is processed; the alert clears."""
    stranger = make_identity(tmp_path / "other", "stranger")
    bad = amazon_message(site, PAYLOAD, signer=stranger)
    assert mdn_of(site, post_message(served.url, bad)).disposition.modifier is not None
    good = amazon_message(site, PAYLOAD)
    headers = _with(good.headers, message_id=bad.message_id)
    assert mdn_of(site, post_message(served.url, good, headers=headers)).disposition.ok
    assert len(delivered(served, site)) == 1
    with served.pipeline.store.transaction() as tx:
        assert tx.alerts(open_only=True) == []
        assert len(tx.alerts()) == 1


@pytest.mark.battery("T10")
@pytest.mark.parametrize(
    ("validity", "explained"),
    [((-400, -1), "expired"), ((1, 400), "not valid before")],
    ids=["expired", "not-yet-valid"],
)
def test_a_partner_certificate_out_of_its_validity_is_authentication_failed_with_an_alert(
    tmp_path: Path, database_url: str, battery: Battery, validity: tuple[int, int],
    explained: str,
) -> None:  # fmt: skip
    """Never silently accepted (reliability.md T10): Amazon signs with the key of a
    certificate whose validity ended yesterday, or starts tomorrow (a clock or a rollover
    done too early): authentication-failed saying which, an alert, nothing delivered."""
    now = datetime.now(UTC)
    identity = make_identity(tmp_path / "keys", "amazon-outside",
                             not_before=now + timedelta(days=validity[0]),
                             not_after=now + timedelta(days=validity[1]))  # fmt: skip
    site = as2_site(tmp_path / "acme", database_url, amazon=[identity])
    with serving(site) as served:
        answer = post_message(served.url, amazon_message(site, PAYLOAD))
        mdn = mdn_of(site, answer)
        assert mdn.disposition.modifier == "error: authentication-failed"
        assert explained in mdn.explanation
        assert delivered(served, site) == []
        assert [r.status for r in as2_rows(served.pipeline)] == ["failed"]
        with served.pipeline.store.transaction() as tx:
            alerts = tx.alerts(open_only=True)
        assert [a.kind for a in alerts] == ["as2_inbound_failed"]
        assert "authentication-failed" in alerts[0].subject
        record_figures(battery, served.pipeline, site, [answer],
                       what=f"T10 inbound, partner certificate {explained}",
                       alerts=len(alerts))  # fmt: skip


@pytest.mark.battery("T10")
def test_during_a_rollover_both_partner_certificates_are_accepted(
    tmp_path: Path, database_url: str, battery: Battery
) -> None:
    """Amazon has two certificates (rollover): messages signed with either are processed,
    each row naming the certificate that verified it."""
    keys = tmp_path / "keys"
    old, new = make_identity(keys, "amazon-2025"), make_identity(keys, "amazon-2026")
    site = as2_site(tmp_path / "acme", database_url, amazon=[old, new])
    with serving(site) as served:
        answers = []
        for signer in (old, new):  # the same 850 twice: delivered once (ISA13)
            message = amazon_message(site, PAYLOAD, signer=signer)
            answers.append(post_message(served.url, message))
            mdn = mdn_of(site, answers[-1])
            assert mdn.disposition.ok
        rows = as2_rows(served.pipeline)
        record_figures(battery, served.pipeline, site, answers, deliveries=1,
                       what="T10 inbound rollover: two partner certificates")  # fmt: skip
    from gateway.transports.as2.certificates import fingerprint

    assert [r.certificate for r in rows] == [fingerprint(old.certificate),
                                             fingerprint(new.certificate)]  # fmt: skip


@pytest.mark.battery("T10")
def test_a_message_encrypted_for_our_previous_certificate_is_still_decrypted(
    tmp_path: Path, database_url: str, battery: Battery
) -> None:
    """Our own rollover: ``as2.previous_key`` keeps decrypting what partners encrypted for
    the certificate we are replacing."""
    keys = tmp_path / "keys"
    previous = make_identity(keys, "acme-previous")
    site = as2_site(tmp_path / "acme", database_url)
    site.config.write_text(site.config.read_text().replace(
        "[[partners]]",
        f'[as2.previous_key]\ncertificate = "{previous.cert_path}"\n'
        f'private_key = "{previous.key_path}"\n\n[[partners]]',
    ))  # fmt: skip
    with serving(site) as served:
        message = amazon_message(site, PAYLOAD, recipient=previous)
        answer = post_message(served.url, message)
        assert mdn_of(site, answer).disposition.ok
        record_figures(battery, served.pipeline, site, [answer], deliveries=1,
                       what="T10 our rollover: encrypted for our previous certificate")


def test_without_a_signed_receipt_request_the_mdn_is_unsigned(served: Served, site: Site) -> None:
    message = amazon_message(site, PAYLOAD, mdn_signed=False)
    answer = post_message(served.url, message)
    assert answer.headers["content-type"].startswith("multipart/report")
    assert mdn_of(site, answer, signed=False).disposition.ok


class _MdnCatcher(http.server.BaseHTTPRequestHandler):
    """Amazon's asynchronous MDN endpoint in the tests: records every POST."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _catcher(port: int = 0) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(_MdnCatcher):
        received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/mdn"


def test_an_asynchronous_mdn_is_posted_to_the_receipt_delivery_option(
    served: Served, site: Site
) -> None:
    """RFC 4130 7.3: the POST is answered with an empty 200, the signed MDN follows to the
    sender's URL."""
    catcher, url = _catcher()
    try:
        message = amazon_message(site, PAYLOAD, mdn="async", mdn_url=url)
        answer = post_message(served.url, message)
        assert answer.status == 200 and answer.body == b""
        for _ in range(200):
            if catcher.RequestHandlerClass.received:  # type: ignore[attr-defined]
                break
            threading.Event().wait(0.05)
        [(headers, body)] = catcher.RequestHandlerClass.received  # type: ignore[attr-defined]
        mdn = read_mdn(headers["content-type"], body, trusted=[site.identity.certificate],
                       now=datetime.now(UTC), require_signed=True,
                       allowed_digests=cms.DIGESTS)  # fmt: skip
        assert mdn.disposition.ok and mdn.mic is not None and mdn.mic.matches(message.mic)
        assert headers["as2-from"] == "ACMEVENDOR" and headers["as2-to"] == "AMAZON"
        assert len(delivered(served, site)) == 1
    finally:
        catcher.shutdown()


@pytest.mark.battery("T14")
def test_t14_an_asynchronous_mdn_is_retried_until_the_senders_endpoint_is_back(
    served: Served, site: Site, battery: Battery
) -> None:
    """The sender's MDN endpoint is down: the message is processed once, the MDN is owed,
    retried with backoff, and delivered when the endpoint comes back."""
    catcher, url = _catcher()
    port = catcher.server_address[1]
    catcher.shutdown()
    catcher.server_close()  # down
    pipeline = served.pipeline
    message = amazon_message(site, PAYLOAD, mdn="async", mdn_url=url)
    answer = post_message(served.url, message)
    assert answer.status == 200
    for _ in range(200):  # the endpoint's own first try, right after the answer, is over
        if as2_rows(pipeline)[0].reason:
            break
        threading.Event().wait(0.025)
    clock = [datetime.now(UTC).replace(tzinfo=None)]
    started = clock[0]
    pipeline.now = lambda: clock[0]
    assert send_owed_mdns(pipeline) == 0  # refused: still owed
    [row] = as2_rows(pipeline)
    assert row.mdn_state == "pending" and row.next_attempt_at is not None
    assert row.next_attempt_at > clock[0]
    catcher, _ = _catcher(port)  # back
    try:
        clock[0] += timedelta(minutes=10)
        assert send_owed_mdns(pipeline) == 1
        assert len(catcher.RequestHandlerClass.received) == 1  # type: ignore[attr-defined]
        [row] = as2_rows(pipeline)
        assert row.mdn_state == "delivered"
        assert len(delivered(served, site)) == 1
        record_figures(battery, pipeline, site, [answer], deliveries=1,
                       time_to_recover=(clock[0] - started).total_seconds(),
                       what="T14 inbound: the sender's MDN endpoint down, then back",
                       mdn_attempts=row.attempts)  # fmt: skip
    finally:
        catcher.shutdown()


@pytest.mark.battery("T14")
def test_t14_an_asynchronous_mdn_is_given_up_after_the_maximum_attempts_with_an_alert(
    served: Served, site: Site, battery: Battery
) -> None:
    """The sender's MDN endpoint never comes back: the MDN is tried MDN_ATTEMPTS times with
    growing delays (30 s doubling, capped at an hour), then given up (``failed``) with an
    ``as2_mdn_undeliverable`` alert; the payload itself is delivered once."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{closed.getsockname()[1]}/mdn"
    closed.close()  # nothing listens there
    pipeline = served.pipeline
    message = amazon_message(site, PAYLOAD, mdn="async", mdn_url=url)
    answer = post_message(served.url, message)
    assert answer.status == 200 and answer.body == b""
    clock = [datetime.now(UTC).replace(tzinfo=None)]
    started = clock[0]
    pipeline.now = lambda: clock[0]
    delays: list[float] = []
    for _ in range(MDN_ATTEMPTS + 5):
        [row] = as2_rows(pipeline)
        if row.mdn_state != "pending":
            break
        due = row.next_attempt_at or clock[0]
        clock[0] = max(clock[0], due) + timedelta(seconds=1)
        assert send_owed_mdns(pipeline) == 0
        [after] = as2_rows(pipeline)
        if after.mdn_state == "pending" and after.next_attempt_at is not None:
            delays.append((after.next_attempt_at - clock[0]).total_seconds())
    [row] = as2_rows(pipeline)
    assert row.mdn_state == "failed" and row.attempts >= MDN_ATTEMPTS
    assert row.status == "processed"  # the message itself was fine
    growing = [d for d in delays if d > pipeline.lease_seconds]  # the backoff, not leases
    assert growing == sorted(growing) and max(growing) == 3600
    with pipeline.store.transaction() as tx:
        alerts = tx.alerts(open_only=True, kind="as2_mdn_undeliverable")
    assert len(alerts) == 1 and message.message_id[:100] in alerts[0].subject
    assert len(delivered(served, site)) == 1
    record_figures(battery, pipeline, site, [answer], deliveries=1,
                   what="T14 inbound: the sender's MDN endpoint never back, given up",
                   mdn_attempts=row.attempts, alerts=len(alerts),
                   simulated_hours_until_given_up=round(
                       (clock[0] - started).total_seconds() / 3600, 1))  # fmt: skip


def test_only_post_is_served_on_the_as2_path_and_healthz_answers(served: Served) -> None:
    port = served.sock.getsockname()[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/as2")
    assert connection.getresponse().status == 405
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read()) == {"status": "alive"}
    connection.close()


def _with(
    headers: tuple[tuple[str, str], ...], *, content_type: str | None = None,
    message_id: str | None = None, as2_from: str | None = None, options: str | None = None,
) -> list[tuple[str, str]]:  # fmt: skip
    """``headers`` with some values replaced."""
    replace = {"content-type": content_type, "message-id": message_id, "as2-from": as2_from,
               "disposition-notification-options": options}  # fmt: skip
    out = [(k, (replace.get(k.lower()) or v)) for k, v in headers]
    if options and not any(k.lower() == "disposition-notification-options" for k, _ in out):
        out.append(("Disposition-Notification-Options", options))
    return out


def test_the_stored_evidence_is_the_raw_body_and_the_mdn_sent(served: Served, site: Site) -> None:
    """G5: the raw signed and encrypted body as received and the exact MDN returned."""
    message = amazon_message(site, PAYLOAD)
    answer = post_message(served.url, message)
    [row] = as2_rows(served.pipeline)
    with served.pipeline.store.transaction() as tx:
        assert tx.as2_body(row.id) == message.body
        stored = tx.as2_mdn(row.id)
    assert stored is not None and stored.endswith(answer.body)
    assert row.body_sha256 == hashlib.sha256(message.body).hexdigest()
    assert row.headers["message-id"] == message.message_id
