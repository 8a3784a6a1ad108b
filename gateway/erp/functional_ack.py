"""``FunctionalAck``: a parsed 997, as the ERP and the operators read it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gateway.erp.common import Source
from gateway.erp.types import MODEL_CONFIG

#: AK501 / AK901 -> status.
ACK_STATUSES: dict[str, str] = {
    "A": "accepted",
    "E": "accepted_with_errors",
    "P": "partially_accepted",
    "R": "rejected",
    "M": "rejected",  # rejected, message authentication code failed
    "W": "rejected",  # rejected, assurance failed validity tests
    "X": "rejected",  # rejected, content after decryption could not be analysed
}
Status = Literal["accepted", "accepted_with_errors", "partially_accepted", "rejected"]


class ElementError(BaseModel):
    """AK4: an element in error."""

    model_config = MODEL_CONFIG
    position: int = Field(ge=1)
    component: int | None = Field(default=None, ge=1)
    reference: str | None = Field(default=None, max_length=4)
    code: str = Field(max_length=3)
    bad_value: str | None = Field(default=None, max_length=99)


class SegmentError(BaseModel):
    """AK3 with its AK4s: a segment in error."""

    model_config = MODEL_CONFIG
    segment_id: str = Field(max_length=3)
    position: int = Field(ge=1)
    loop_id: str | None = Field(default=None, max_length=6)
    code: str | None = Field(default=None, max_length=3)
    elements: list[ElementError] = Field(default_factory=list)


class AcknowledgedSet(BaseModel):
    """AK2..AK5: one acknowledged transaction set."""

    model_config = MODEL_CONFIG
    set_id: str = Field(max_length=3)
    control_number: str = Field(max_length=9)
    status: Status
    codes: list[str] = Field(default_factory=list, max_length=5)
    segments: list[SegmentError] = Field(default_factory=list)


class FunctionalAck(BaseModel):
    """A 997: the acknowledgment of one functional group."""

    model_config = MODEL_CONFIG
    type: Literal["functional_ack"] = "functional_ack"
    version: Literal[1] = 1
    functional_id: str = Field(max_length=2, description="AK101, GS01 acknowledged")
    group_control_number: str = Field(max_length=9, description="AK102, GS06 acknowledged")
    status: Status
    sets_included: int = Field(ge=0)
    sets_received: int = Field(ge=0)
    sets_accepted: int = Field(ge=0)
    codes: list[str] = Field(default_factory=list, max_length=5)
    transactions: list[AcknowledgedSet] = Field(default_factory=list)
    source: Source | None = None
