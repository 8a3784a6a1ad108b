"""The fast validation engine: the pyx12 maps compiled into plain tables, walked in one pass.

The maps in ``maps/`` are read once with :mod:`xml.etree.ElementTree` (never with pyx12)
into a loop tree per transaction map: loops with their position, usage and repeat count,
segments with their position, usage, max use, qualifier (the codes of the element pyx12
matches them by) and elements with their data type, lengths, usage and code lists from
``dataele.xml``; syntax rules (P/R/C/L/E) per segment.

:func:`validate_transaction` walks a set's segments over that tree with the same rules as
pyx12's ``walk_tree`` (the reference engine, ``gateway.validation.engine``): it scans the
current loop's children from the current position on, enters loops by their first segment,
climbs to the enclosing loop when nothing matches, counts loop and segment uses, buffers
"mandatory missing" until the walk has certainly moved on. Findings carry the same levels,
codes and positions as the reference engine's, including its translations (an unlisted
qualifier is AK403 7, not AK304 1; repetition counts; invalid segment ids) and pyx12's
quirks that reach the 997 (a reader's error is filed under the segment the error handler
points at). Where pyx12 raises on some malformed input, the same input gives the same
"could not process" finding (AK502 5).

pyx12 is not imported here: this module must run without it (lint-imports).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from gateway.errors import ValidationSetupError
from gateway.validation.codes import describe
from gateway.validation.report import Finding, segment_id_findings
from gateway.x12 import Composite, Repeated, Segment, Transaction

MAXINT = 2**31 - 1

# -- tables -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ElementSpec:
    """One simple element of a segment (or a component of a composite)."""

    ref: str
    data_ele: str
    name: str
    usage: str
    seq: int
    data_type: str
    min_len: int
    max_len: int
    codes: frozenset[str] | None
    #: The codes in map order (pyx12 names paths after the first one).
    code_list: tuple[str, ...] = ()
    #: True when this is a component of a composite; ``parent_usage`` is the composite's.
    in_composite: bool = False
    parent_usage: str = "R"
    parent_seq: int = 0
    #: Results of :func:`_check_value` by value (bounded: ``_CACHE_LIMIT`` per element).
    cache: dict[str, list[tuple[str, str, str | None]]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )


@dataclass(frozen=True)
class CompositeSpec:
    """A composite element: its components in order."""

    ref: str
    name: str
    usage: str
    seq: int
    components: tuple[ElementSpec, ...]


@dataclass(eq=False)
class SegNode:
    """A segment of the loop tree."""

    id: str
    name: str
    usage: str
    pos: int
    max_use: int
    path: str
    parent: LoopNode | None
    elements: tuple[ElementSpec | CompositeSpec, ...]
    syntax: tuple[tuple[str, tuple[int, ...]], ...]
    #: (element index, component index or None, codes) pyx12 matches the segment by.
    key: tuple[int, int | None, frozenset[str]] | None
    #: (index, spec) of the elements that are an error when absent (mandatory ones).
    absent: tuple[tuple[int, ElementSpec | CompositeSpec], ...] = ()

    is_loop = False

    def matches(self, seg: Segment, component: str) -> bool:
        """pyx12's ``segment_if.is_match``: the id, and the qualifier where there is one."""
        if seg.tag != self.id:
            return False
        if self.key is None:
            return True
        index, sub, codes = self.key
        return _get_value(seg, index, sub, component) in codes


@dataclass(eq=False)
class LoopNode:
    """A loop (or the map root): children grouped by position, in position order."""

    id: str
    name: str
    usage: str
    pos: int
    repeat: int
    path: str
    parent: LoopNode | None
    positions: list[tuple[int, list[SegNode | LoopNode]]] = field(default_factory=list)

    is_loop = True

    @property
    def is_root(self) -> bool:
        """True for the map root (the transaction element)."""
        return self.parent is None

    def first(self) -> SegNode | LoopNode | None:
        """The first child in position order (pyx12 ``get_first_node``)."""
        return self.positions[0][1][0] if self.positions else None

    def children(self) -> list[SegNode | LoopNode]:
        """Every child in position order."""
        return [c for _, group in self.positions for c in group]


@dataclass
class MapTables:
    """One transaction map compiled: its loop tree and the engine's side tables."""

    map_file: str
    root: LoopNode
    gs: SegNode
    icvn: str
    #: segment id -> (union of the codes of its first element, that element's number)
    qualifiers: dict[str, tuple[frozenset[str], str]]
    #: (segment id, element position) -> most repetitions the map allows
    repeats: dict[tuple[str, int], int]


def _text(elem: ET.Element, tag: str) -> str:
    return (elem.findtext(tag) or "").strip()


def _limit(raw: str | None) -> int:
    raw = (raw or "").strip()
    if raw == "" or raw.startswith(">"):
        return MAXINT
    return int(raw)


@lru_cache(maxsize=8)
def _data_elements(map_dir: str) -> dict[str, tuple[str, int, int]]:
    root = ET.parse(Path(map_dir) / "dataele.xml").getroot()
    table: dict[str, tuple[str, int, int]] = {}
    for ele in root.iter("data_ele"):
        table[ele.get("ele_num", "")] = (
            ele.get("data_type", ""),
            int(ele.get("min_len", "0")),
            int(ele.get("max_len", "0")),
        )
    return table


