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
"mandatory missing" until the walk has certainly moved on. Findings are the reference
engine's in every field: the same levels, codes and positions, including its translations
(an unlisted qualifier is AK403 7, not AK304 1; repetition counts; invalid segment ids)
and pyx12's quirks that reach the 997 (a reader's error is filed under the segment the
error handler points at), and pyx12's own message texts (names from the maps, values as
pyx12 prints them), built only when there is something to report. Where pyx12 raises on
some malformed input, the same input gives the same "could not process" finding (AK502 5),
naming the exception pyx12 raises.

pyx12 is not imported here: this module must run without it (lint-imports).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from gateway.errors import ValidationSetupError
from gateway.validation.codes import describe
from gateway.validation.report import Finding, segment_id_finding
from gateway.x12 import Composite, Repeated, Segment, Transaction

MAXINT = 2**31 - 1
#: A test on an element value (see ``_acceptor``): truthy when the value is valid.
_Accept = Callable[[str], object]
#: A test on the elements of a segment (see ``SegNode.accepts``).
_SegmentAccept = Callable[[tuple[object, ...]], object]
#: A planned walk (``_plan``): its steps, and its shortcut (``_shortcut``) if it has one.
_Planned = tuple[
    tuple[tuple[object, ...], ...], "tuple[tuple[str, ...], SegNode, LoopNode | None] | None"
]


def _never(val: str) -> bool:
    return False


def _refuse(data: tuple[object, ...]) -> bool:
    """The test of :attr:`SegNode.accepts` for segments that are always checked in full."""
    return False


# -- tables -------------------------------------------------------------------------------


@dataclass(eq=False)
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
    #: A test true only for values with no finding at all under the character set
    #: version ``fast_icvn`` (see :func:`_acceptor`; set when the map is compiled), for
    #: the values the cache cannot hold.
    fast: _Accept = field(default=lambda val: False, repr=False)
    fast_icvn: str = ""


@dataclass(frozen=True)
class CompositeSpec:
    """A composite element: its components in order."""

    #: pyx12's reference designator: the map's ``<refdes>``, else the xid.
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
    #: The syntax rules as bit masks over element positions (bit n = element n): (kind,
    #: every element named, the first one, the others, pyx12's message when the rule is
    #: broken), in map order.
    rules: tuple[tuple[str, int, int, int, str], ...] = ()
    #: The paths of the loops around this segment, innermost first.
    above: tuple[str, ...] = ()
    #: True when every element is simple (no composite): the common, fast case.
    simple: bool = True
    #: Syntax rule findings by which elements are present (all simple values), bounded.
    rule_cache: dict[tuple[bool, ...], list[tuple[str, str, None, None]]] = field(
        default_factory=dict, repr=False
    )
    #: Tests on the elements of a segment placed at this node, by their count (the test
    #: of segments of n elements at index n; none for more elements than the map has):
    #: true only when :func:`_check_segment` would find nothing wrong with them under the
    #: map's character set version, false meaning "check them" (see :meth:`accept`;
    #: filled by :func:`_segment_acceptors` when the map is compiled).
    accepts: list[_SegmentAccept] = field(default_factory=list, repr=False)

    is_loop = False

    def matches(self, seg: Segment, component: str) -> bool:
        """pyx12's ``segment_if.is_match``: the id, and the qualifier where there is one."""
        if seg.tag != self.id:
            return False
        key = self.key
        if key is None:
            return True
        index, sub, codes = key
        elements = seg.elements
        if sub is None and index <= len(elements):
            value = elements[index - 1]
            if type(value) is str:
                return value in codes
        return _get_value(seg, index, sub, component) in codes

    def accept(self, data: tuple[object, ...]) -> bool:
        """True only when :func:`_check_segment` finds nothing wrong with the elements
        ``data`` of a segment placed here (false means "check them"): the test of
        :attr:`accepts` for their count."""
        accepts = self.accepts
        return len(data) < len(accepts) and bool(accepts[len(data)](data))


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
    #: The paths of the loops around this loop, innermost first.
    above: tuple[str, ...] = ()

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
    #: segment id -> the (element, component) positions the map picks such segments by
    #: (their qualifiers); absent for ids picked by id alone.
    match_keys: dict[str, tuple[tuple[int, int | None], ...]] = field(default_factory=dict)
    #: Planned walks, by (node, segment id, qualifier values) (``_Walker.walk``).
    routes: dict[tuple[object, ...], _Planned] = field(default_factory=dict)
    #: The counts and loop contents every walk starts from (``_Walker``: the ISA, the GS
    #: and their loops used once), worked out by the first walker.
    start: tuple[dict[str, int], dict[str, frozenset[str]]] | None = None


def _text(elem: ET.Element, tag: str) -> str:
    return (elem.findtext(tag) or "").strip()


def _name(elem: ET.Element) -> str:
    """A node's name as pyx12 reads it (and prints it in messages: unstripped)."""
    return str(elem.get("name") or elem.findtext("name"))


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
        ref=elem.get("xid", ""), data_ele=number, name=_name(elem),
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
            refdes = child.findtext("refdes") or child.get("xid", "")
            specs.append(CompositeSpec(refdes, _name(child), usage, seq, parts))
    syntax: list[tuple[str, tuple[int, ...]]] = []
    for rule in elem.findall("syntax"):
        text = rule.text or ""
        if text and text[0] in "PRCLE":
            body = text[1:]
            syntax.append(
                (text[0], tuple(int(body[i : i + 2]) for i in range(0, len(body) - 1, 2)))
            )
    seg_id = elem.get("xid", "")
    for _, idx in syntax:
        if len(set(idx)) != len(idx) or len(idx) < 2:
            # pyx12 reports a rule of one element as broken whatever the data: not modeled.
            raise ValidationSetupError(
                f"segment {seg_id}: syntax rule names {idx} (twice? fewer than two?)"
            )
    rules = tuple(
        (kind, sum(1 << i for i in idx), 1 << idx[0], sum(1 << i for i in idx[1:]),
         _syntax_message(seg_id, kind, idx))
        for kind, idx in syntax
    )  # fmt: skip
    return SegNode(
        id=seg_id, name=_name(elem), usage=_text(elem, "usage"),
        pos=int(_text(elem, "pos")), max_use=_limit(elem.findtext("max_use")), path=seg_id,
        parent=parent, elements=tuple(specs), syntax=tuple(syntax),
        key=_match_key(seg_id, specs),
        absent=tuple((i, spec) for i, spec in enumerate(specs) if spec.usage == "R"),
        rules=rules, above=(parent.path, *parent.above),
        simple=all(isinstance(spec, ElementSpec) for spec in specs),
    )  # fmt: skip


