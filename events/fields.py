"""Field types shared by the payloads: bounded text without control characters, quantities."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field
from pydantic_core import PydanticCustomError

_ALLOWED_CONTROLS = {"\n", "\t", "\r"}


def _no_controls(single_line: bool) -> AfterValidator:
    def check(value: str) -> str:
        for i, ch in enumerate(value):
            if single_line and ch in _ALLOWED_CONTROLS:
                raise PydanticCustomError(
                    "text", "line breaks and tabs are not allowed here (character {i})", {"i": i}
                )
            cat = unicodedata.category(ch)
            # NUL and other controls corrupt logs and are refused by PostgreSQL jsonb;
            # lone surrogates cannot be encoded at all.
            if (cat == "Cc" and ch not in _ALLOWED_CONTROLS) or cat == "Cs":
                raise PydanticCustomError(
                    "text",
                    "control or unpaired surrogate character U+{code} at character {i}",
                    {"code": f"{ord(ch):04X}", "i": i},
                )
        if not value.strip():
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
