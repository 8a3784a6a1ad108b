"""The Message Integrity Check of RFC 4130 section 7.3.1.

The receiver digests what it received and returns the value in its MDN as
``Received-Content-MIC: <base64>, <micalg>``; the sender compares it with the value it
computed when sending (non-repudiation of receipt). What is digested:

* a signed message (encrypted or not): the signed MIME entity, header fields, blank line and
  content, as received;
* an encrypted, unsigned message: the decrypted MIME entity, header fields and content;
* neither: the content only, without any header.

Algorithm names are compared after normalising them (``sha1`` = ``sha-1`` = ``SHA1``;
RFC 5751 3.4.3.1; reliability.md 1.2, phase2#75).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from gateway.transports.as2.cms import CmsError, digest, micalg_name, normalise_digest


class MicError(CmsError):
    """A Received-Content-MIC value cannot be read."""

    disposition = "unexpected-processing-error"


@dataclass(frozen=True)
class Mic:
    """A MIC: the ``value`` (base64 of the digest) and the ``algorithm`` (our name,
    ``sha256``)."""

    value: str
    algorithm: str

    @classmethod
    def of(cls, data: bytes, algorithm: str) -> Mic:
        """The MIC of ``data`` with ``algorithm`` (any spelling)."""
        name = normalise_digest(algorithm)
        return cls(base64.b64encode(digest(data, name)).decode("ascii"), name)

    @classmethod
    def parse(cls, text: str) -> Mic:
        """Read ``<base64>, <micalg>`` (RFC 4130 section 7.4.3)."""
        value, comma, algorithm = text.strip().rpartition(",")
        if not comma or not value.strip():
            raise MicError(f"Received-Content-MIC {text[:80]!r} is not '<base64>, <micalg>'")
        try:
            base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise MicError(
                f"Received-Content-MIC value {value.strip()[:80]!r} is not base64"
            ) from None
        return cls(value.strip(), normalise_digest(algorithm.strip()))

    def __str__(self) -> str:
        return f"{self.value}, {micalg_name(self.algorithm)}"

    def matches(self, other: Mic) -> bool:
        """Same digest with the same algorithm, whatever the algorithm's spelling."""
        return self.algorithm == other.algorithm and self.value == other.value
