"""Field types shared by the payloads: bounded text without control characters, quantities."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field
from pydantic_core import PydanticCustomError

# NUL and other controls (Unicode category Cc) corrupt logs and are refused by PostgreSQL jsonb;
# lone surrogates (Cs) cannot be encoded at all.
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_BREAKS = re.compile("[\n\t\r]")


def _no_controls(single_line: bool) -> AfterValidator:
    def check(value: str) -> str:
        found = _REFUSED.search(value)
        if found:
            raise PydanticCustomError(
                "text",
                "control or unpaired surrogate character U+{code} at character {i}",
                {"code": f"{ord(found.group()):04X}", "i": found.start()},
            )
        if single_line:
            found = _BREAKS.search(value)
            if found:
                raise PydanticCustomError(
                    "text",
                    "line breaks and tabs are not allowed here (character {i})",
                    {"i": found.start()},
                )
        if value.isspace():
            raise PydanticCustomError("text", "must not be blank")
        return value

    return AfterValidator(check)


Name = Annotated[str, Field(min_length=1, max_length=200), _no_controls(single_line=True)]
"""A short single-line label: names, ids, codes."""

Text = Annotated[str, Field(min_length=1, max_length=10_000), _no_controls(single_line=False)]
"""Free text: descriptions, reasons."""

Tonnes = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
Amount = Annotated[float, Field(ge=0, le=1e13, allow_inf_nan=False)]


def _whole_minute_offset(value: datetime) -> datetime:
    offset = value.utcoffset()
    # RFC 3339 offsets are hours and minutes; a seconds offset could not be written back.
    if offset is not None and offset.total_seconds() % 60:
        raise PydanticCustomError("datetime", "the UTC offset must be whole minutes")
    return value


def _rfc3339_text(value: object) -> object:
    # Numbers would be read as Unix seconds; the contract's timestamps are RFC 3339 text.
    if isinstance(value, int | float):
        raise PydanticCustomError("datetime", "must be RFC 3339 text with a UTC offset")
    return value


Instant = Annotated[
    AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_whole_minute_offset)
]
"""A point in time with its UTC offset (RFC 3339)."""