def _element(
    elem: ET.Element,
    dataele: dict[str, tuple[str, int, int]],
    parent_usage: str | None,
    parent_seq: int = 0,
) -> ElementSpec:
    number = _text(elem, "data_ele")
    if number not in dataele:
        raise ValidationSetupError(f"data element {number!r} is not defined in dataele.xml")
    dtype, lo, hi = dataele[number]
    valid = elem.find("valid_codes")
    codes = None
    code_list: tuple[str, ...] = ()
    if valid is not None:
        if valid.get("external"):
            raise ValidationSetupError("external code lists are not compiled yet")
        code_list = tuple((c.text or "") for c in valid.findall("code"))
        codes = frozenset(code_list)
    return ElementSpec(
        ref=elem.get("xid", ""), data_ele=number, name=_text(elem, "name"),
        usage=_text(elem, "usage"), seq=int(_text(elem, "seq")), data_type=dtype,
        min_len=lo, max_len=hi, codes=codes, code_list=code_list,
        in_composite=parent_usage is not None, parent_usage=parent_usage or "R",
        parent_seq=parent_seq,
    )  # fmt: skip


def _segment(
    elem: ET.Element, parent: LoopNode, dataele: dict[str, tuple[str, int, int]]
) -> SegNode:
    children: dict[int, ET.Element] = {}
    for child in elem:
        if child.tag in ("element", "composite"):
            children[int(_text(child, "seq"))] = child
    specs: list[ElementSpec | CompositeSpec] = []
    for seq in sorted(children):
        child = children[seq]
        if child.tag == "element":
            specs.append(_element(child, dataele, None))
        else:
            usage = _text(child, "usage")
            parts = tuple(_element(c, dataele, usage, seq) for c in child.findall("element"))
            specs.append(CompositeSpec(child.get("xid", ""), _text(child, "name"), usage,
                                       seq, parts))  # fmt: skip
    syntax: list[tuple[str, tuple[int, ...]]] = []
    for rule in elem.findall("syntax"):
        text = rule.text or ""
        if text and text[0] in "PRCLE":
            body = text[1:]
            syntax.append(
                (text[0], tuple(int(body[i : i + 2]) for i in range(0, len(body) - 1, 2)))
            )
    seg_id = elem.get("xid", "")
    return SegNode(
        id=seg_id, name=_text(elem, "name"), usage=_text(elem, "usage"),
        pos=int(_text(elem, "pos")), max_use=_limit(elem.findtext("max_use")), path=seg_id,
        parent=parent, elements=tuple(specs), syntax=tuple(syntax),
        key=_match_key(seg_id, specs),
        absent=tuple((i, spec) for i, spec in enumerate(specs) if spec.usage == "R"),
    )  # fmt: skip


def _match_key(
    seg_id: str, specs: list[ElementSpec | CompositeSpec]
) -> tuple[int, int | None, frozenset[str]] | None:
    """Where pyx12 reads the value that picks this segment (``is_match``), if anywhere."""
    c0 = specs[0] if specs else None
    c1 = specs[1] if len(specs) > 1 else None
    c2 = specs[2] if len(specs) > 2 else None
    if isinstance(c0, ElementSpec) and c0.data_type == "ID" and c0.usage == "R" and c0.codes:
        return (1, None, c0.codes)
    if seg_id == "ENT" and isinstance(c1, ElementSpec) and c1.data_type == "ID" and c1.codes:
        return (2, None, c1.codes)
    if isinstance(c0, CompositeSpec) and c0.components:
        first = c0.components[0]
        if first.codes and (
            first.data_type == "ID" or (seg_id == "CTX" and first.data_type == "AN")
        ):
            return (1, 1, first.codes)
    if seg_id == "HL" and isinstance(c2, ElementSpec) and c2.codes:
        return (3, None, c2.codes)
    return None


def _guess_key_code(seg: SegNode) -> str | None:
    """The code pyx12 appends to the path of segments that share a position
    (``guess_unique_key_id_element``: the first code of that element, in map order)."""
    specs = seg.elements
    c0 = specs[0] if specs else None
    c1 = specs[1] if len(specs) > 1 else None
    c2 = specs[2] if len(specs) > 2 else None
    for spec in (
        c0 if isinstance(c0, ElementSpec) and c0.data_type == "ID" else None,
        c1 if seg.id == "ENT" and isinstance(c1, ElementSpec) and c1.data_type == "ID" else None,
        c0.components[0] if isinstance(c0, CompositeSpec) and c0.components
        and c0.components[0].data_type == "ID" else None,
        c2 if seg.id == "HL" and isinstance(c2, ElementSpec) else None,
    ):  # fmt: skip
        if spec is not None and spec.code_list:
            return spec.code_list[0]
    return None