def _syntax_message(seg_id: str, kind: str, idx: tuple[int, ...]) -> str:
    """pyx12's message (``syntax.is_syntax_valid``) when the rule ``kind``/``idx`` of segment
    ``seg_id`` is broken."""
    head = f"Syntax Error ({kind}{''.join(f'{i:02d}' for i in idx)}): "
    names = [f"{seg_id}{i:02d}" for i in idx]

    def listed(ids: list[str]) -> str:
        return ids[0] if len(ids) == 1 else f"{', '.join(ids[:-1])} or {ids[-1]}"

    if kind == "P":
        return f"{head}If any of {listed(names)} is present, then all are required"
    if kind == "R":
        return f"{head}At least one element is required"
    if kind == "E":
        return f"{head}At most one of {listed(names)} may be present"
    if kind == "C":
        verb = "are" if len(idx) > 2 else "is"
        return f"{head}If {names[0]} is present, then {listed(names[1:])} {verb} required"
    return f"{head}If {names[0]} is present, then at least one of {listed(names[1:])} is required"


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
            loop_id, _name(elem), _text(elem, "usage"), int(_text(elem, "pos")),
            _limit(elem.findtext("repeat")), path, parent, above=(parent.path, *parent.above),
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


def _segments(loop: LoopNode) -> list[SegNode]:
    """Every segment node under ``loop``."""
    found: list[SegNode] = []
    for child in loop.children():
        found += _segments(child) if isinstance(child, LoopNode) else [child]
    return found


#: The match keys of segments picked by their first element alone (by far the most
#: common): one shared tuple, so that ``_Walker.walk`` tells them by identity.
_BY_FIRST: tuple[tuple[int, int | None], ...] = ((1, None),)


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
    match_keys: dict[str, set[tuple[int, int | None]]] = {}
    for seg in _segments(root):
        if seg.key is not None:
            match_keys.setdefault(seg.id, set()).add(seg.key[:2])
    picked_by = {
        tag: _BY_FIRST if keys == set(_BY_FIRST) else tuple(sorted(keys, key=str))
        for tag, keys in match_keys.items()
    }
    for seg in _segments(root):
        for spec in seg.elements:
            for simple in spec.components if isinstance(spec, CompositeSpec) else (spec,):
                simple.fast, simple.fast_icvn = _acceptor(simple, icvn), icvn
        seg.accepts = _segment_acceptors(seg, icvn)
    return MapTables(map_file, root, gs, icvn, qualifiers, repeats, picked_by)


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
    """Input on which pyx12 raises; the reference engine reports AK502 5, naming pyx12's
    exception: each raise gives that exception's type and text (``IndexError: ...``)."""


#: What pyx12 raises where the fast engine raises :class:`_Crash` (Python 3.11 texts).
#: An element error under a segment cursor with no err_st: ``_add_cur_seg`` appends to
#: the missing err_st's children.
_CRASH_NO_SET = "AttributeError: 'NoneType' object has no attribute 'children'"
#: A trailer error of the reader with no err_st: ``st_error`` asks it for its line.
_CRASH_NO_SET_LINE = "AttributeError: 'NoneType' object has no attribute 'get_cur_line'"
#: A composite with more components than the map: segment_if names the one past the
#: map's last component.
_CRASH_COMPONENTS = "IndexError: list index out of range"


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
    #: The segment of the set the error is reported on, and its 1-based place in the set
    #: (the segment walked as number ``seg_count``); None for errors on the set itself.
    at: tuple[Segment, int] | None
    value: str | None = None
    element: int | None = None
    component: int | None = None
    element_ref: str | None = None


