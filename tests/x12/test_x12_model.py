"""The record contract of Segment and SegmentRead (named tuples underneath, for speed):
immutable, compared and hashed like the frozen dataclasses they replace."""

from __future__ import annotations

import copy
import operator
import pickle
from dataclasses import FrozenInstanceError

import pytest

from gateway.x12 import Composite, Repeated, Segment, SegmentRead, TransactionStart


def test_segment_fields_and_defaults():
    seg = Segment("BEG", ("00", "SA"), 12)
    assert (seg.tag, seg.elements, seg.offset) == ("BEG", ("00", "SA"), 12)
    assert Segment("CTT") == Segment("CTT", ())
    assert Segment("CTT").offset == -1
    assert Segment(tag="N1", elements=("ST",), offset=3).tag == "N1"


def test_segment_equality_and_hash_leave_the_offset_out():
    read, built = Segment("PO1", ("1", "5"), 400), Segment("PO1", ("1", "5"))
    assert operator.eq(read, built) and not operator.ne(read, built)
    assert hash(read) == hash(built)
    assert {read: 1}[built] == 1
    assert Segment("PO1", ("1",)) != Segment("PO1", ("2",))
    assert Segment("PO1", ("1",)) != Segment("PO2", ("1",))


def test_a_segment_is_never_equal_to_a_plain_tuple_or_another_record():
    seg = Segment("CTT", ("1",), 5)
    plain = ("CTT", ("1",), 5)
    # both operators, both ways round (a tuple's own comparison would say equal)
    assert operator.ne(seg, plain) and operator.ne(plain, seg)
    assert not operator.eq(seg, plain) and not operator.eq(plain, seg)
    assert seg != SegmentRead(seg)
    assert seg != "CTT"


def test_segments_are_immutable_and_not_ordered():
    seg = Segment("CTT", ("1",))
    with pytest.raises(FrozenInstanceError):
        seg.tag = "X"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        seg.note = "x"  # type: ignore[attr-defined]
    with pytest.raises(FrozenInstanceError):
        del seg.tag  # type: ignore[misc]
    with pytest.raises(TypeError):
        _ = seg < Segment("DTM")  # type: ignore[operator]


def test_segment_repr_copy_and_pickle_keep_every_field():
    seg = Segment("REF", (Composite(("A", "B")), Repeated(("1", "2"))), 77)
    assert repr(seg) == (
        "Segment(tag='REF', elements=(Composite(components=('A', 'B')),"
        " Repeated(values=('1', '2'))), offset=77)"
    )
    for clone in (copy.copy(seg), copy.deepcopy(seg), pickle.loads(pickle.dumps(seg))):
        assert type(clone) is Segment
        assert clone == seg and clone.offset == 77


def test_segment_element_and_text_by_position():
    seg = Segment("REF", ("CR", Composite(("A", "B")), Repeated((Composite(("X", "Y")), "Z"))))
    assert [seg.element(p) for p in (0, 1, 4)] == ["", "CR", ""]
    assert [seg.text(p) for p in (0, 1, 2, 3, 4)] == ["", "CR", "A", "X", ""]


def test_segment_read_is_a_record_of_its_segment():
    first, again = SegmentRead(Segment("PO1", ("1",), 10)), SegmentRead(Segment("PO1", ("1",)))
    assert first.segment.offset == 10
    assert first == again and hash(first) == hash(again)
    assert first != SegmentRead(Segment("PO1", ("2",)))
    assert first != TransactionStart(Segment("PO1", ("1",)))
    assert first != (Segment("PO1", ("1",)),)
    assert repr(first) == "SegmentRead(segment=Segment(tag='PO1', elements=('1',), offset=10))"
    with pytest.raises(FrozenInstanceError):
        first.segment = Segment("X")  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(first)) == first