def _loop(
    elem: ET.Element, parent: LoopNode | None, dataele: dict[str, tuple[str, int, int]]
) -> LoopNode:
    loop_id = elem.get("xid", "")
    if parent is None:
        node = LoopNode(loop_id, "", "R", 0, MAXINT, "/", None)
    else:
        path = "/" + loop_id if parent.path == "/" else f"{parent.path}/{loop_id}"
        node = LoopNode(
            loop_id, _text(elem, "name"), _text(elem, "usage"), int(_text(elem, "pos")),
            _limit(elem.findtext("repeat")), path, parent,
        )  # fmt: skip
    groups: dict[int, list[SegNode | LoopNode]] = {}
    for child in elem.findall("loop"):
        sub = _loop(child, node, dataele)
        groups.setdefault(sub.pos, []).append(sub)
    for child in elem.findall("segment"):
        seg = _segment(child, node, dataele)
        groups.setdefault(seg.pos, []).append(seg)
    for pos in sorted(groups):
        group = groups[pos]
        if len(group) > 1:
            for seg in group:
                code = _guess_key_code(seg) if isinstance(seg, SegNode) else None
                if isinstance(seg, SegNode) and code is not None:
                    seg.path = f"{seg.id}[{code}]"
        node.positions.append((pos, group))
    for _, group in node.positions:
        for child_node in group:
            if isinstance(child_node, SegNode):
                base = "" if node.path == "/" else node.path
                child_node.path = f"{base}/{child_node.path}"
    return node


def _find(node: LoopNode, path: list[str]) -> SegNode | LoopNode:
    current: SegNode | LoopNode = node
    for part in path:
        assert isinstance(current, LoopNode)
        current = next(c for c in current.children() if c.id == part)
    return current


@lru_cache(maxsize=32)
def compile_map(map_dir: str, map_file: str) -> MapTables:
    """Compile one transaction map of ``map_dir`` (cached per directory and file)."""
    dataele = _data_elements(map_dir)
    try:
        xml_root = ET.parse(Path(map_dir) / map_file).getroot()
    except (OSError, ET.ParseError) as exc:
        raise ValidationSetupError(f"cannot load map {map_file}: {exc}") from exc
    root = _loop(xml_root, None, dataele)
    gs = _find(root, ["ISA_LOOP", "GS_LOOP", "GS"])
    isa = _find(root, ["ISA_LOOP", "ISA"])
    assert isinstance(gs, SegNode) and isinstance(isa, SegNode)
    # pyx12's map icvn: the first ISA12 code of the map (it picks the character set).
    isa12 = isa.elements[11] if len(isa.elements) > 11 else None
    icvn = isa12.code_list[0] if isinstance(isa12, ElementSpec) and isa12.code_list else ""
    qualifiers: dict[str, tuple[frozenset[str], str]] = {}
    repeats: dict[tuple[str, int], int] = {}
    for seg in xml_root.iter("segment"):
        xid = seg.get("xid", "")
        first = next(iter(seg.iter("element")), None)
        if first is not None and first.find("valid_codes") is not None:
            codes = frozenset(c.text or "" for c in first.iter("code"))
            known, _ = qualifiers.get(xid, (frozenset(), ""))
            qualifiers[xid] = (known | codes, _text(first, "data_ele"))
        for element in seg:
            if element.tag not in ("element", "composite"):
                continue
            seq = _text(element, "seq")
            raw = _text(element, "repeat") or "1"
            limit = 10**9 if raw.startswith(">") else int(raw) if raw.isdigit() else 1
            key = (xid, int(seq) if seq.isdigit() else 0)
            repeats[key] = max(repeats.get(key, 1), limit)
    return MapTables(map_file, root, gs, icvn, qualifiers, repeats)


# -- values as pyx12 sees them -------------------------------------------------------------


def _components(value: object) -> tuple[str, ...]:
    """An element as pyx12 reads it: its components. pyx12 does not split repetitions, so
    a repeated element is its text (repetition separators included) split at components."""
    if isinstance(value, Composite):
        return value.components
    if isinstance(value, Repeated):
        text = _REPETITION.join(
            _COMPONENT.join(v.components) if isinstance(v, Composite) else v for v in value.values
        )
        return tuple(text.split(_COMPONENT))
    assert isinstance(value, str)
    return (value,)


# The interchange's separators while a set is validated (one set at a time, one thread):
# set by validate_transaction, read by _components.
_COMPONENT = ">"
_REPETITION = "^"


def _format(parts: tuple[str, ...], component: str) -> str:
    end = len(parts)
    while end > 1 and parts[end - 1] == "":
        end -= 1
    return component.join(parts[:end])


def _get_value(seg: Segment, index: int, sub: int | None, component: str) -> str | None:
    """pyx12 ``Segment.get_value``: None beyond the segment, a composite as its text."""
    if index > len(seg.elements):
        return None
    parts = _components(seg.elements[index - 1])
    if sub is None:
        return _format(parts, component)
    return parts[sub - 1] if sub <= len(parts) else None


class _Unsupported(Exception):
    """Input this engine does not model (yet); reported as the reference would crash."""


class _Crash(Exception):
    """Input on which pyx12 raises; the reference engine reports AK502 5."""


# -- the walk --------------------------------------------------------------------------------


@dataclass
class _Err:
    """An error in pyx12's error tree: filed under an err_seg (or the set itself)."""

    kind: str  # "seg", "ele", "st", "st_ele"
    code: str
    message: str
    seg_id: str
    seg_count: int
    serial: int
    value: str | None = None
    element: int | None = None
    component: int | None = None
    element_ref: str | None = None


