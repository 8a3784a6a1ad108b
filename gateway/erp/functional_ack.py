"""``FunctionalAck``: a parsed 997, as the ERP and the operators read it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from gateway.erp.common import Source
from gateway.erp.types import MODEL_CONFIG, Text

#: An X12 code of 1-3 digits (AK304, AK403, AK502, AK905...).
_CODE = r"^[0-9A-Z]{1,3}$"

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
    reference: str | None = Field(default=None, pattern=r"^[0-9]{1,4}$", description="AK402")
    code: str = Field(pattern=_CODE, description="AK403")
    # AK404 quotes the partner's data as it was: any characters (the writer still refuses
    # a delimiter), so that a 997 reporting odd data is never lost on reading.
    bad_value: str | None = Field(default=None, max_length=99, description="AK404")


class SegmentError(BaseModel):
    """AK3 with its AK4s: a segment in error."""

    model_config = MODEL_CONFIG
    segment_id: str = Field(pattern=r"^[A-Z0-9]{2,3}$", description="AK301")
    position: int = Field(ge=1, le=999_999, description="AK302")
    loop_id: Text(6) | None = None  # type: ignore[valid-type]
    code: str | None = Field(default=None, pattern=_CODE, description="AK304")
    elements: list[ElementError] = Field(default_factory=list)


class AcknowledgedSet(BaseModel):
    """AK2..AK5: one acknowledged transaction set."""

    model_config = MODEL_CONFIG
    set_id: str = Field(pattern=r"^[0-9]{3}$", description="AK201")
    control_number: Text(9, min_length=4)  # type: ignore[valid-type]
    status: Status
    codes: list[Annotated[str, Field(pattern=_CODE)]] = Field(default_factory=list, max_length=5)
    segments: list[SegmentError] = Field(default_factory=list)


class FunctionalAck(BaseModel):
    """A 997: the acknowledgment of one functional group."""

    model_config = MODEL_CONFIG
    type: Literal["functional_ack"] = "functional_ack"
    version: Literal[1] = 1
    functional_id: str = Field(pattern=r"^[A-Z]{2}$", description="AK101, GS01 acknowledged")
    group_control_number: str = Field(pattern=r"^[0-9]{1,9}$",
                                      description="AK102, GS06 acknowledged")  # fmt: skip
    status: Status
    sets_included: int = Field(ge=0, le=999_999)
    sets_received: int = Field(ge=0, le=999_999)
    sets_accepted: int = Field(ge=0, le=999_999)
    codes: list[Annotated[str, Field(pattern=_CODE)]] = Field(default_factory=list, max_length=5)
    transactions: list[AcknowledgedSet] = Field(default_factory=list)
    source: Source | None = None