class _Walker:
    """pyx12's ``walk_tree`` over compiled tables, with its error handler's cursor."""

    def __init__(self, tables: MapTables, component: str) -> None:
        self.tables = tables
        self.component = component
        self.match_keys = tables.match_keys
        self.routes = tables.routes
        self.counts: dict[str, int] = {}
        # loop path -> the counter keys of its own children (segments and loops) created
        # since it last started: what a repetition of the loop forgets, with what its
        # loops held (a set per loop, so memory stays bounded).
        self.inside: dict[str, set[str]] = {}
        start = tables.start
        if start is None:
            isa_loop = _find(tables.root, ["ISA_LOOP"])
            gs_loop = _find(tables.root, ["ISA_LOOP", "GS_LOOP"])
            for node in (isa_loop, _find(tables.root, ["ISA_LOOP", "ISA"]), gs_loop, tables.gs):
                self._count(node.path, node.above)
            tables.start = (
                dict(self.counts),
                {path: frozenset(keys) for path, keys in self.inside.items()},
            )
        else:
            # The same start for every set of the map: copied, not worked out again.
            counts, inside = start
            self.counts.update(counts)
            self.inside = {path: set(keys) for path, keys in inside.items()}
        self.errors: list[_Err] = []
        # The error handler's cursor: the err_seg new errors are filed under, with the
        # segment it stands for and that segment's place in the set.
        self.cursor: tuple[str, int, int, tuple[Segment, int] | None] | None = None
        # The last segment walked with a count of its own (not SE), and its place: what
        # pyx12's seg_count designates.
        self.here: tuple[Segment, int] | None = None
        self.lost = False  # True when the ST was not placed: there is no err_st
        self.serial = 0

    # counters
    def _count(self, path: str, above: tuple[str, ...]) -> int:
        """One more use of the node at ``path`` (inside the loops ``above``, innermost
        first); returns its uses."""
        counts = self.counts
        uses = counts.get(path)
        if uses is None:
            counts[path] = 1
            if above:
                keys = self.inside.get(above[0])
                if keys is None:
                    self.inside[above[0]] = {path}
                else:
                    keys.add(path)
            return 1
        counts[path] = uses + 1
        return uses + 1

    def _reset(self, loop_path: str) -> None:
        """Forget the counts inside the loop at ``loop_path`` (it starts again)."""
        keys = self.inside.get(loop_path)
        if keys:
            counts = self.counts
            inside = self.inside
            for key in keys:
                counts.pop(key, None)
                if key in inside:  # a loop: what it held goes too
                    self._reset(key)
            keys.clear()

    # errors
    def file(
        self, kind: str, code: str, message: str, value: str | None = None, **kw: object
    ) -> None:
        """Attach an error under the cursor, as ``err_handler.seg_error`` does."""
        if self.lost:
            # No err_st (the ST was not placed): pyx12 swallows segment errors and errors
            # on the GS cursor, and raises on an element error under a segment cursor.
            if kind == "ele" and self.cursor is not None:
                raise _Crash(_CRASH_NO_SET)
            return
        if self.cursor is None:
            if kind == "seg":
                # err_handler.seg_error calls err_st.add_error with one argument too many;
                # the TypeError is swallowed, and so is the error (pyx12 4.0.0).
                return
            kind = "st_ele"
            seg_id, count, serial, at = "ST", 1, 0, None
        else:
            seg_id, count, serial, at = self.cursor
        self.errors.append(_Err(kind, code, message, seg_id, count, serial, at, value, **kw))  # type: ignore[arg-type]

    def point(self, seg_id: str, seg_count: int) -> None:
        """A new err_seg becomes the cursor (``err_handler.add_seg``); ``seg_count`` is
        always the count of the segment being walked (``here``)."""
        self.serial += 1
        self.cursor = (seg_id, seg_count, self.serial, self.here)

    def walk(self, node: SegNode, seg: Segment, seg_count: int) -> SegNode | None:
        """Find the node of ``seg`` from ``node``; walk errors are filed as pyx12 does.

        Where the walk goes depends only on the node, the segment id and the values the
        map picks segments by (qualifiers), never on the counts: so the route is planned
        once per such key (:func:`_plan`) and replayed; the counts only decide which
        errors the route's checks raise (:meth:`_follow`)."""
        tag = seg.tag
        positions = self.match_keys.get(tag)
        if positions is None:
            key: tuple[object, ...] = (node, tag)
        elif positions is _BY_FIRST:
            elements = seg.elements
            first = elements[0] if elements else None
            if type(first) is not str:  # absent, a composite or a repetition
                first = _get_value(seg, 1, None, self.component)
            key = (node, tag, first)
        else:
            comp = self.component
            key = (node, tag, *(_get_value(seg, i, sub, comp) for i, sub in positions))
        planned = self.routes.get(key)
        if planned is None:
            route = _plan(self.tables, node, seg, self.component)
            planned = (route, _shortcut(route))
            if len(self.routes) < _ROUTE_LIMIT:
                self.routes[key] = planned
        route, shortcut = planned
        if shortcut is not None:
            # The usual route: mandatory nodes passed by, then the segment or the loop
            # found. When none of them is missing, it is taken here rather than by
            # _follow, with the same checks in the same order (at most one error).
            checks, child, loop = shortcut
            counts = self.counts
            for path in checks:
                if not counts.get(path):
                    break  # missing: _follow reports it
            else:
                if loop is not None:
                    # When the loop's last repetition held its first segment only (a PO1
                    # loop of just a PO1), starting again is that count going back to 1:
                    # _reset and _count in one step.
                    fresh = False
                    if loop.usage == "N":
                        self.file("seg", "2", f"Loop {loop.id} found but marked as not used")
                    else:
                        keys = self.inside.get(loop.path)
                        fresh = keys is not None and len(keys) == 1 and child.path in keys
                        if not fresh:
                            self._reset(loop.path)
                        repeats = counts.get(loop.path)
                        if repeats is None:
                            repeats = self._count(loop.path, loop.above)
                        else:  # _count, inline for a loop that repeats
                            repeats += 1
                            counts[loop.path] = repeats
                        if repeats > loop.repeat:
                            self.point(tag, seg_count)
                            self.file("seg", "4", f"Loop {loop.id} exceeded max count."
                                      f"  Found {repeats}, should have {loop.repeat}")  # fmt: skip
                    if fresh:
                        counts[child.path] = 1
                    else:
                        self._count(child.path, child.above)
                    return child
                path = child.path
                uses = counts.get(path)
                if uses is None:
                    uses = self._count(path, child.above)
                else:
                    uses += 1
                    counts[path] = uses
                if child.usage == "N":
                    self.file("seg", "2", f"Segment {child.id} found but marked as not used")
                elif uses > child.max_use:
                    self.point(tag, seg_count)
                    self.file("seg", "5", f"Segment {tag} exceeded max count.  Found {uses},"
                                          f" should have {child.max_use}")  # fmt: skip
                return child
        return self._follow(route, node, seg, seg_count)

    def _follow(
        self, route: tuple[tuple[object, ...], ...], orig: SegNode, seg: Segment, seg_count: int
    ) -> SegNode | None:
        """Apply a planned route: count uses, collect what is missing, file the errors."""
        counts = self.counts
        missing: list[tuple[SegNode, str, int]] = []
        pending: list[tuple[str, str, SegNode | None, str, int]] = []
        found: SegNode | None = None

        def flush(cur_pos: int | None) -> list[tuple[SegNode, str, int]]:
            keep = []
            for missed, message, count in missing:
                if missed.pos != cur_pos:
                    pending.append(("3", message, missed, missed.id, count))
                else:
                    keep.append((missed, message, count))
            return keep

        for step in route:
            kind = step[0]
            if kind is _MISSING:
                _, path, missed, message = step
                if counts.get(path, 0) < 1:  # type: ignore[call-overload]
                    missing.append((missed, message, seg_count))  # type: ignore[arg-type]
            elif kind is _SEGMENT:
                child: SegNode = step[1]  # type: ignore[assignment]
                uses = self._count(child.path, child.above)
                if child.usage == "N":
                    pending.append(
                        ("2", f"Segment {child.id} found but marked as not used", None, "", 0)
                    )
                elif uses > child.max_use:
                    pending.append(
                        ("5", f"Segment {seg.tag} exceeded max count.  Found {uses}, should"
                              f" have {child.max_use}", child, seg.tag, seg_count)
                    )  # fmt: skip
                if missing:
                    missing = [m for m in missing if not _same(m[0], child)]
                    missing = flush(child.pos)
                found = child
            elif kind is _LOOP:
                loop: LoopNode = step[1]  # type: ignore[assignment]
                first: SegNode = step[2]  # type: ignore[assignment]
                if loop.usage == "N":
                    pending.append(
                        ("2", f"Loop {loop.id} found but marked as not used", None, "", 0)
                    )
                else:
                    self._reset(loop.path)
                    repeats = self._count(loop.path, loop.above)
                    if repeats > loop.repeat:
                        pending.append(
                            ("4", f"Loop {loop.id} exceeded max count.  Found {repeats}, should"
                                  f" have {loop.repeat}", first, seg.tag, seg_count)
                        )  # fmt: skip
                self._count(first.path, first.above)
                if missing:
                    missing = flush(None)
                found = first
            else:  # _NOT_FOUND
                message = (f"Segment {_walk_text(seg, self.component)} not found.  Started at"
                           f" {orig.path}")  # fmt: skip
                pending.append(("1", message, orig, seg.tag, seg_count))
        for code, message, map_node, seg_id, count in pending:
            if map_node is not None:
                self.point(seg_id, count)
            self.file("seg", code, message)
        return found