class _Walker:
    """pyx12's ``walk_tree`` over compiled tables, with its error handler's cursor."""

    def __init__(self, tables: MapTables, component: str) -> None:
        self.tables = tables
        self.component = component
        self.counts: dict[str, int] = {
            "/ISA_LOOP": 1, "/ISA_LOOP/ISA": 1, "/ISA_LOOP/GS_LOOP": 1,
            "/ISA_LOOP/GS_LOOP/GS": 1,
        }  # fmt: skip
        self.errors: list[_Err] = []
        # The error handler's cursor: the err_seg new errors are filed under.
        self.cursor: tuple[str, int, int] | None = None  # None = the set (err_st)
        self.lost = False  # True when the ST was not placed: there is no err_st
        self.serial = 0
        self.missing: list[tuple[SegNode, str, int]] = []
        self.pending: list[tuple[str, str, SegNode | None, str, int]] = []

    # counters
    def _reset(self, path: str) -> None:
        prefix = path + "/"
        for key in [k for k in self.counts if k.startswith(prefix)]:
            del self.counts[key]

    def _incr(self, path: str) -> None:
        self.counts[path] = self.counts.get(path, 0) + 1

    # errors
    def file(
        self, kind: str, code: str, message: str, value: str | None = None, **kw: object
    ) -> None:
        """Attach an error under the cursor, as ``err_handler.seg_error`` does."""
        if self.lost:
            # No err_st (the ST was not placed): pyx12 swallows segment errors and errors
            # on the GS cursor, and raises on an element error under a segment cursor.
            if kind == "ele" and self.cursor is not None:
                raise _Crash("element error outside any transaction set")
            return
        if self.cursor is None:
            if kind == "seg":
                # err_handler.seg_error calls err_st.add_error with one argument too many;
                # the TypeError is swallowed, and so is the error (pyx12 4.0.0).
                return
            kind = "st_ele"
            seg_id, count, serial = "ST", 1, 0
        else:
            seg_id, count, serial = self.cursor
        self.errors.append(_Err(kind, code, message, seg_id, count, serial, value, **kw))  # type: ignore[arg-type]

    def point(self, seg_id: str, seg_count: int) -> None:
        """A new err_seg becomes the cursor (``err_handler.add_seg``)."""
        self.serial += 1
        self.cursor = (seg_id, seg_count, self.serial)

    def walk(self, node: SegNode, seg: Segment, seg_count: int) -> SegNode | None:
        """Find the node of ``seg`` from ``node``; walk errors are filed as pyx12 does."""
        self.missing = []
        self.pending = []
        orig = node
        loop: LoopNode = node.parent if node.parent is not None else self.tables.root
        pos = node.pos
        found: SegNode | None = None
        while True:
            found = self._scan(loop, pos, seg, seg_count, orig)
            if found is not None:
                break
            if loop.is_root:
                self.pending.append(("1", f"Segment {seg.tag} not found", orig, seg.tag, seg_count))
                break
            pos = loop.pos
            assert loop.parent is not None
            loop = loop.parent
        for code, message, map_node, seg_id, count in self.pending:
            if map_node is not None:
                self.point(seg_id, count)
            self.file("seg", code, message)
        return found

    def _scan(
        self, loop: LoopNode, pos: int, seg: Segment, seg_count: int, orig: SegNode
    ) -> SegNode | None:
        for child_pos, group in loop.positions:
            if child_pos < pos:
                continue
            for child in group:
                if isinstance(child, SegNode):
                    if child.matches(seg, self.component):
                        if not loop.is_root and self._loop_match(loop, seg, seg_count):
                            return self._goto(loop, seg, seg_count)
                        self._incr(child.path)
                        self._seg_usage(child, seg, seg_count)
                        self.missing = [m for m in self.missing if not _same(m[0], child)]
                        self._flush(child.pos)
                        return child
                    if child.usage == "R" and self.counts.get(child.path, 0) < 1:
                        self.missing.append(
                            (
                                child,
                                f'Mandatory segment "{child.name}" ({child.id}) missing',
                                seg_count,
                            )
                        )
                elif self._loop_match(child, seg, seg_count):
                    return self._goto(child, seg, seg_count)
        return None

    def _loop_match(self, loop: LoopNode, seg: Segment, seg_count: int) -> bool:
        first = loop.first()
        if first is None:
            return False
        if isinstance(first, LoopNode):
            return any(
                isinstance(c, LoopNode) and self._loop_match(c, seg, seg_count)
                for c in loop.children()
            )
        if first.matches(seg, self.component):
            return True
        if loop.usage == "R" and self.counts.get(loop.path, 0) < 1:
            self.missing.append(
                (first, f'Mandatory loop "{loop.name}" ({loop.id}) missing', seg_count)
            )
        return False

    def _goto(self, loop: LoopNode, seg: Segment, seg_count: int) -> SegNode | None:
        first = loop.first()
        if isinstance(first, SegNode) and first.matches(seg, self.component):
            if loop.usage == "N":
                self.pending.append(
                    ("2", f"Loop {loop.id} found but marked as not used", None, "", 0)
                )
            else:
                self._reset(loop.path)
                self._incr(loop.path)
                count = self.counts[loop.path]
                if count > loop.repeat:
                    self.pending.append(
                        ("4", f"Loop {loop.id} exceeded max count.  Found {count}, should have"
                              f" {loop.repeat}", loop.first(), seg.tag, seg_count)  # type: ignore[arg-type]
                    )  # fmt: skip
            self._incr(first.path)
            self._flush(None)
            return first
        for child in loop.children():
            if isinstance(child, LoopNode):
                found = self._goto(child, seg, seg_count)
                if found is not None:
                    return found
        return None

    def _seg_usage(self, node: SegNode, seg: Segment, seg_count: int) -> None:
        if node.usage == "N":
            self.pending.append(
                ("2", f"Segment {node.id} found but marked as not used", None, "", 0)
            )
            return
        count = self.counts.get(node.path, 0)
        if count > node.max_use:
            self.pending.append(
                ("5", f"Segment {seg.tag} exceeded max count.  Found {count}, should have"
                      f" {node.max_use}", node, seg.tag, seg_count)
            )  # fmt: skip

    def _flush(self, cur_pos: int | None) -> None:
        keep = []
        for node, message, count in self.missing:
            if node.pos != cur_pos:
                self.pending.append(("3", message, node, node.id, count))
            else:
                keep.append((node, message, count))
        self.missing = keep


