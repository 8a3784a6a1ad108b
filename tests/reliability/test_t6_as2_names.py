"""T6 of the reliability battery (reliability.md section 4), AS2 part: path traversal
through the file name a partner gives in Content-Disposition.

Amazon posts properly signed and encrypted 850s whose inner MIME entity (the one the
gateway reads the name from, inside the signature) names the file ``../../etc/x``,
``/etc/x``, ``..\\x``, ``a<NUL>b``, 300 characters, or a name holding a newline. Each is
processed (the unsafe name replaced by one made from the Message-ID) or refused, never a
crash; the pipeline then runs; and a snapshot of the whole temporary tree before and after
shows nothing written outside the gateway's roots (its ERP folders and its database).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.pipeline import run_once
from gateway.transports.as2 import cms
from gateway.transports.as2.mdn import read_mdn
from gateway.transports.as2.mime import entity_with_headers
from gateway.transports.as2.smime import encrypt_entity, sign_entity
from tests.pipeline.as2_sim import amazon_message, as2_site, post_message, serving
from tests.reliability.battery import Battery

REPO = Path(__file__).resolve().parents[2]
PAYLOAD = (REPO / "sandbox_fixtures" / "golden" / "850" / "cn_consigned_cases.edi").read_bytes()
HOSTILE = ["../../etc/x", "/etc/x", "..\\x", "a\x00b", "n" * 300, "a\nb.edi", "../x\r\nX: y"]


def _tree(root: Path) -> set[Path]:
    """Every file and directory under ``root`` (symlinks not followed)."""
    found = set()
    for folder, dirs, files in os.walk(root):
        found.update(Path(folder, name) for name in dirs + files)
    return found


@pytest.mark.battery("T6")
def test_t6_hostile_as2_file_names_write_nothing_outside_the_gateways_roots(
    tmp_path: Path, battery: Battery
) -> None:
    """Each hostile Content-Disposition file name: a signed MDN (processed or refused), no
    5xx; after a pipeline pass every new path is inside the ERP folders or is the database,
    every stored exchange name is a safe single name, and /etc/x was never written."""
    root = tmp_path / "deep" / "gateway"
    site = as2_site(root, f"sqlite:///{root / 'acme.db'}")
    amazon = site.partner_identities[0]
    before = _tree(tmp_path)
    answers = []
    with serving(site) as served:
        for number, name in enumerate(HOSTILE):
            payload = PAYLOAD.replace(b"*000000001*", f"*{number + 1:09d}*".encode())
            header = 'attachment; filename="' + name + '"'
            raw_header = header.encode("latin-1")
            entity = entity_with_headers(
                [("Content-Type", "application/edi-x12"),
                 ("Content-Disposition", "attachment")], payload)  # fmt: skip
            # The name goes in as raw bytes (entity_with_headers refuses nothing, but the
            # newline and NUL must reach the parser as sent).
            raw = entity.raw.replace(b"Content-Disposition: attachment",
                                     b"Content-Disposition: " + raw_header, 1)  # fmt: skip
            parsed = type(entity)(raw, raw.split(b"\r\n\r\n", 1)[0], payload)
            signed = sign_entity(parsed, cms.Signer(amazon.certificate, amazon.key), "sha256")
            body = encrypt_entity(signed, site.identity.certificate, "aes256-cbc",
                                  "rsa-pkcs1v15")  # fmt: skip
            message = amazon_message(site, payload, filename=f"outer-{number}.edi")
            headers = [(k, body.fields["Content-Type"] if k.lower() == "content-type" else v)
                       for k, v in message.headers]  # fmt: skip
            answers.append(post_message(served.url, message, headers=headers, body=body.body))
        run_once(served.pipeline)
        with served.pipeline.store.transaction() as tx:
            names = [e.file_name for e in tx.exchanges() if e.direction == "in"]
            rows = tx.as2_messages(direction="in")
    after = _tree(tmp_path)
    allowed = (site.erp_inbox, site.erp_outbox, root / "erp")
    outside = sorted(str(p) for p in after - before
                     if not (p.is_relative_to(allowed[0]) or p.is_relative_to(allowed[1])
                             or p.name.startswith("acme.db")))  # fmt: skip
    dispositions = []
    for answer in answers:
        assert answer.status == 200, answer.body[:200]
        mdn = read_mdn(answer.headers["content-type"], answer.body,
                       trusted=[site.identity.certificate], now=datetime.now(UTC),
                       require_signed=True, allowed_digests=cms.DIGESTS)  # fmt: skip
        dispositions.append(str(mdn.disposition))
    unsafe = [n for n in names if "/" in n or "\\" in n or n.startswith(".")
              or any(ord(ch) < 32 for ch in n) or len(n) > 200]  # fmt: skip
    battery.record(
        len(HOSTILE), lost=len(HOSTILE) - len(rows),
        unhandled_exceptions=sum(1 for a in answers if a.status >= 500),
        what="AS2 Content-Disposition names: ../../etc/x, /etc/x, ..\\x, NUL, 300 characters, "
             "newline, CRLF header injection",
        database="sqlite", written_outside=len(outside), unsafe_stored_names=len(unsafe),
        dispositions=sorted(set(dispositions)),
    )  # fmt: skip
    assert outside == []
    assert unsafe == []
    assert len(rows) == len(HOSTILE)
    assert not Path("/etc/x").exists()
