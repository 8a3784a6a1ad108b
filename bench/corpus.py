"""A deterministic generator of Amazon-style retail 850s, and their mutants.

Used by the tests (the generated corpus must be accepted; every mutant must be rejected
with its X12 code) and by the benchmarks. Everything is derived from a seed, so a
failing case is reproduced by its seed alone.

The 850s follow amazon-x12.md section 3: BEG00 with BEG02 NE/CN/NP/RO, REF*CR (vendor
code), optional REF*PD, FOB, CSH Y/N, DTM 064/063 (the delivery window), N1*ST**92
(fulfilment centre), 1..n PO1 lines with UP/EN/BP/VN identifiers (valid GS1 check
digits), CTT with the line count and quantity hash.
"""

from __future__ import annotations

import random
import resource
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

FULFILMENT_CENTRES = ("PHX6", "ONT8", "BFI4", "MDW2", "ABE8", "TPA1", "SDF8", "RIC2")
ORDER_TYPES = ("NE", "CN", "NP", "RO")


def gs1_check_digit(body: str) -> str:
    """GS1 mod-10 check digit of ``body`` (weights 3,1 from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def _gtin(rng: random.Random, length: int) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(length - 1))
    return body + gs1_check_digit(body)


def _asin(rng: random.Random) -> str:
    return "B0" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(8))


def _po_line(rng: random.Random, number: int) -> tuple[str, int]:
    quantity = rng.randint(1, 480)
    unit = rng.choice(("EA", "EA", "EA", "CA"))
    # X12 R carries no superfluous trailing zeros (X12.6 3.5.3): 12.50 is written 12.5.
    price = format((Decimal(rng.randint(50, 250_000)) / 100).normalize(), "f")
    qualifier = rng.choice(("UP", "EN", "BP", "VN"))
    product = {
        "UP": lambda: _gtin(rng, 12),
        "EN": lambda: _gtin(rng, 13),
        "BP": lambda: _asin(rng),
        "VN": lambda: f"SKU-{rng.randint(1000, 99999)}",
    }[qualifier]()
    elements = [str(number), str(quantity), unit, price, "PE", qualifier, product]
    if qualifier != "BP" and rng.random() < 0.5:
        elements += ["BP", _asin(rng)]
    return "PO1*" + "*".join(elements), quantity


def purchase_order_set(rng: random.Random, control_number: int, lines: int) -> list[str]:
    """The segments ST..SE of one 850 (no terminators)."""
    ordered = date(2026, 1, 1) + timedelta(days=rng.randint(0, 300))
    window_start = ordered + timedelta(days=rng.randint(2, 10))
    window_end = window_start + timedelta(days=rng.randint(3, 14))
    body = [
        f"BEG*00*{rng.choice(ORDER_TYPES)}*{rng.randint(1, 99_999_999):08d}**"
        f"{ordered:%Y%m%d}",
        f"REF*CR*{rng.choice(('ACMEV', 'ACME1', 'ACMEB'))}",
    ]
    if rng.random() < 0.3:
        body.append(f"REF*PD*{rng.randint(100000, 999999)}")
    body += [
        f"FOB*{rng.choice(('CC', 'PP'))}",
        f"CSH*{rng.choice('YN')}",
        f"DTM*064*{window_start:%Y%m%d}",
        f"DTM*063*{window_end:%Y%m%d}",
        f"N1*ST**92*{rng.choice(FULFILMENT_CENTRES)}",
    ]
    total = 0
    for number in range(1, lines + 1):
        segment, quantity = _po_line(rng, number)
        body.append(segment)
        total += quantity
    body.append(f"CTT*{lines}*{total}")
    st02 = f"{control_number:04d}"
    return [f"ST*850*{st02}", *body, f"SE*{len(body) + 2}*{st02}"]


def interchange(segments_per_set: list[list[str]], isa13: int, gs06: int) -> bytes:
    """One interchange (Amazon to the vendor) holding the given 850 sets in one group."""
    isa = (
        "ISA*00*          *00*          *ZZ*AMAZON         *ZZ*ACMEVENDOR     *260101*1200*U*"
        f"00401*{isa13:09d}*0*P*>"
    )
    segments = [isa, f"GS*PO*AMAZON*ACMEVENDOR*20260101*1200*{gs06}*X*004010"]
    for set_segments in segments_per_set:
        segments += set_segments
    segments += [f"GE*{len(segments_per_set)}*{gs06}", f"IEA*1*{isa13:09d}"]
    return ("~\n".join(segments) + "~\n").encode("ascii")


def generate(seed: int, *, sets: int = 1, max_lines: int = 20) -> bytes:
    """One interchange of ``sets`` Amazon 850s, deterministic from ``seed``."""
    rng = random.Random(seed)
    payload = [purchase_order_set(rng, n, rng.randint(1, max_lines)) for n in range(1, sets + 1)]
    return interchange(payload, isa13=seed % 999_999_999 + 1, gs06=seed % 999_999 + 1)


def corpus(seed: int, count: int, *, max_lines: int = 20) -> list[bytes]:
    """``count`` interchanges, each from its own seed derived from ``seed``."""
    rng = random.Random(seed)
    return [
        generate(rng.randrange(1, 2**31), sets=rng.randint(1, 3), max_lines=max_lines)
        for _ in range(count)
    ]


# -- a lazy stream, for memory bounds and throughput -------------------------------------

_STREAM_ISA = (
    "ISA*00*          *00*          *ZZ*AMAZON         *ZZ*VENDOR         *240102*1530*U*00401*"
    "{isa13:09d}*0*P*>~"
)
#: The body of an Amazon-style 850 with a fixed text: 18 segments, 20 with ST and SE.
STREAM_BODY = [
    "BEG*00*NE*{po}**20240102", "CUR*BY*USD", "REF*CR*AMZN_VENDORCODE", "FOB*CC", "CSH*N",
    "DTM*064*20240110", "DTM*063*20240117", "N1*ST**92*RNO1",
    "PO1*1*12*EA*9.99**UP*012345678905", "CTP**RTL*19.99",
    "PO1*2*6*CA*25.00**EN*0012345678905", "CTP**RTL*39.99",
    "PO1*3*1*EA*5.00**UP*012345678912", "PO1*4*2*EA*7.50**UP*012345678929",
    "PO1*5*3*EA*1.25**UP*012345678936", "PO1*6*4*EA*2.00**UP*012345678943",
    "PO1*7*8*EA*3.10**UP*012345678950", "CTT*7*36",
]  # fmt: skip


class GeneratedStream:
    """A binary stream made, as it is read, from the byte pieces of ``pieces``: nothing but
    the pending piece is held, so a reader's memory can be measured on inputs far larger
    than what is ever in memory. ``produced`` counts the bytes handed out."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.produced = 0
        self._pieces = pieces
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when ``size`` < 0); ``b""`` at the end."""
        while size < 0 or len(self._pending) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._pending += piece
        if size < 0:
            size = len(self._pending)
        out, self._pending = self._pending[:size], self._pending[size:]
        self.produced += len(out)
        return out


class LazyInterchanges(GeneratedStream):
    """A binary stream of valid interchanges of 850s, produced as it is read.

    Nothing but the pending piece is held: ``read(n)`` builds text on demand, so a reader's
    memory can be measured on inputs far larger than what is ever in memory. ``produced``
    counts the bytes handed out; ``expected_sets`` and ``segments`` what the stream holds.
    """

    def __init__(self, interchanges: int, groups: int, sets_per_group: int) -> None:
        self.expected_sets = interchanges * groups * sets_per_group
        self.segments = interchanges * (2 + groups * (2 + sets_per_group * (len(STREAM_BODY) + 2)))
        super().__init__(self._generate(interchanges, groups, sets_per_group))

    @staticmethod
    def _generate(interchanges: int, groups: int, sets: int) -> Iterator[bytes]:
        for isa13 in range(1, interchanges + 1):
            yield _STREAM_ISA.format(isa13=isa13).encode()
            for gs06 in range(1, groups + 1):
                yield f"GS*PO*AMAZON*VENDOR*20240102*1530*{gs06}*X*004010~\r\n".encode()
                for st02 in range(1, sets + 1):
                    body = "~".join(STREAM_BODY).format(po=f"P{isa13:03d}{gs06:03d}{st02:06d}")
                    count = len(STREAM_BODY) + 2
                    yield f"ST*850*{st02:04d}~{body}~SE*{count}*{st02:04d}~\r\n".encode()
                yield f"GE*{sets}*{gs06}~".encode()
            yield f"IEA*{groups}*{isa13:09d}~\n".encode()


def peak_rss_kib() -> int:
    """Peak resident set size of this process in KiB.

    Linux's VmHWM belongs to the process image and starts afresh at exec; ru_maxrss is kept
    across exec (a child started from a big process would report its parent's peak), so it
    is only the fallback where /proc is absent.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- mutants -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What a mutant must produce: a finding of ``level`` with ``code`` on ``segment``,
    at element ``element`` (element findings only)."""

    level: str
    code: str
    segment: str
    element: int | None = None


@dataclass(frozen=True)
class Mutant:
    """A named way to break a clean interchange, and the finding it must cause."""

    name: str
    mutate: Callable[[str], str]
    expected: Expected


def _replace_first(prefix: str, new: Callable[[str], str]) -> Callable[[str], str]:
    """Rewrite the first segment starting with ``prefix`` (segments end with ``~``)."""

    def mutate(text: str) -> str:
        start = text.index(prefix)
        end = text.index("~", start)
        return text[:start] + new(text[start:end]) + text[end:]

    return mutate


def _drop_first(prefix: str) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        start = text.index(prefix)
        end = text.index("~", start) + 1
        if text[end : end + 1] == "\n":
            end += 1
        rest = text[:start] + text[end:]
        return _fix_se_count(rest, -1)

    return mutate


def _insert_after(prefix: str, segment: str) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        start = text.index(prefix)
        end = text.index("~", start) + 1
        return _fix_se_count(text[:end] + "\n" + segment + "~" + text[end:], +1)

    return mutate


def _fix_se_count(text: str, delta: int) -> str:
    """Keep SE01 right for the first set so that only the intended error shows."""
    start = text.index("SE*")
    end = text.index("~", start)
    count, control = text[start + 3 : end].split("*")
    return text[:start] + f"SE*{int(count) + delta}*{control}" + text[end:]


def _set_element(prefix: str, position: int, value: str) -> Callable[[str], str]:
    def new(segment: str) -> str:
        parts = segment.split("*")
        parts[position] = value
        return "*".join(parts)

    return _replace_first(prefix, new)


MUTANTS: tuple[Mutant, ...] = (
    Mutant("mandatory BEG removed", _drop_first("BEG*"), Expected("segment", "3", "BEG")),
    Mutant("mandatory CSH removed", _drop_first("CSH*"), Expected("segment", "3", "CSH")),
    Mutant("mandatory N1 removed", _drop_first("N1*"), Expected("segment", "3", "N1")),
    Mutant("bad date in DTM02", _set_element("DTM*064", 2, "20261341"),
           Expected("element", "8", "DTM", 2)),
    Mutant("bad date in BEG05", _set_element("BEG*", 5, "2026021"),
           Expected("element", "8", "BEG", 5)),
    Mutant("SE01 count wrong", _set_element("SE*", 1, "99"),
           Expected("transaction", "4", "SE")),
    Mutant("unknown segment", _insert_after("CSH*", "ZZZ*1"), Expected("segment", "1", "ZZZ")),
    Mutant("unlisted DTM qualifier", _set_element("DTM*064", 1, "999"),
           Expected("element", "7", "DTM", 1)),
    Mutant("unlisted BEG02 order type", _set_element("BEG*", 2, "ZZ"),
           Expected("element", "7", "BEG", 2)),
    Mutant("unlisted PO103 unit", _set_element("PO1*", 3, "QQ"),
           Expected("element", "7", "PO1", 3)),
    Mutant("BEG03 too long", _set_element("BEG*", 3, "P" * 23),
           Expected("element", "5", "BEG", 3)),
    Mutant("PO102 not numeric", _set_element("PO1*", 2, "1O"),
           Expected("element", "6", "PO1", 2)),
    Mutant("component separator inside REF02", _set_element("REF*CR", 2, "AC>ME"),
           Expected("element", "6", "REF", 2)),
    Mutant("element separator inside PO101", _replace_first("PO1*1*", lambda s: "PO1*1*A" + s[5:]),
           Expected("element", "6", "PO1", 2)),
)  # fmt: skip