def _same(a: SegNode, b: SegNode) -> bool:
    """pyx12's node equality: the same id under a parent of the same id."""
    return a.id == b.id and (a.parent.id if a.parent else None) == (
        b.parent.id if b.parent else None
    )


# -- element and segment checks ---------------------------------------------------------------

_N = re.compile(r"-?[0-9]+")
_R = re.compile(r"-?[0-9]*(\.[0-9]+)?")
_BAD_E = re.compile(r"""[^A-Z0-9!"&'()*+,\-\./:;?= a-z%~@\[\]_{}\\|<>#$]""")
_BAD_E5 = re.compile(r"""[^A-Z0-9!"&'()*+,\-\./:;?= a-z%~@\[\]_{}\\|<>^`#$]""")
_NOT_DIGIT = re.compile(r"[^0-9]")
_CONTROL = (
    "\x07\x09\x0a\x0b\x0c\x0d\x1c\x1d\x1e\x1f\x01\x02\x03\x04\x05\x06\x11\x12\x13\x14\x15\x16\x17"
)


def _valid_time(val: str) -> bool:
    if _NOT_DIGIT.search(val):
        return False
    if val[0:2] > "23" or val[2:4] > "59":
        return False
    return len(val) <= 4 or not (len(val) < 6 or val[4:6] > "59" or len(val) > 8)


def _valid_date(val: str) -> bool:
    if _NOT_DIGIT.search(val) or len(val) not in (6, 8, 12):
        return False
    if len(val) == 6:
        val = ("20" if int(val[0:2]) < 50 else "19") + val
    year, month, day = int(val[0:4]), int(val[4:6]), int(val[6:8])
    if year < 1800 or not 1 <= month <= 12:
        return False
    if month in (1, 3, 5, 7, 8, 10, 12):
        top = 31
    elif month in (4, 6, 9, 11):
        top = 30
    else:
        top = 29 if (year % 4 == 0 and not (year % 100 == 0 and year % 400)) else 28
    if not 1 <= day <= top:
        return False
    return len(val) != 12 or _valid_time(val[8:12])


def _type_ok(val: str, dtype: str, icvn: str) -> bool:
    if not dtype:
        return True
    if dtype[0] == "N":
        return _N.fullmatch(val) is not None
    if dtype == "R":
        m = _R.match(val)
        return m is not None and m.group(0) == val
    if dtype in ("ID", "AN"):
        return (_BAD_E5 if icvn == "00501" else _BAD_E).search(val) is None
    if dtype in ("DT", "D8", "D6"):
        if (dtype == "D8" and len(val) != 8) or (dtype == "D6" and len(val) != 6):
            return False
        return _valid_date(val)
    if dtype == "TM":
        return _valid_time(val)
    return dtype == "B"


_CONTROL_RE = re.compile("[" + re.escape(_CONTROL) + "]")
_CONTROL_NAMES = tuple(zip(_CONTROL, (
    "BEL", "HT", "LF", "VT", "FF", "CR", "FS", "GS", "RS", "US",
    "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB",
), strict=True))  # fmt: skip
_DATES = ("RD8", "DT", "D8", "D6")


_CACHE_LIMIT = 1024


def _check_value(spec: ElementSpec, val: str, icvn: str) -> list[tuple[str, str, str | None]]:
    """pyx12 ``element_if.is_valid_errors`` on a simple value: (code, message, bad value).

    Results are remembered per element (codes, dates and quantities repeat line after
    line); the memory is bounded, so a 100,000-line set stays in constant memory."""
    cache = spec.cache
    found = cache.get(val)
    if found is None:
        found = _check_value_uncached(spec, val, icvn)
        if len(cache) < _CACHE_LIMIT:
            cache[val] = found
    return found