#: Steps of a planned route (see ``_plan``).
_MISSING, _SEGMENT, _LOOP, _NOT_FOUND = "missing", "segment", "loop", "not found"
#: Routes kept per map (keys are node, segment id and qualifier values: bounded).
_ROUTE_LIMIT = 8192


def _shortcut(
    route: tuple[tuple[object, ...], ...],
) -> tuple[tuple[str, ...], SegNode, LoopNode | None] | None:
    """For a route of ``_MISSING`` checks then one ``_SEGMENT`` or ``_LOOP`` step (nearly
    every route): the paths it checks, the segment node it ends on and the loop it enters
    (None for a ``_SEGMENT`` step); ``_Walker.walk`` takes such a route itself while
    nothing is missing. None for any other route."""
    if not route or route[-1][0] not in (_SEGMENT, _LOOP):
        return None
    checks = route[:-1]
    if any(step[0] is not _MISSING for step in checks):
        return None
    paths = tuple(str(step[1]) for step in checks)
    last = route[-1]
    if last[0] is _SEGMENT:
        return paths, last[1], None  # type: ignore[return-value]
    return paths, last[2], last[1]  # type: ignore[return-value]


def _plan(tables: MapTables, node: SegNode, seg: Segment, component: str) -> tuple[
    tuple[object, ...], ...
]:  # fmt: skip
    """pyx12's walk from ``node`` for ``seg`` as a route: the steps that read or change
    the counts, in the order the walk takes them. Mandatory nodes passed by are checked
    (``_MISSING``: missing when never used), the segment found (``_SEGMENT``) or the loop
    entered by its first segment (``_LOOP``), or ``_NOT_FOUND``. It scans the current
    loop's children from the current position on, enters loops by their first segment
    and climbs to the enclosing loop when nothing matches, as ``walk_tree`` does."""
    route: list[tuple[object, ...]] = []

    def loop_match(loop: LoopNode) -> bool:
        first = loop.first()
        if first is None:
            return False
        if isinstance(first, LoopNode):
            return any(isinstance(c, LoopNode) and loop_match(c) for c in loop.children())
        if first.matches(seg, component):
            return True
        if loop.usage == "R":
            route.append((_MISSING, loop.path, first,
                          f'Mandatory loop "{loop.name}" ({loop.id}) missing'))  # fmt: skip
        return False

    def goto(loop: LoopNode) -> bool:
        first = loop.first()
        if isinstance(first, SegNode) and first.matches(seg, component):
            route.append((_LOOP, loop, first))
            return True
        return any(isinstance(c, LoopNode) and goto(c) for c in loop.children())

    def scan(loop: LoopNode, pos: int) -> bool:
        for child_pos, group in loop.positions:
            if child_pos < pos:
                continue
            for child in group:
                if isinstance(child, SegNode):
                    if child.matches(seg, component):
                        if not loop.is_root and loop_match(loop):
                            return goto(loop)
                        route.append((_SEGMENT, child))
                        return True
                    if child.usage == "R":
                        message = f'Mandatory segment "{child.name}" ({child.id}) missing'
                        route.append((_MISSING, child.path, child, message))
                elif loop_match(child):
                    return goto(child)
        return False

    loop: LoopNode = node.parent if node.parent is not None else tables.root
    pos = node.pos
    while not scan(loop, pos):
        if loop.is_root:
            route.append((_NOT_FOUND,))
            break
        pos = loop.pos
        assert loop.parent is not None
        loop = loop.parent
    return tuple(route)


def _walk_text(seg: Segment, component: str) -> str:
    """A segment the walk cannot place, as pyx12's walker names it: an HL whole (fixed
    separators ``*`` and ``:``), any other by its id and first element."""
    if seg.tag == "HL":
        values = tuple(_format(_components(value), ":") for value in seg.elements)
        return f"HL*{_format(values, '*')}"
    return f"{seg.tag}*{_get_value(seg, 1, None, component)}"


def _same(a: SegNode, b: SegNode) -> bool:
    """pyx12's node equality: the same id under a parent of the same id."""
    return a.id == b.id and (a.parent.id if a.parent else None) == (
        b.parent.id if b.parent else None
    )


# -- element and segment checks ---------------------------------------------------------------

_N = re.compile(r"-?[0-9]+")
_R = re.compile(r"-?[0-9]*(\.[0-9]+)?")
_GOOD_E = r"""A-Z0-9!"&'()*+,\-\./:;?= a-z%~@\[\]_{}\\|<>#$"""
_GOOD_E5 = r"""A-Z0-9!"&'()*+,\-\./:;?= a-z%~@\[\]_{}\\|<>^`#$"""
_BAD_E = re.compile(f"[^{_GOOD_E}]")
_BAD_E5 = re.compile(f"[^{_GOOD_E5}]")
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
_NOTHING: list[tuple[str, str, str | None]] = []  # shared: callers never change a result


def _acceptor(spec: ElementSpec, icvn: str) -> _Accept:
    """A test true only for a non-empty value :func:`_check_value_uncached` finds nothing
    wrong with (false means "check it"): one regular expression per element for the
    kinds whose values rarely repeat (identifiers, names, numbers, amounts)."""
    if spec.usage == "N" or spec.codes is not None:
        return _never
    low, high = max(spec.min_len, 1), spec.max_len
    dtype = spec.data_type
    if dtype in ("AN", "ID"):
        # The X12 basic/extended character set minus control characters, no trailing
        # space (pyx12 reports one), length in bounds (the length of AN/ID is len()).
        chars = _GOOD_E5 if icvn == "00501" else _GOOD_E
        last = chars.replace(" ", "")
        return re.compile(f"[{chars}]{{{low - 1},{high - 1}}}[{last}]").fullmatch
    if dtype[:1] == "N":
        return re.compile(f"-?[0-9]{{{low},{high}}}").fullmatch
    if dtype == "R":
        # The shape of _R, and between low and high digits (the length of an R value
        # counts its digits only, X12.6 3.5.3); \Z, as $ would also match before a LF.
        return re.compile(
            f"-?(?=(?:\\.?[0-9]){{{low},{high}}}\\Z)[0-9]*(?:\\.[0-9]+)?"
        ).fullmatch
    return _never


