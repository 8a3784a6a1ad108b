"""Every exception the gateway raises, in one tree.

::

    AcornError                    base of everything raised on purpose
    ├── X12Error                  X12 codec problems
    │   ├── X12SyntaxError        input cannot be read as X12 (carries the byte offset)
    │   └── X12WriteError         a tree cannot be serialised (carries the element id)
    ├── ValidationSetupError      the map directory is missing or unusable
    ├── ErpDocumentError          an ERP document is refused (carries problems by JSON path)
    ├── MappingError              a set or document cannot be mapped (names the element)
    ├── ConfigError               the configuration cannot be used (names the setting)
    ├── StoreError                the store cannot do what was asked
    │   └── LeaseLost             a row's lease passed to another process mid-work
    └── TransportError            a transfer or file operation failed (names the place)
        ├── UnsafeNameError       a file name is refused: traversal, separators, controls (T6)
        ├── UnsafePathError       a path leaves its root, or is a symlink or not a regular file
        ├── FileConflictError     a different file already holds the name; never overwritten
        ├── RetryableTransportError   worth trying again later (refused, timed out, stalled)
        └── PermanentTransportError   retrying cannot help until someone acts
            ├── HostKeyError          the server's host key is not the pinned one
            └── TransportAuthError    the server refused our key

Validation *findings* are never exceptions: they are data in a report (see
``gateway.validation``). An exception means processing cannot continue.
"""

from __future__ import annotations

from typing import ClassVar


class AcornError(Exception):
    """Base class of every exception raised on purpose by the gateway."""


class X12Error(AcornError):
    """A problem in the X12 codec."""


class X12SyntaxError(X12Error):
    """The input cannot be read as X12 past a point.

    ``offset`` is the byte offset in the input where reading stopped; ``segment`` the
    segment id when one was recognised.
    """

    def __init__(self, message: str, *, offset: int, segment: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.segment = segment


class X12WriteError(X12Error):
    """A value cannot be written: it names the element (e.g. ``PO107``) and why."""

    def __init__(self, message: str, *, element: str) -> None:
        super().__init__(f"{element}: {message}")
        self.element = element


class ValidationSetupError(AcornError):
    """The validation engine cannot run (map directory missing, unreadable or inconsistent)."""


class ErpDocumentError(AcornError):
    """An ERP document cannot be used: ``problems`` lists each one with its JSON path.

    The problems are :class:`gateway.erp.common.Problem` records (``path``, ``message``,
    ``code``); they are data, and the exception only carries them out of the parser.
    """

    def __init__(self, problems: list) -> None:  # list[Problem]; errors imports nothing
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = list(problems)


class MappingError(AcornError):
    """A transaction set or an ERP document cannot be mapped (a value with no X12 or ERP
    form, or business content missing); the message names the element or field."""


class ConfigError(AcornError):
    """The configuration cannot be used; the message names the file and the setting.
    ``problems`` lists each one (``key.path: message``) when there are several."""

    problems: ClassVar[list[str]] = []


class StoreError(AcornError):
    """The store cannot do what was asked (database unreachable, schema too old...)."""


class TransportError(AcornError):
    """A transfer or a file operation cannot be completed; the message names the transport or
    the path and the operation (and chains the ``OSError`` when there is one)."""


class UnsafeNameError(TransportError):
    """A file name is refused (reliability.md T6): ``value`` is the name as given (its repr is
    in the message, so control characters are visible), ``reason`` says why."""

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(f"unsafe file name {value!r}: {reason}")
        self.value = value
        self.reason = reason


class UnsafePathError(TransportError):
    """A path would leave its root, or is a symlink, or is not a regular file (or directory)
    where one is required (reliability.md T6); ``path`` names it."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"unsafe path {str(path)!r}: {reason}")
        self.path = path
        self.reason = reason


class FileConflictError(TransportError):
    """A different file already holds the target name, and it is never overwritten (G1, G2);
    ``path`` names the existing file."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{str(path)!r}: {reason}")
        self.path = path
        self.reason = reason


class LeaseLost(StoreError):
    """The lease on a row expired and another process took it over: the work done under
    it must not be committed (its transaction rolls back)."""


class RetryableTransportError(TransportError):
    """A transfer failed for a reason that may pass (connection refused or reset, a timeout, a
    stalled server): the caller retries later with backoff. Nothing was half-published."""


class PermanentTransportError(TransportError):
    """A transfer failed for a reason that retrying will not fix (wrong credentials, host key
    mismatch, refused permissions, a configuration problem): an operator must act."""


class HostKeyError(PermanentTransportError):
    """The server's host key is not among the pinned ones (``unknown``: no pin for this host;
    ``changed``: pins exist and none matches). ``seen`` is the SHA256 fingerprint offered."""

    def __init__(self, message: str, *, seen: str, changed: bool) -> None:
        super().__init__(message)
        self.seen = seen
        self.changed = changed


class TransportAuthError(PermanentTransportError):
    """The server refused our credentials (or the private key cannot be used)."""
