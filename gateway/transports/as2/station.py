"""The AS2 configuration made usable: our certificates and keys loaded (passphrases from
secrets), each partner's certificates loaded, and the certificate report of
``acorn doctor``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509

from gateway.config import As2Partnership, As2Station, Config, read_secret
from gateway.errors import ConfigError
from gateway.transports.as2 import cms
from gateway.transports.as2.certificates import (
    days_left,
    describe,
    fingerprint,
    key_matches,
    load_certificates,
    load_private_key,
    validity_problem,
)


@dataclass(frozen=True)
class Station:
    """Our AS2 station: id, identities (current first, then the previous one during a
    rollover), the URL partners post asynchronous MDNs to, and the body limit."""

    as2_id: str
    identities: tuple[cms.Signer, ...]
    mdn_url: str | None
    body_limit: int
    user_agent: str

    @property
    def signer(self) -> cms.Signer:
        """The identity we sign with: the current one."""
        return self.identities[0]

    @classmethod
    def load(cls, settings: As2Station, environ: dict[str, str] | None = None) -> Station:
        """Load our certificates and keys. Raises :class:`ConfigError` naming the file (a
        wrong passphrase, a key that does not belong to its certificate)."""
        identities = []
        for where, key in (("as2.key", settings.key), ("as2.previous_key", settings.previous_key)):
            if key is None:
                continue
            passphrase = read_secret(f"{where}.private_key {str(key.private_key)!r}",
                                     key.passphrase_env, key.passphrase_file, environ)  # fmt: skip
            certificates = load_certificates(key.certificate)
            private = load_private_key(
                key.private_key, passphrase.encode("utf-8") if passphrase is not None else None
            )
            if not key_matches(certificates[0], private):
                raise ConfigError(f"{where}: the private key {str(key.private_key)!r} does not "
                                  f"belong to the certificate {str(key.certificate)!r}")
            identities.append(cms.Signer(certificates[0], private))
        return cls(settings.as2_id, tuple(identities), settings.mdn_url, settings.body_limit,
                   settings.user_agent)  # fmt: skip


@dataclass(frozen=True)
class PartnerStation:
    """A partner's AS2 settings with its certificates loaded (one, or two in a rollover)."""

    name: str
    settings: As2Partnership
    certificates: tuple[x509.Certificate, ...]

    @classmethod
    def load(cls, name: str, settings: As2Partnership) -> PartnerStation:
        """Load the partner's certificates (ConfigError naming the file)."""
        certificates: list[x509.Certificate] = []
        for path in settings.certificates:
            certificates.extend(load_certificates(path)[:1])
        return cls(name, settings, tuple(certificates))

    def encryption_certificate(self, now: datetime) -> x509.Certificate:
        """The certificate we encrypt for: during a rollover the valid one that ends last.
        Raises :class:`ConfigError` when none is valid at ``now`` (an expired certificate
        is never used silently; reliability.md T10)."""
        valid = [c for c in self.certificates if validity_problem(c, now) is None]
        if not valid:
            problems = "; ".join(f"{describe(c)} {validity_problem(c, now)}"
                                 for c in self.certificates)  # fmt: skip
            raise ConfigError(f"partners.{self.name}.as2.certificates: none is valid: {problems}")
        return max(valid, key=lambda c: c.not_valid_after_utc)


@dataclass(frozen=True)
class CertificateStatus:
    """One configured certificate as ``acorn doctor`` lists it."""

    owner: str
    path: str
    subject: str
    fingerprint: str
    not_after: datetime
    days_left: int
    problem: str | None


def certificate_report(config: Config, now: datetime) -> list[CertificateStatus]:
    """Every AS2 certificate of the configuration (ours, then each partner's) with its days
    left; a file that cannot be read is listed with the reason as its problem."""
    entries: list[tuple[str, Path]] = []
    if config.as2 is not None:
        entries += [("ours", key.certificate) for key in config.as2.all_keys()]
    for partner in config.partners:
        if partner.as2 is not None:
            entries += [(partner.name, path) for path in partner.as2.certificates]
    report = []
    for owner, path in entries:
        try:
            certificate = load_certificates(path)[0]
        except ConfigError as exc:
            report.append(CertificateStatus(owner, str(path), "-", "-", datetime.min, 0,
                                            str(exc)))  # fmt: skip
            continue
        report.append(CertificateStatus(
            owner, str(path), describe(certificate), fingerprint(certificate),
            certificate.not_valid_after_utc, days_left(certificate, now),
            validity_problem(certificate, now),
        ))  # fmt: skip
    return report


def load_partner_stations(config: Config) -> dict[str, PartnerStation]:
    """Every AS2 partner of ``config`` by name, certificates loaded."""
    return {
        p.name: PartnerStation.load(p.name, p.as2)
        for p in config.partners
        if p.transport == "as2" and p.as2 is not None
    }

