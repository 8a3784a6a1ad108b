"""Every exception the gateway raises, in one tree.

::

    AcornError                    base of everything raised on purpose
    ├── X12Error                  X12 codec problems
    │   ├── X12SyntaxError        input cannot be read as X12 (carries the byte offset)
    │   └── X12WriteError         a tree cannot be serialised (carries the element id)
    ├── ValidationSetupError      the map directory is missing or unusable
    ├── ErpDocumentError          an ERP document is refused (carries problems by JSON path)
    └── MappingError              a set or document cannot be mapped (names the element)

Validation *findings* are never exceptions: they are data in a report (see
``gateway.validation``). An exception means processing cannot continue.
"""

from __future__ import annotations


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
