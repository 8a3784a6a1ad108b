"""AS2 (RFC 4130): S/MIME-protected EDI over HTTP, answered by signed MDN receipts.

Built on ``cryptography`` and ``asn1crypto`` and the standard ``email`` package (design.md:
not pyas2lib, whose oscrypto fails on current OpenSSL). From the bottom up:

* :mod:`~gateway.transports.as2.cms`: CMS SignedData, EnvelopedData, CompressedData (DER).
* :mod:`~gateway.transports.as2.certificates`: loading certificates and keys, fingerprints,
  validity.
* :mod:`~gateway.transports.as2.mime`: MIME entities kept as exact bytes.
* :mod:`~gateway.transports.as2.smime`: sign/verify, encrypt/decrypt, compress entities.
* :mod:`~gateway.transports.as2.mic`: the MIC of RFC 4130 section 7.3.1.
* :mod:`~gateway.transports.as2.mdn`: MDN requests, dispositions, building and reading MDNs.
* :mod:`~gateway.transports.as2.message`: building a message to send, opening one received.
* :mod:`~gateway.transports.as2.client`: the HTTP POST, always with timeouts.
* :mod:`~gateway.transports.as2.station`: the configuration with its keys loaded.

What is stored, when, and what is answered is the pipeline's (``gateway.pipeline.as2_inbound``
and ``as2_outbound``); the HTTP endpoints are ``gateway.web``.
"""