def _value_test(spec: ElementSpec, var: str, names: dict[str, object], icvn: str) -> str:
    """A Python expression true only when the non-empty value in ``var`` has no finding
    (:func:`_check_value` finds nothing), for :func:`acceptor_source`. A composite or
    repeated value never passes: it is in no set or cache of strings, and the string tests
    raise TypeError or AttributeError on it."""
    key = f"{var}_{len(names)}"
    if spec.codes is not None:
        # The codes of the map that are also valid values (a code may be too long, say).
        names[f"good_{key}"] = frozenset(
            code for code in spec.code_list if code and not _check_value_uncached(spec, code, icvn)
        )
        return f"{var} in good_{key}"
    names[f"cache_{key}"] = spec.cache
    # The cache holds the results of values checked before: an empty list is no finding.
    cached = f"not cache_{key}.get({var}, True)"
    if spec.fast is _never:
        return cached
    names[f"fast_{key}"] = spec.fast
    low, high = max(spec.min_len, 1), spec.max_len
    dtype = spec.data_type
    # Cheaper string tests for the usual values ahead of the element's regular expression:
    # ASCII letters and digits are in every X12 character set (AN, ID); digits alone are a
    # valid N or R value, and so are digits around one inner or leading point (R: its
    # length counts digits only).
    if dtype in ("AN", "ID"):
        quick = f"{_length(var, low, high)} and {var}.isascii() and {var}.isalnum()"
    elif dtype[:1] == "N":
        quick = f"{_length(var, low, high)} and {var}.isdigit() and {var}.isascii()"
    else:  # R: whole numbers first (no copy), then one point
        digits = f"digits_{key}"
        quick = (f"{var}.isdigit() and {var}.isascii() and {_length(var, low, high)}"
                 f" or {var}[-1] != '.' and ({digits} := {var}.replace('.', '', 1)).isdigit()"
                 f" and {digits}.isascii() and {_length(digits, low, high)}")  # fmt: skip
    return f"({quick}) or fast_{key}({var}) or {cached}"


def _length(var: str, low: int, high: int) -> str:
    """A test that the non-empty value in ``var`` has between ``low`` and ``high``
    characters (non-empty: at least 1 needs no test)."""
    if low == high:
        return f"len({var}) == {low}"
    if low <= 1:
        return f"len({var}) <= {high}"
    return f"{low} <= len({var}) <= {high}"


def _segment_acceptors(node: SegNode, icvn: str) -> list[_SegmentAccept]:
    """:attr:`SegNode.accepts` for ``node``: one test per element count from none to the
    map's count, each written (:func:`acceptor_source`) when first called, as most
    counts never occur; empty when every segment there is left to :func:`_check_segment`."""
    if not _acceptable(node):
        return []
    accepts: list[_SegmentAccept] = []

    def written_on_first_use(count: int) -> _SegmentAccept:
        def accept(data: tuple[object, ...]) -> object:
            accepts[count] = _count_acceptor(node, icvn, count)
            return accepts[count](data)

        return accept

    accepts += [written_on_first_use(count) for count in range(len(node.elements) + 1)]
    return accepts


def _count_acceptor(node: SegNode, icvn: str, count: int) -> _SegmentAccept:
    """The test of ``node``'s segments of ``count`` elements that
    :func:`acceptor_source` writes (``_refuse`` when it writes none)."""
    written = acceptor_source(node, icvn, count)
    if written is None:
        return _refuse
    source, names = written
    exec(compile(source, f"<accept {node.path} {count}>", "exec"), names)
    accept = names["accept"]
    assert callable(accept)
    return accept  # type: ignore[no-any-return]


def _acceptable(node: SegNode) -> bool:
    """False when every segment at ``node`` is left to :func:`_check_segment`."""
    if any(isinstance(spec, CompositeSpec) and spec.usage not in ("S", "N")
           for spec in node.elements):  # fmt: skip
        return False  # even empty, such a composite may have findings (its mandatory parts)
    # A rule naming no element of the segment: not worth a shortcut.
    return all(index >= 1 for _, idx in node.syntax for index in idx)


def acceptor_source(node: SegNode, icvn: str, count: int) -> tuple[str, dict[str, object]] | None:
    """The source of the test of :attr:`SegNode.accepts` for ``node``'s segments of
    ``count`` elements and the names it uses, or None when every such segment is left to
    :func:`_check_segment` (``count`` above the map's, a mandatory element or every
    element of an R rule absent).

    One test per element present, unrolled, then the syntax rules on which of them are
    non-empty (absent elements are decided here, once): it rules out each finding of
    ``_check_segment`` in turn (a mandatory element absent or empty, a value with a
    finding, a broken syntax rule), so it is true only when every element is a plain
    string the checks accept; anything else (a composite, a value never seen, a rule
    broken) is left to ``_check_segment``."""
    specs = node.elements
    if not _acceptable(node) or count > len(specs):
        return None
    if any(spec.usage == "R" for spec in specs[count:]):
        return None  # a mandatory element is missing
    values = [f"v{k}" for k in range(count)]
    # The elements the tests below leave only when non-empty (mandatory, simple).
    sure = {k for k, spec in enumerate(specs[:count])
            if isinstance(spec, ElementSpec) and spec.usage == "R"}  # fmt: skip
    names: dict[str, object] = {}
    body = ["def accept(data):"]
    if count:
        body += [f"    {', '.join(values)}, = data", "    try:"]
    for var, spec in zip(values, specs):  # noqa: B905 - count <= len(specs)
        if isinstance(spec, CompositeSpec) or spec.usage == "N":
            test = f"{var}"  # left to _check_segment (Not Used, or a composite's parts)
        elif spec.usage == "R":
            value_test = _value_test(spec, var, names, icvn)
            # Codes never include "": the set test alone rules out an empty value.
            guarded = spec.codes is not None
            test = f"not ({value_test})" if guarded else f"not ({var} and ({value_test}))"
        else:
            test = f"{var} and not ({_value_test(spec, var, names, icvn)})"
        body += [f"        if {test}:", "            return False"]
    if count:
        body += ["    except (TypeError, AttributeError):  # a composite or repeated value",
                 "        return False"]  # fmt: skip
    for kind, idx in node.syntax:
        broken = _rule_broken(kind, [None if i > count else _SURE if i - 1 in sure
                                     else values[i - 1] for i in idx])  # fmt: skip
        if broken == "True":
            return None
        if broken is not None:
            body += [f"    if {broken}:", "        return False"]
    body.append("    return True")
    return "\n".join(body) + "\n", names


