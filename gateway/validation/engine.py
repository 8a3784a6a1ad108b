"""The reference validation engine: pyx12 walking our maps, one transaction set at a time.

Why not ``pyx12.x12n_document``: it re-reads every map file on each call (~25 ms), checks
ST02 uniqueness with a list (quadratic in the sets of a group), refuses ISA12 other than
00401/00501, stops at an empty segment, raises ``EngineError`` for an unknown group and
writes a 997 with a wrong GS08 and a clock-derived ISA13 (pyx12-maps.md). So this module
drives pyx12's own walker and error handler over a small synthetic interchange per set
(the set's ISA and GS, the set, a GE and IEA of our making), with every map loaded once.
Envelope checks are the codec's (``gateway.x12.envelope``); pyx12's findings on the
synthetic envelope are dropped, so each problem is reported once.

pyx12 is imported here and nowhere else in the gateway (design.md).
"""

from __future__ import annotations

import io
import logging
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyx12.error_handler
import pyx12.errors
import pyx12.map_if
import pyx12.params
import pyx12.x12file
from pyx12.map_if._segment import apply_segment_errors
from pyx12.map_walker import apply_walk_errors, walk_tree

from gateway.errors import ValidationSetupError
from gateway.validation.codes import describe
from gateway.validation.report import Finding, segment_id_findings
from gateway.x12 import Composite, Delimiters, Element, Repeated, Segment, Transaction
from gateway.x12.lexer import ISA_TA1_CODES, ISA_WIDTHS

# pyx12 logs every data error at ERROR level (pyx12-maps.md gotcha 8); findings are our
# output, so its log is silenced rather than left to reach the operator's console.
_pyx12_log = logging.getLogger("pyx12")
_pyx12_log.addHandler(logging.NullHandler())
_pyx12_log.propagate = False

REQUIRED_FILES = ("maps.xml", "dataele.xml", "codes.xml", "x12.control.00401.xml")
#: Set-level codes the codec reports from the real envelope; pyx12's copies are dropped.
_ENVELOPE_SET_CODES = frozenset({"2", "3", "4", "23"})
#: Envelope elements whose pyx12 findings are dropped: ISA11/ISA12 are rewritten in the
#: synthetic copy and ISA13 is the codec's check; GS08 was already matched against
#: maps.xml, which is the authority on supported versions.
_SKIPPED_ENVELOPE_ELEMENTS = {"ISA": (11, 12, 13), "GS": (8,)}
#: pyx12 GS element position -> AK905 code (as pyx12's own 997 writer maps them).
_GS_ELEMENT_CODES = {6: "6", 8: "2"}


def default_map_dir() -> Path:
    """The map directory: ``$ACORN_MAPS_DIR``, the copy inside an installed wheel, or the
    ``maps/`` folder of a source checkout."""
    if os.environ.get("ACORN_MAPS_DIR"):
        return Path(os.environ["ACORN_MAPS_DIR"])
    packaged = Path(__file__).resolve().parent.parent / "_maps"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "maps"


@dataclass(frozen=True)
class MapChoice:
    """The transaction map for a group and the control version pyx12 reads it under."""

    map_file: str
    control_version: str