def _check_value_uncached(
    spec: ElementSpec, val: str, icvn: str
) -> list[tuple[str, str, str | None]]:
    if val == "":
        if spec.usage == "R" and (
            not spec.in_composite or spec.seq != 1 or spec.parent_usage == "R"
        ):
            return [("1", f"mandatory data element {spec.ref} is missing", None)]
        return []
    if spec.usage == "N":
        return [("10", f"{spec.ref} is marked as not used", None)]
    dtype = spec.data_type
    codes = spec.codes
    measured = len(
        val.replace("-", "").replace(".", "") if dtype == "R" or dtype[:1] == "N" else val
    )
    if (
        spec.min_len <= measured <= spec.max_len
        and (codes is None or val in codes)
        and val[-1] != " "
        and _CONTROL_RE.search(val) is None
        and _type_ok(val, dtype, icvn)
    ):
        return []
    out: list[tuple[str, str, str | None]] = []
    if measured < spec.min_len:
        out.append(("4", f"{spec.ref} is too short ({measured} < {spec.min_len})", val))
    if measured > spec.max_len:
        out.append(("5", f"{spec.ref} is too long ({measured} > {spec.max_len})", val))
    control = _CONTROL_RE.search(val)
    if control is not None:
        # pyx12 names the first control character of its list that occurs in the value.
        bad = next(f"<{name}>" for char, name in _CONTROL_NAMES if char in val)
        out.append(("6", f"{spec.ref} contains a control character", bad))
        return out
    if dtype in ("AN", "ID") and val[-1] == " " and len(val.rstrip()) >= spec.min_len:
        out.append(("6", f"{spec.ref} has trailing spaces", val))
    if codes is not None and val not in codes:
        out.append(("7", f"({val}) is not a valid code for {spec.ref}", val))
    if not _type_ok(val, dtype, icvn):
        code = "8" if dtype in _DATES else "9" if dtype == "TM" else "6"
        out.append((code, f"{spec.ref} is not a valid {dtype} value", val))
    return out


_Found = list[tuple[str, str, str | None, ElementSpec | None]]


def _check_composite(
    spec: CompositeSpec, value: tuple[str, ...] | None, icvn: str, found: _Found
) -> None:
    """pyx12 ``composite_if.is_valid_errors`` (composite errors carry no element)."""
    if value is not None and len(value) > len(spec.components) and spec.usage != "N":
        # pyx12 indexes one past its components to name the extra one and raises.
        raise _Crash("too many sub-elements in a composite")
    empty = value is None or all(v == "" for v in value)
    if empty and spec.usage in ("N", "S"):
        return
    if spec.usage == "R" and empty:
        found.append(("1", f"mandatory composite {spec.ref} is missing", None, None))
        return
    assert value is not None
    if spec.usage == "N":
        found.append(("5", f"composite {spec.ref} is marked as not used", None, None))
        return
    for j, sub in enumerate(spec.components):
        part = value[j] if j < len(value) else ""
        found += [(c, m, v, sub) for c, m, v in _check_value(sub, part, icvn)]


def _present(value: object, component: str) -> bool:
    """pyx12 ``get_value(...) != ""`` on an element that is there."""
    if type(value) is str:
        return value != ""
    return _format(_components(value), component) != ""


def _check_segment(walker: _Walker, node: SegNode, seg: Segment, icvn: str) -> None:
    """pyx12 ``apply_segment_errors``: element errors under the cursor, others as AK304 8."""
    comp = walker.component
    specs = node.elements
    count = len(specs)
    found: _Found = []
    data = seg.elements
    size = len(data)
    if size > count:
        extra = _get_value(seg, count + 1, None, comp)
        found.append(("3", f"too many elements in {seg.tag}: {size}, should have {count}",
                      extra, None))  # fmt: skip
    for i in range(min(size, count)):
        spec = specs[i]
        value = data[i]
        if isinstance(spec, CompositeSpec):
            _check_composite(spec, _components(value), icvn, found)
        elif type(value) is str:
            if value or spec.usage == "R":
                found += [(c, m, v, spec) for c, m, v in _check_value(spec, value, icvn)]
        else:
            parts = _components(value)
            if len(parts) > 1:
                bad = _format(parts, comp)
                found.append(("6", f"{spec.ref} is an invalid composite", bad, spec))
            else:
                found += [(c, m, v, spec) for c, m, v in _check_value(spec, parts[0], icvn)]
    if size < count:
        for i, spec in node.absent:
            if i < size:
                continue
            if isinstance(spec, CompositeSpec):
                _check_composite(spec, None, icvn, found)
            else:
                found.append(("1", f"mandatory data element {spec.ref} is missing", None, spec))
    for kind, idx in node.syntax:
        present = [i <= size and _present(data[i - 1], comp) for i in idx]
        bad_rule = False
        if kind == "P":
            bad_rule = 0 < sum(present) < len(idx)
        elif kind == "R":
            bad_rule = sum(present) == 0
        elif kind == "E":
            bad_rule = sum(present) > 1
        elif kind == "C":
            bad_rule = present[0] and sum(present[1:]) != len(idx) - 1
        elif kind == "L":
            bad_rule = present[0] and sum(present[1:]) == 0
        if bad_rule:
            found.append(("10" if kind == "E" else "2", f"syntax error ({kind})", None, None))
    for code, message, value, element_spec in found:
        if element_spec is None:
            walker.file("seg", "8", message, value)
            continue
        element, component = element_spec.seq, None
        if element_spec.in_composite:
            element, component = element_spec.parent_seq, element_spec.seq
        walker.file("ele", code, message, value, element=element, component=component,
                    element_ref=element_spec.data_ele)  # fmt: skip