def _rule_broken(kind: str, named: list[str | None]) -> str | None:
    """An expression true when the syntax rule ``kind`` is broken, over the elements it
    names in rule order: each the variable of an element that may be empty, ``_SURE`` for
    one known to be non-empty (a mandatory element that passed its test) or None for an
    absent one. None when the rule cannot be broken, "True" when it always is."""
    maybe = [v for v in named if v is not None and v is not _SURE]
    sure = sum(v is _SURE for v in named)
    absent = None in named
    any_maybe = " or ".join(maybe)
    if kind == "P":  # all or none
        if absent:  # then none
            return "True" if sure else any_maybe or None
        if sure:
            return f"not ({' and '.join(maybe)})" if maybe else None
        return f"({any_maybe}) and not ({' and '.join(maybe)})"
    if kind == "R":  # at least one
        if sure:
            return None
        return f"not ({any_maybe})" if maybe else "True"
    if kind == "E":  # at most one
        if sure >= 2:
            return "True"
        if sure:
            return any_maybe or None
        if len(maybe) < 2:
            return None
        return " + ".join(f"({v} != '')" for v in maybe) + " > 1"
    first, rest = named[0], named[1:]
    if first is None:  # C and L apply when their first element is present
        return None
    rest_maybe = [v for v in rest if v is not None and v is not _SURE]
    if kind == "C":  # the first one needs all the others
        if None in rest:
            needed = "True"
        elif rest_maybe:
            needed = f"not ({' and '.join(rest_maybe)})"
        else:
            return None
    else:  # L: the first one needs one of the others
        if _SURE in rest:
            return None
        needed = f"not ({' or '.join(rest_maybe)})" if rest_maybe else "True"
    if first is _SURE:
        return needed
    return first if needed == "True" else f"{first} and {needed}"


#: In :func:`_rule_broken`: an element known to be non-empty.
_SURE = "<sure>"


def _check_value(spec: ElementSpec, val: str, icvn: str) -> list[tuple[str, str, str | None]]:
    """pyx12 ``element_if.is_valid_errors`` on a simple value: (code, message, bad value).

    Results are remembered per element (codes, dates and quantities repeat line after
    line); the memory is bounded, so a 100,000-line set stays in constant memory. Values
    that do not repeat (product ids, prices) pass a compiled test instead when valid."""
    found = spec.cache.get(val)
    return _check_new_value(spec, val, icvn) if found is None else found


def _check_new_value(
    spec: ElementSpec, val: str, icvn: str
) -> list[tuple[str, str, str | None]]:
    """:func:`_check_value` for a value not in the element's cache."""
    if val and icvn == spec.fast_icvn and spec.fast(val):
        return _NOTHING
    found = _check_value_uncached(spec, val, icvn)
    cache = spec.cache
    if len(cache) < _CACHE_LIMIT:
        cache[val] = found
    return found


def _check_value_uncached(
    spec: ElementSpec, val: str, icvn: str
) -> list[tuple[str, str, str | None]]:
    """The checks of pyx12 ``element_if.is_valid_errors``, with its messages."""
    if val == "":
        if spec.usage == "R" and (
            not spec.in_composite or spec.seq != 1 or spec.parent_usage == "R"
        ):
            return [("1", _missing_message(spec), None)]
        return []
    if spec.usage == "N":
        return [("10", f"Data element {_named(spec)} is marked as Not Used", None)]
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
    this = f"Data element {_named(spec)}"
    if measured < spec.min_len:
        out.append(("4", f'{this} is too short: len("{val}") = {measured} < {spec.min_len}'
                         " (min_len)", val))  # fmt: skip
    if measured > spec.max_len:
        out.append(("5", f'{this} is too long: len("{val}") = {measured} > {spec.max_len}'
                         " (max_len)", val))  # fmt: skip
    control = _CONTROL_RE.search(val)
    if control is not None:
        # pyx12 names the first control character of its list that occurs in the value.
        bad = next(f"<{name}>" for char, name in _CONTROL_NAMES if char in val)
        out.append(("6", f"{this}, contains an invalid control character({bad})", bad))
        return out
    if dtype in ("AN", "ID") and val[-1] == " " and len(val.rstrip()) >= spec.min_len:
        out.append(("6", f"{this} has unnecessary trailing spaces. ({val})", val))
    if codes is not None and val not in codes:
        out.append(("7", f"({val}) is not a valid code for {spec.name} ({spec.ref})", val))
    if not _type_ok(val, dtype, icvn):
        if dtype in _DATES:
            out.append(("8", f"{this} contains an invalid date ({val})", val))
        elif dtype == "TM":
            out.append(("9", f"{this} contains an invalid time ({val})", val))
        else:
            out.append(("6", f"{this} is type {dtype}, contains an invalid character({val})",
                        val))  # fmt: skip
    return out


def _named(spec: ElementSpec | CompositeSpec) -> str:
    """An element or composite as pyx12's messages name it: its name and designator."""
    return f'"{spec.name}" ({spec.ref})'


def _missing_message(spec: ElementSpec) -> str:
    return f"Mandatory data element {_named(spec)} is missing"


_Found = list[tuple[str, str, str | None, ElementSpec | None]]