class MapSet:
    """A pyx12 map directory with its index, loaded once and shared by every validation.

    Raises :class:`ValidationSetupError` when the directory or a required file is missing.
    """

    def __init__(self, map_dir: Path | str | None = None) -> None:
        self.map_dir = Path(map_dir) if map_dir is not None else default_map_dir()
        missing = [f for f in REQUIRED_FILES if not (self.map_dir / f).is_file()]
        if missing:
            raise ValidationSetupError(
                f"map directory {self.map_dir} lacks {', '.join(missing)}"
            )
        self._param = pyx12.params.params()
        self._index: dict[tuple[str, str, str], str] = {}
        try:
            root = ET.parse(self.map_dir / "maps.xml").getroot()
        except ET.ParseError as exc:
            raise ValidationSetupError(f"{self.map_dir / 'maps.xml'}: {exc}") from exc
        for version in root.iter("version"):
            for entry in version.iter("map"):
                key = (version.get("icvn", ""), entry.get("vriic", ""), entry.get("fic", ""))
                self._index[key] = (entry.text or "").strip()
        self._maps: dict[str, Any] = {}
        self._qualifiers: dict[str, dict[str, tuple[frozenset[str], str]]] = {}
        self._repeats: dict[str, dict[tuple[str, int], int]] = {}

    # -- lookup -------------------------------------------------------------------------

    def choose(self, icvn: str, vriic: str, fic: str) -> MapChoice | None:
        """The map for ISA12/GS08/GS01, or None when the group is not supported.

        Acknowledgments (GS01 ``FA``) are matched on the release alone (the first six
        characters of GS08, any ISA12) when the exact entry is missing: a 997 has one
        structure whatever implementation suffix its sender puts in GS08 (``005010X230``),
        and refusing to read a partner's acknowledgment over a suffix would lose it.
        """
        map_file = self._index.get((icvn, vriic, fic))
        if map_file is None and fic == "FA":
            map_file = next(
                (f for (_, v, c), f in self._index.items() if c == "FA" and v == vriic[:6]),
                None,
            )
        if map_file is None:
            return None
        control = "00501" if icvn >= "00501" else "00401"
        return MapChoice(map_file, control)

    def map_files(self) -> list[str]:
        """Every map file the index names, and the envelope control maps present."""
        controls = [f"x12.control.{v}.xml" for v in ("00401", "00501")]
        present = [f for f in controls if (self.map_dir / f).is_file()]
        return sorted(set(self._index.values())) + present

    def supports_functional_id(self, fic: str) -> bool:
        """True when some version of functional group ``fic`` has a map."""
        return any(key[2] == fic for key in self._index)

    def _load(self, map_file: str) -> Any:
        if map_file not in self._maps:
            try:
                self._maps[map_file] = pyx12.map_if.load_map_file(
                    map_file, self._param, str(self.map_dir)
                )
            except (OSError, pyx12.errors.EngineError, ET.ParseError) as exc:
                raise ValidationSetupError(f"cannot load map {map_file}: {exc}") from exc
        return self._maps[map_file]

    def qualifiers(self, map_file: str) -> dict[str, tuple[frozenset[str], str]]:
        """Per segment id, the codes its first element may take where the map lists them,
        and that element's data element number.

        Segments whose first element never has a code list are absent: pyx12 never
        matches them by qualifier.
        """
        if map_file not in self._qualifiers:
            table: dict[str, tuple[frozenset[str], str]] = {}
            root = ET.parse(self.map_dir / map_file).getroot()
            for seg in root.iter("segment"):
                first = next(iter(seg.iter("element")), None)
                if first is None or first.find("valid_codes") is None:
                    continue
                codes = frozenset(c.text or "" for c in first.iter("code"))
                xid = seg.get("xid", "")
                known, _ = table.get(xid, (frozenset(), ""))
                table[xid] = (known | codes, (first.findtext("data_ele") or "").strip())
            self._qualifiers[map_file] = table
        return self._qualifiers[map_file]

    def repeats(self, map_file: str) -> dict[tuple[str, int], int]:
        """(segment id, element position) -> the most repetitions the map allows (default 1)."""
        if map_file not in self._repeats:
            table: dict[tuple[str, int], int] = {}
            root = ET.parse(self.map_dir / map_file).getroot()
            for seg in root.iter("segment"):
                for element in seg:
                    if element.tag not in ("element", "composite"):
                        continue
                    seq = (element.findtext("seq") or "0").strip()
                    raw = (element.findtext("repeat") or "1").strip()
                    limit = 10**9 if raw.startswith(">") else int(raw) if raw.isdigit() else 1
                    key = (seg.get("xid", ""), int(seq) if seq.isdigit() else 0)
                    table[key] = max(table.get(key, 1), limit)
            self._repeats[map_file] = table
        return self._repeats[map_file]

    # -- validation ---------------------------------------------------------------------

    def validate_transaction(
        self,
        choice: MapChoice,
        isa: Segment,
        gs: Segment,
        delimiters: Delimiters,
        transaction: Transaction,
        *,
        envelope_findings: bool = False,
    ) -> list[Finding]:
        """Validate one transaction set against ``choice``; findings are returned, never raised.

        With ``envelope_findings`` the findings pyx12 makes on the ISA and GS contents are
        included (ask once per interchange / group: they are the same for every set).
        Exceptions pyx12 raises on malformed input become one transaction finding.
        """
        segments = transaction.all_segments()
        kept, findings = segment_id_findings(segments)  # pyx12 cannot walk them: kept out
        findings += self._repetition_findings(choice, segments)
        text = self._synthetic(choice, isa, gs, delimiters, [segments[i] for i in kept])
        try:
            errh = self._walk(choice, text)
        except Exception as exc:
            # EngineError... on some malformed inputs (issue 2); each is a rejected set.
            last = segments[-1]
            findings.append(
                Finding("transaction", "5",
                        f"the validator could not process this transaction set"
                        f" ({type(exc).__name__}: {exc})", last.offset, last.tag)
            )  # fmt: skip
            return findings
        findings += self._collect(
            errh, choice, segments, kept, envelope_findings, isa.offset, gs.offset
        )
        return findings

    def _repetition_findings(
        self, choice: MapChoice, segments: tuple[Segment, ...]
    ) -> list[Finding]:
        """Repeated values where the map allows fewer repetitions (X12.6: AK403/IK403 12).

        pyx12 does not check repetition counts, so they are checked here against the map.
        """
        limits = self.repeats(choice.map_file)
        found: list[Finding] = []
        for index, segment in enumerate(segments):
            for position, value in enumerate(segment.elements, 1):
                if not isinstance(value, Repeated):
                    continue
                allowed = limits.get((segment.tag, position), 1)
                if len(value.values) > allowed:
                    found.append(
                        Finding("element", "12",
                                f"too many repetitions: {segment.tag}{position:02d} has"
                                f" {len(value.values)}, the map allows {allowed}",
                                segment.offset, segment.tag, index + 1, None, position)
                    )  # fmt: skip
        return found

    def _synthetic(
        self,
        choice: MapChoice,
        isa: Segment,
        gs: Segment,
        d: Delimiters,
        segments: list[Segment],
    ) -> str:
        fields = [isa.text(i).ljust(w)[:w] for i, w in enumerate(ISA_WIDTHS, 1)]
        fields[11] = choice.control_version
        fields[10] = (d.repetition or "^") if choice.control_version >= "00501" else "U"
        fields[15] = d.component
        parts = [d.element.join(["ISA", *fields]), _raw(gs, d)]
        parts += [_raw(s, d) for s in segments]
        parts.append(d.element.join(["GE", "1", gs.text(6)]))
        parts.append(d.element.join(["IEA", "1", isa.text(13)]))
        return d.segment.join(parts) + d.segment

    def _walk(self, choice: MapChoice, text: str) -> Any:
        """pyx12's validation loop (as in x12n_document) over one synthetic interchange."""
        control_map = self._load(f"x12.control.{choice.control_version}.xml")
        cur_map = self._load(choice.map_file)
        src = pyx12.x12file.X12Reader(io.StringIO(text))
        errh = pyx12.error_handler.err_handler()
        walker = walk_tree()
        node = control_map.getnodebypath("/ISA_LOOP/ISA")
        for seg in src:
            orig_node = node
            seg_id = seg.get_seg_id()
            if seg_id == "ISA":
                node = control_map.getnodebypath("/ISA_LOOP/ISA")
                walker.forceWalkCounterToLoopStart("/ISA_LOOP", "/ISA_LOOP/ISA")
            elif seg_id == "GS":
                node = control_map.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
                walker.forceWalkCounterToLoopStart("/ISA_LOOP/GS_LOOP", "/ISA_LOOP/GS_LOOP/GS")
            else:
                node, _pop, _push, walk_errors = walker.walk_errors(
                    node, seg, src.get_seg_count(), src.get_cur_line(), src.get_ls_id()
                )
                apply_walk_errors(errh, walk_errors)
            if node is None:
                node = orig_node
                continue
            if seg_id == "ISA":
                errh.add_isa_loop(seg, src)
                errh.handle_errors(src.pop_errors())
            elif seg_id == "IEA":
                errh.handle_errors(src.pop_errors())
                errh.close_isa_loop(node, seg, src)
            elif seg_id == "GS":
                node = cur_map.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
                errh.add_gs_loop(seg, src)
                errh.handle_errors(src.pop_errors())
            elif seg_id == "GE":
                errh.handle_errors(src.pop_errors())
                errh.close_gs_loop(node, seg, src)
            elif seg_id == "ST":
                errh.add_st_loop(seg, src)
                errh.handle_errors(src.pop_errors())
            elif seg_id == "SE":
                errh.handle_errors(src.pop_errors())
                errh.close_st_loop(node, seg, src)
            else:
                errh.add_seg(node, seg, src.get_seg_count(), src.get_cur_line(), src.get_ls_id())
                errh.handle_errors(src.pop_errors())
            apply_segment_errors(node, seg, errh)
        src.cleanup()
        errh.handle_errors(src.pop_errors())
        return errh

    # -- pyx12 error tree -> findings -----------------------------------------------------

    def _collect(
        self,
        errh: Any,
        choice: MapChoice,
        segments: tuple[Segment, ...],
        kept: list[int],
        envelope_findings: bool,
        isa_offset: int,
        gs_offset: int,
    ) -> list[Finding]:
        found: list[Finding] = []
        first = segments[0]

        def locate(seg_count: int) -> tuple[Segment, int]:
            """pyx12's position among the kept segments -> (segment, position in the set)."""
            index = kept[seg_count - 1] if 1 <= seg_count <= len(kept) else len(segments) - 1
            return segments[index], index + 1

        for isa in errh.children:
            if envelope_findings:
                found += _envelope_element_findings(isa, "interchange", "ISA", isa_offset)
            for gs in isa.children:
                if envelope_findings:
                    found += _envelope_element_findings(gs, "group", "GS", gs_offset)
                for st in gs.children:
                    for code, message in st.errors:
                        if code not in _ENVELOPE_SET_CODES:
                            found.append(Finding("transaction", code, message, first.offset, "ST"))
                    for ele in st.elements:
                        for _code, message, value in ele.errors:
                            seg_id = "SE" if "(SE0" in message else "ST"
                            found.append(
                                Finding("transaction", "6" if ele.ele_pos == 1 else "7",
                                        message, first.offset, seg_id, element=ele.ele_pos,
                                        bad_value=value)
                            )  # fmt: skip
                    translated: set[str] = set()
                    for seg in st.children:
                        found += self._segment_findings(
                            seg, *locate(seg.seg_count), choice, translated
                        )
                    if translated:
                        # The segment is there with a bad qualifier; pyx12 then also calls it
                        # missing. One cause, one finding: drop the "missing" echo.
                        found = [
                            f for f in found
                            if not (f.level == "segment" and f.code == "3"
                                    and f.segment in translated)
                        ]  # fmt: skip
        return found

    def _segment_findings(
        self,
        err_seg: Any,
        segment: Segment,
        position: int,
        choice: MapChoice,
        translated: set[str],
    ) -> list[Finding]:
        found: list[Finding] = []
        seg_id = err_seg.seg_id
        loop = err_seg.ls_id or None
        for code, message, value in err_seg.errors:
            if code == "1" and seg_id == segment.tag:
                qualifier = self._qualifier_finding(segment, position, loop, choice)
                if qualifier:
                    found += qualifier
                    translated.add(seg_id)
                    continue
            code = code if code in ("1", "2", "3", "4", "5", "6", "7", "8") else "8"
            found.append(
                Finding("segment", code, f"{describe('segment', code)}: {message}",
                        segment.offset, seg_id, position, loop, bad_value=value)
            )  # fmt: skip
        for ele in err_seg.elements:
            for code, message, value in ele.errors:
                found.append(
                    Finding("element", code, f"{describe('element', code)}: {message}",
                            segment.offset, seg_id, position, loop, ele.ele_pos,
                            ele.subele_pos, ele.ele_ref_num, value)
                )  # fmt: skip
        return found

    def _qualifier_finding(
        self, segment: Segment, position: int, loop: str | None, choice: MapChoice
    ) -> list[Finding] | None:
        """Report "segment not found" on a known segment with an unlisted qualifier as the
        invalid code it is (AK304 8 + AK403 7), not as AK304 1 (pyx12-maps.md gotcha 6)."""
        known = self.qualifiers(choice.map_file).get(segment.tag)
        value = segment.text(1)
        if known is None or value in known[0]:
            return None  # an unknown segment, or a known qualifier out of place: keep AK304
        codes, element_ref = known
        if value == "":
            return [
                Finding("element", "1",
                        f"mandatory data element missing: {segment.tag}01 (the qualifier) is"
                        " empty", segment.offset, segment.tag, position, loop, 1,
                        element_ref=element_ref or None),
            ]  # fmt: skip
        return [
            Finding("element", "7",
                    f"invalid code value: {segment.tag}01 is {value!r}; the map allows"
                    f" {', '.join(sorted(codes))}", segment.offset, segment.tag, position, loop,
                    1, element_ref=element_ref or None, bad_value=value),
        ]  # fmt: skip


def _envelope_element_findings(node: Any, level: str, tag: str, offset: int) -> list[Finding]:
    """Findings on ISA / GS element values (never on the synthetic IEA / GE)."""
    found: list[Finding] = []
    for ele in node.elements:
        for _code, message, value in ele.errors:
            if tag not in message or ele.ele_pos in _SKIPPED_ENVELOPE_ELEMENTS[tag]:
                continue
            code = (
                _GS_ELEMENT_CODES.get(ele.ele_pos, "1")
                if level == "group"
                else ISA_TA1_CODES[ele.ele_pos - 1]
            )
            found.append(
                Finding(level, code, message, offset, tag, element=ele.ele_pos,  # type: ignore[arg-type]
                        bad_value=value)
            )  # fmt: skip
    return found


def _raw(segment: Segment, d: Delimiters) -> str:
    """A segment's text exactly as parsed (no checks: the values came from these delimiters)."""
    return d.element.join([segment.tag, *(_raw_element(e, d) for e in segment.elements)])


def _raw_element(value: Element, d: Delimiters) -> str:
    if isinstance(value, Repeated):
        return (d.repetition or "").join(_raw_element(v, d) for v in value.values)
    if isinstance(value, Composite):
        return d.component.join(value.components)
    return value