def _reader_errors(seg: Segment, hl: dict[str, object], component: str) -> list[tuple[str, str]]:
    """What pyx12's reader reports on a segment: trailing separators, HL numbering."""
    out: list[tuple[str, str]] = []
    if seg.elements and seg.elements[-1] == "":
        out.append(("8", "segment contains trailing element terminators"))
    if not any(e if type(e) is str else _format(_components(e), component)
               for e in seg.elements):  # fmt: skip
        out.append(("8", f"segment {seg.tag} is empty"))
    if seg.tag == "HL":
        stack: list[int | None] = hl["stack"]  # type: ignore[assignment]
        hl["count"] = int(hl["count"]) + 1  # type: ignore[call-overload]
        if _int(_get_value(seg, 1, None, component)) != hl["count"]:
            out.append(("8", "HL01 does not match the HL count"))
        hl02 = _get_value(seg, 2, None, component)
        if hl02 != "":  # pyx12 also enters here when HL02 is absent (None)
            parent = _int(hl02)
            if parent not in stack:
                out.append(("8", f"HL parent ({parent}) is not a valid parent"))
            while stack and parent != stack[-1]:
                stack.pop()
        stack.append(int(hl["count"]))  # type: ignore[call-overload]
    return out


def _int(text: str | None) -> int | None:
    try:
        return int(text)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None


# -- the public entry point ---------------------------------------------------------------------


def validate_transaction(
    txn: Transaction, tables: MapTables, *, component: str = ">", repetition: str | None = None
) -> list[Finding]:
    """Validate one transaction set against compiled ``tables``; never raises for bad input.

    Returns the findings the reference engine (pyx12) returns for the same set, with the
    same levels, codes and positions (``component`` is the interchange's component
    separator, used to read composites as pyx12 reads them).
    """
    global _COMPONENT, _REPETITION
    _COMPONENT, _REPETITION = component, repetition or ""
    segments = txn.all_segments()
    kept, findings = segment_id_findings(segments)
    findings += _repetitions(tables, segments)
    try:
        errors = _walk_all(tables, [segments[i] for i in kept], component)
    except (_Crash, _Unsupported) as exc:
        last = segments[-1]
        findings.append(
            Finding("transaction", "5",
                    f"the validator could not process this transaction set ({exc})",
                    last.offset, last.tag)
        )  # fmt: skip
        return findings
    findings += _to_findings(errors, tables, segments, kept)
    return findings


def _walk_all(tables: MapTables, segments: list[Segment], component: str) -> list[_Err]:
    walker = _Walker(tables, component)
    node: SegNode = tables.gs
    hl: dict[str, object] = {"count": 0, "stack": []}
    reader: list[tuple[str, str]] = []
    seg_count = 0
    for seg in segments:
        if seg.tag == "ST":
            seg_count = 1
            hl = {"count": 0, "stack": []}
        elif seg.tag != "SE":
            seg_count += 1
        reader += _reader_errors(seg, hl, component)
        found = walker.walk(node, seg, seg_count)
        if found is None:
            if seg.tag == "ST":
                # pyx12 opens no err_st for an ST it cannot place: the error tree has no
                # transaction set, so the reference engine reports nothing from the walk.
                walker.lost = True
            continue
        node = found
        if seg.tag == "ST":
            walker.cursor = None
        elif seg.tag != "SE":
            walker.point(seg.tag, seg_count)
        for code, message in reader:
            walker.file("seg", code, message)
        reader = []
        if seg.tag == "SE":
            walker.cursor = None
        _check_segment(walker, node, seg, tables.icvn)
    # The synthetic GE: what is still missing is reported there (positions clamp to the end).
    ge = Segment("GE", ("1", "1"))
    walker.walk(node, ge, seg_count)
    for code, message in reader:
        walker.file("seg", code, message)
    if walker.lost:
        # With no err_st, the reader's own trailer errors (SE01 count, SE02 vs ST02)
        # make pyx12's error handler raise: the reference reports AK502 5.
        trailer = segments[-1] if segments and segments[-1].tag == "SE" else None
        if trailer is None:
            return []
        st02 = _get_value(segments[0], 2, None, component)
        if _int(_get_value(trailer, 1, None, component)) != len(segments) or (
            _get_value(trailer, 2, None, component) != st02
        ):
            raise _Crash("transaction set trailer error outside any set")
        return []
    return walker.errors