def _check_composite(
    spec: CompositeSpec, value: tuple[str, ...] | None, icvn: str, found: _Found
) -> None:
    """pyx12 ``composite_if.is_valid_errors`` (composite errors carry no element)."""
    if value is not None and len(value) > len(spec.components) and spec.usage != "N":
        # pyx12 indexes one past its components to name the extra one and raises.
        raise _Crash(_CRASH_COMPONENTS)
    empty = value is None or all(v == "" for v in value)
    if empty and spec.usage in ("N", "S"):
        return
    if spec.usage == "R" and empty:
        found.append(("1", f"Mandatory composite {_named(spec)} is missing", None, None))
        return
    assert value is not None
    if spec.usage == "N":
        found.append(("5", f"Composite {_named(spec)} is marked as Not Used", None, None))
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
    plain = True  # every value a plain string (no composite, no repetition)
    if size > count:
        plain = False
        extra = _get_value(seg, count + 1, None, comp)
        found.append(("3", f'Too many elements in segment "{node.name}" ({seg.tag}). Has'
                           f" {size}, should have {count}", extra, None))  # fmt: skip
    simple = node.simple
    for spec, value in zip(specs, data):  # noqa: B905 - the shorter one bounds the checks
        if type(value) is str and (simple or type(spec) is ElementSpec):
            if value:
                result = spec.cache.get(value)  # type: ignore[union-attr]
                if result is None:
                    if spec.fast(value) and spec.fast_icvn == icvn:  # type: ignore[union-attr]
                        continue
                    result = _check_new_value(spec, value, icvn)  # type: ignore[arg-type]
            elif spec.usage == "R":
                result = _check_value(spec, value, icvn)  # type: ignore[arg-type]
            else:
                continue
            if result:
                found += [(c, m, v, spec) for c, m, v in result]
            continue
        if type(value) is not str:
            plain = False
        if isinstance(spec, CompositeSpec):
            _check_composite(spec, _components(value), icvn, found)
        else:
            parts = _components(value)
            if len(parts) > 1:
                bad = _format(parts, comp)
                found.append(("6", f"Data element {_named(spec)} is an invalid composite", bad,
                              spec))  # fmt: skip
            else:
                found += [(c, m, v, spec) for c, m, v in _check_value(spec, parts[0], icvn)]
    if size < count and node.absent and size <= node.absent[-1][0]:
        for i, spec in node.absent:
            if i < size:
                continue
            if isinstance(spec, CompositeSpec):
                _check_composite(spec, None, icvn, found)
            else:
                found.append(("1", _missing_message(spec), None, spec))
    if node.rules:
        if plain:
            # Which rules break depends only on which elements are present.
            shape = tuple(map(bool, data))
            broken = node.rule_cache.get(shape)
            if broken is None:
                broken = _syntax_errors(node, data, comp)
                if len(node.rule_cache) < _CACHE_LIMIT:
                    node.rule_cache[shape] = broken
        else:
            broken = _syntax_errors(node, data, comp)
        if broken:
            found += broken
    for code, message, value, element_spec in found:
        if element_spec is None:
            walker.file("seg", "8", message, value)
            continue
        element, component = element_spec.seq, None
        if element_spec.in_composite:
            element, component = element_spec.parent_seq, element_spec.seq
        walker.file("ele", code, message, value, element=element, component=component,
                    element_ref=element_spec.data_ele)  # fmt: skip


def _syntax_errors(
    node: SegNode, data: tuple[object, ...], comp: str
) -> list[tuple[str, str, None, None]]:
    """X12.6 syntax notes (P paired, R required, E exclusion, C conditional, L list
    conditional) as pyx12's is_valid_errors applies them to the present elements."""
    present = 0
    bit = 2
    for value in data:
        if value if type(value) is str else _present(value, comp):
            present |= bit
        bit <<= 1
    broken: list[tuple[str, str, None, None]] = []
    for kind, every, first, rest, message in node.rules:
        named = present & every
        if kind == "P":
            bad_rule = named != 0 and named != every
        elif kind == "R":
            bad_rule = named == 0
        elif kind == "E":
            bad_rule = named & (named - 1) != 0
        elif kind == "C":
            bad_rule = present & first != 0 and named & rest != rest
        else:  # L
            bad_rule = present & first != 0 and named & rest == 0
        if bad_rule:
            broken.append(("10" if kind == "E" else "2", message, None, None))
    return broken


#: Segment ids already known to be walkable (segment_id_finding found nothing).
_WALKABLE: set[str] = set()


def _int(text: str | None) -> int | None:
    try:
        return int(text)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None


# -- the public entry points --------------------------------------------------------------------


