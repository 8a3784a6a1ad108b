"""The X12 acknowledgment code lists, with the wording a person reads.

Sources: X12 004010 element 716 (AK905), 718 (AK502), 720 (AK304), 723 (AK403) and
I18 (TA105), as listed in amazon-x12.md section 7 and its references S21/S22.
"""

from __future__ import annotations

#: AK304, segment syntax error code (element 720).
SEGMENT_ERRORS: dict[str, str] = {
    "1": "unrecognized segment ID",
    "2": "unexpected segment",
    "3": "mandatory segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
}

#: AK403, data element syntax error code (element 723).
ELEMENT_ERRORS: dict[str, str] = {
    "1": "mandatory data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
}

#: AK502..AK506, transaction set syntax error code (element 718).
TRANSACTION_ERRORS: dict[str, str] = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "23": "transaction set control number not unique within the functional group",
}

#: AK905..AK909, functional group syntax error code (element 716).
GROUP_ERRORS: dict[str, str] = {
    "1": "functional group not supported",
    "2": "functional group version not supported",
    "3": "functional group trailer missing",
    "4": "group control number in the header and trailer do not agree",
    "5": "number of included transaction sets does not match actual count",
    "6": "group control number violates syntax",
    "19": "functional group control number not unique within interchange",
}

#: TA105, interchange note code (element I18).
INTERCHANGE_ERRORS: dict[str, str] = {
    "001": "interchange control numbers in header and trailer do not match",
    "005": "invalid interchange ID qualifier for sender",
    "006": "invalid interchange sender ID",
    "007": "invalid interchange ID qualifier for receiver",
    "008": "invalid interchange receiver ID",
    "010": "invalid authorization information qualifier value",
    "011": "invalid authorization information value",
    "012": "invalid security information qualifier value",
    "013": "invalid security information value",
    "014": "invalid interchange date value",
    "015": "invalid interchange time value",
    "016": "invalid interchange standards identifier value",
    "017": "invalid interchange version ID value",
    "018": "invalid interchange control number value",
    "019": "invalid acknowledgment requested value",
    "020": "invalid test indicator value",
    "021": "invalid number of included groups value",
    "022": "invalid control structure",
    "023": "improper (premature) end-of-file",
    "024": "invalid interchange content",
    "025": "duplicate interchange control number",
    "026": "invalid data element separator",
    "027": "invalid component element separator",
}

#: The code list of each finding level.
CODE_LISTS: dict[str, dict[str, str]] = {
    "document": INTERCHANGE_ERRORS,
    "interchange": INTERCHANGE_ERRORS,
    "group": GROUP_ERRORS,
    "transaction": TRANSACTION_ERRORS,
    "segment": SEGMENT_ERRORS,
    "element": ELEMENT_ERRORS,
}


def describe(level: str, code: str) -> str:
    """The standard wording of ``code`` at ``level`` (the code itself when unknown)."""
    return CODE_LISTS.get(level, {}).get(code, f"error code {code}")