def _to_findings(
    errors: list[_Err], tables: MapTables, segments: tuple[Segment, ...], kept: list[int]
) -> list[Finding]:
    """The reference engine's translation of pyx12's error tree into findings."""
    first = segments[0]

    def locate(seg_count: int) -> tuple[Segment, int]:
        index = kept[seg_count - 1] if 1 <= seg_count <= len(kept) else len(segments) - 1
        return segments[index], index + 1

    head: list[Finding] = []
    st_elements: list[Finding] = []
    # Per err_seg (in the order each got its first error): its segment errors, then its
    # element errors, as pyx12's error tree lists them.
    groups: dict[int, tuple[list[Finding], list[Finding]]] = {}
    translated: set[str] = set()
    for err in errors:
        if err.kind == "st":
            head.append(Finding("transaction", err.code, err.message, first.offset, "ST"))
            continue
        if err.kind == "st_ele":
            seg_id = "SE" if "SE" in err.message else "ST"
            st_elements.append(
                Finding("transaction", "6" if err.element == 1 else "7", err.message,
                        first.offset, seg_id, element=err.element, bad_value=err.value)
            )  # fmt: skip
            continue
        segment, position = locate(err.seg_count)
        seg_list, ele_list = groups.setdefault(err.serial, ([], []))
        if err.kind == "seg":
            code = err.code
            if code == "1" and err.seg_id == segment.tag:
                qualifier = _qualifier_finding(tables, segment, position)
                if qualifier is not None:
                    seg_list.append(qualifier)
                    translated.add(err.seg_id)
                    continue
            code = code if code in ("1", "2", "3", "4", "5", "6", "7", "8") else "8"
            seg_list.append(
                Finding("segment", code, f"{describe('segment', code)}: {err.message}",
                        segment.offset, err.seg_id, position, None, bad_value=err.value)
            )  # fmt: skip
        else:
            ele_list.append(
                Finding("element", err.code, f"{describe('element', err.code)}: {err.message}",
                        segment.offset, err.seg_id, position, None, err.element, err.component,
                        err.element_ref, err.value)
            )  # fmt: skip
    found = head + st_elements
    for seg_list, ele_list in groups.values():
        found += seg_list + ele_list
    if translated:
        found = [
            f for f in found
            if not (f.level == "segment" and f.code == "3" and f.segment in translated)
        ]  # fmt: skip
    return found


def _qualifier_finding(tables: MapTables, segment: Segment, position: int) -> Finding | None:
    known = tables.qualifiers.get(segment.tag)
    value = segment.text(1)
    if known is None or value in known[0]:
        return None
    codes, element_ref = known
    if value == "":
        return Finding("element", "1",
                       f"mandatory data element missing: {segment.tag}01 (the qualifier) is empty",
                       segment.offset, segment.tag, position, None, 1,
                       element_ref=element_ref or None)  # fmt: skip
    return Finding("element", "7",
                   f"invalid code value: {segment.tag}01 is {value!r}; the map allows"
                   f" {', '.join(sorted(codes))}", segment.offset, segment.tag, position, None,
                   1, element_ref=element_ref or None, bad_value=value)  # fmt: skip


def _repetitions(tables: MapTables, segments: tuple[Segment, ...]) -> list[Finding]:
    found: list[Finding] = []
    for index, segment in enumerate(segments):
        for position, value in enumerate(segment.elements, 1):
            if not isinstance(value, Repeated):
                continue
            allowed = tables.repeats.get((segment.tag, position), 1)
            if len(value.values) > allowed:
                found.append(
                    Finding("element", "12",
                            f"too many repetitions: {segment.tag}{position:02d} has"
                            f" {len(value.values)}, the map allows {allowed}",
                            segment.offset, segment.tag, index + 1, None, position)
                )  # fmt: skip
    return found


#: TA1 note code (I18) of ISA01..ISA16, and the AK905 code of a GS element, as the
#: reference engine reports pyx12's findings on the envelope contents.
_ISA_TA1_CODES = (
    "010", "011", "012", "013", "005", "006", "007", "008",
    "014", "015", "016", "017", "018", "019", "020", "027",
)  # fmt: skip
#: ISA11/ISA12 are rewritten in the reference's synthetic copy and ISA13 is the codec's
#: check; GS08 was matched against maps.xml. Findings on them are not reported.
_SKIPPED = {"ISA": (11, 12, 13), "GS": (8,)}


def envelope_findings(
    isa: Segment,
    gs: Segment,
    tables: MapTables,
    control: MapTables,
    *,
    control_version: str,
    component: str,
    repetition: str | None,
) -> list[Finding]:
    """The reference engine's findings on the ISA and GS contents: the ISA checked against
    the control map's ISA (as the reference rewrites it: fixed widths, ISA11 and ISA12 of
    the control version), the GS against the transaction map's GS."""
    global _COMPONENT, _REPETITION
    _COMPONENT, _REPETITION = component, repetition or ""
    widths = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
    fields = [isa.text(i).ljust(w)[:w] for i, w in enumerate(widths, 1)]
    fields[11] = control_version
    fields[10] = (repetition or "^") if control_version >= "00501" else "U"
    fields[15] = component
    synthetic_isa = Segment("ISA", tuple(fields), isa.offset)
    isa_node = _find(control.root, ["ISA_LOOP", "ISA"])
    assert isinstance(isa_node, SegNode)
    found: list[Finding] = []
    for tag, node, seg, level, icvn in (
        ("ISA", isa_node, synthetic_isa, "interchange", control.icvn),
        ("GS", tables.gs, gs, "group", tables.icvn),
    ):
        walker = _Walker(tables, component)
        walker.point(tag, 0)
        try:
            _check_segment(walker, node, seg, icvn)
        except (_Crash, _Unsupported):
            continue
        for err in walker.errors:
            if err.kind != "ele" or err.element in _SKIPPED[tag] or err.element is None:
                continue
            if level == "group":
                code = {6: "6", 8: "2"}.get(err.element, "1")
            else:
                code = _ISA_TA1_CODES[err.element - 1]
            found.append(
                Finding(level, code, err.message, seg.offset, tag,  # type: ignore[arg-type]
                        element=err.element, bad_value=err.value)
            )  # fmt: skip
    return found