class SetValidator:
    """Validates one transaction set segment by segment, holding no segment it has passed:
    feed ST, the body and SE (as read) to :meth:`add`, then call :meth:`finish`. Memory
    stays constant whatever the length of the set (bar its findings), so a 100,000-line
    850 is validated as it streams.

    The findings are those of :func:`validate_transaction` on the whole set.
    """

    def __init__(
        self,
        tables: MapTables,
        *,
        component: str = ">",
        repetition: str | None = None,
        element: str = "*",
        segment: str = "~",
    ) -> None:
        self.tables = tables
        self.component = component
        self.repetition = repetition or ""
        # The element and segment separators: pyx12 prints an empty segment with them.
        self.separators = element + segment
        self.walker = _Walker(tables, component)
        self.node: SegNode = tables.gs
        self.id_findings: list[Finding] = []
        self.repetition_findings: list[Finding] = []
        self.position = 0  # of the last segment added, 1-based, among all
        self.kept = 0  # segments whose id the walk can take
        self.seg_count = 0
        self.hl_count = 0  # the HL segments of the set, and the open HL levels (pyx12's
        self.hl_stack: list[int | None] = []  # reader numbers and nests them)
        self.reader: list[tuple[str, str]] = []
        self.crash: Exception | None = None
        self.first: Segment | None = None  # the first walked segment (the ST)
        self.last: Segment | None = None  # the last segment added
        self.last_kept: Segment | None = None

    def add(self, seg: Segment) -> None:
        """Take the next segment of the set (ST first, SE last); never raises for bad input."""
        position = self.position = self.position + 1
        self.last = seg
        tag = seg.tag
        if self.repetition:  # repeated elements exist only with a repetition separator
            global _COMPONENT, _REPETITION  # what _components reads them with
            _COMPONENT, _REPETITION = self.component, self.repetition
            self.repetition_findings += _repetitions(self.tables, seg, position)
        if tag not in _WALKABLE:
            bad_id = segment_id_finding(seg, position)
            if bad_id is not None:
                self.id_findings.append(bad_id)
                return
            _WALKABLE.add(tag)  # at most 36**3 ids: bounded
        self.kept += 1
        self.last_kept = seg
        if self.first is None:
            self.first = seg
        if self.crash is not None:
            return
        # The walk, inline (one call less per segment).
        walker = self.walker
        try:
            edge = tag == "ST" or tag == "SE"  # the set's header or trailer
            if not edge:
                seg_count = self.seg_count = self.seg_count + 1
                here = walker.here = (seg, position)
            elif tag == "ST":
                seg_count = self.seg_count = 1
                self.hl_count, self.hl_stack = 0, []
                walker.here = (seg, position)
            else:
                seg_count = self.seg_count
            elements = seg.elements
            first = elements[0] if elements else ""
            # The common case, where the reader has nothing to report (a first element, no
            # trailing separator, not an HL), is decided without calling _reader_errors.
            if not (type(first) is str and first and elements[-1] != "" and tag != "HL"):
                errors = self._reader_errors(seg)
                if errors:
                    self.reader += errors
            found = walker.walk(self.node, seg, seg_count)
            if found is None:
                if tag == "ST":
                    # pyx12 opens no err_st for an ST it cannot place: the error tree has no
                    # transaction set, so the reference engine reports nothing from the walk.
                    walker.lost = True
                return
            self.node = found
            if not edge:
                # What walker.point does, inline: every segment of the body takes it.
                serial = walker.serial = walker.serial + 1
                walker.cursor = (tag, seg_count, serial, here)
            elif tag == "ST":
                walker.cursor = None
            if self.reader:
                for code, message in self.reader:
                    walker.file("seg", code, message)
                self.reader = []
            if tag == "SE":
                walker.cursor = None
            try:
                accept = found.accepts[len(elements)]
            except IndexError:  # more elements than the map has, or no test: a closer look
                accept = _refuse
            if not accept(elements):  # plainly valid segments need no closer look
                _check_segment(walker, found, seg, self.tables.icvn)
        except (_Crash, _Unsupported) as exc:
            self.crash = exc

    def _reader_errors(self, seg: Segment) -> list[tuple[str, str]]:
        """What pyx12's reader reports on a segment: trailing separators, HL numbering
        (:meth:`add` skips the call for the common case, where there is nothing)."""
        elements = seg.elements
        component = self.component
        out: list[tuple[str, str]] = []
        if elements and elements[-1] == "":
            out.append(("8", "Segment contains trailing element terminators"))
        if not any(e if type(e) is str else _format(_components(e), component)
                   for e in elements):  # fmt: skip
            out.append(("8", f'Segment "{seg.tag}{self.separators}" is empty'))
        if seg.tag == "HL":
            stack = self.hl_stack
            self.hl_count += 1
            hl01 = _get_value(seg, 1, None, component)
            if _int(hl01) != self.hl_count:
                out.append(("8", f"My HL count {self.hl_count} does not match your HL count"
                                 f" {hl01}"))  # fmt: skip
            hl02 = _get_value(seg, 2, None, component)
            if hl02 != "":  # pyx12 also enters here when HL02 is absent (None)
                parent = _int(hl02)
                if parent not in stack:
                    out.append(("8", f"HL parent ({parent}) is not a valid parent"))
                while stack and parent != stack[-1]:
                    stack.pop()
            stack.append(self.hl_count)
        return out

    def finish(self) -> list[Finding]:
        """The findings of the whole set (call once, after the last segment)."""
        global _COMPONENT, _REPETITION
        _COMPONENT, _REPETITION = self.component, self.repetition
        findings = self.id_findings + self.repetition_findings
        if self.crash is None:
            try:
                errors = self._end()
            except (_Crash, _Unsupported) as exc:
                self.crash = exc
        if self.crash is not None:
            last = self.last
            assert last is not None
            findings.append(
                Finding("transaction", "5",
                        f"the validator could not process this transaction set ({self.crash})",
                        last.offset, last.tag)
            )  # fmt: skip
            return findings
        assert self.first is not None
        return findings + _to_findings(errors, self.tables, self.first)

    def _end(self) -> list[_Err]:
        walker = self.walker
        # The synthetic GE: what is still missing is reported there (positions clamp to
        # the end).
        walker.walk(self.node, Segment("GE", ("1", "1")), self.seg_count)
        for code, message in self.reader:
            walker.file("seg", code, message)
        if walker.lost:
            # With no err_st, the reader's own trailer errors (SE01 count, SE02 vs ST02)
            # make pyx12's error handler raise: the reference reports AK502 5.
            trailer = self.last_kept if self.last_kept and self.last_kept.tag == "SE" else None
            if trailer is None or self.first is None:
                return []
            comp = self.component
            st02 = _get_value(self.first, 2, None, comp)
            if _int(_get_value(trailer, 1, None, comp)) != self.kept or (
                _get_value(trailer, 2, None, comp) != st02
            ):
                raise _Crash(_CRASH_NO_SET_LINE)
            return []
        return walker.errors


def validate_transaction(
    txn: Transaction,
    tables: MapTables,
    *,
    component: str = ">",
    repetition: str | None = None,
    element: str = "*",
    segment: str = "~",
) -> list[Finding]:
    """Validate one transaction set against compiled ``tables``; never raises for bad input.

    Returns the findings the reference engine (pyx12) returns for the same set, with the
    same levels, codes, positions and messages (the interchange's separators: the
    component separator reads composites as pyx12 reads them, the others appear in
    messages).
    """
    validator = SetValidator(tables, component=component, repetition=repetition,
                             element=element, segment=segment)  # fmt: skip
    for seg in txn.all_segments():
        validator.add(seg)
    return validator.finish()


def _to_findings(errors: list[_Err], tables: MapTables, first: Segment) -> list[Finding]:
    """The reference engine's translation of pyx12's error tree into findings (``first``
    is the set's ST)."""

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
            seg_id = "SE" if "(SE0" in err.message else "ST"
            st_elements.append(
                Finding("transaction", "6" if err.element == 1 else "7", err.message,
                        first.offset, seg_id, element=err.element, bad_value=err.value)
            )  # fmt: skip
            continue
        assert err.at is not None  # errors on a segment carry it
        segment, position = err.at
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


def _repetitions(tables: MapTables, segment: Segment, position: int) -> list[Finding]:
    """AK403 12 for each element of ``segment`` repeated more often than the map allows."""
    found: list[Finding] = []
    for number, value in enumerate(segment.elements, 1):
        if not isinstance(value, Repeated):
            continue
        allowed = tables.repeats.get((segment.tag, number), 1)
        if len(value.values) > allowed:
            found.append(
                Finding("element", "12",
                        f"too many repetitions: {segment.tag}{number:02d} has"
                        f" {len(value.values)}, the map allows {allowed}",
                        segment.offset, segment.tag, position, None, number)
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
