"""The Unified Social Credit Code (统一社会信用代码, GB 32100-2015) of every enterprise.

18 characters from ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (values 0–30): position 1 registration
authority, 2 organisation type, 3–8 administrative division (行政区划代码), 9–17 organisation
code, 18 a check character over the first 17.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {ch: i for i, ch in enumerate(ALPHABET)}
# 3^(i-1) mod 31 for positions 1..17
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18


class InvalidUscc(ValueError):
    """A code that is not a valid USCC; the message names the position and the reason."""

    def __init__(self, reason: str, position: int | None = None) -> None:
        self.reason = reason
        self.position = position
        super().__init__(reason)


# The same enterprises recur in every batch and every bulk query: remember codes found valid.
_VALID: set[str] = set()
_VALID_MAX = 500_000


def check_character(first17: str) -> str:
    """The check character (position 18) for the first 17 characters."""
    total = sum(VALUES[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    value = 31 - total % 31
    return ALPHABET[0 if value == 31 else value]


def validate(code: str) -> str:
    """Return `code` if it is a valid USCC, else raise `InvalidUscc` saying what is wrong."""
    if code in _VALID:
        return code
    if len(code) != LENGTH:
        raise InvalidUscc(f"must be {LENGTH} characters, got {len(code)}")
    for pos, ch in enumerate(code, start=1):
        if ch not in VALUES:
            hint = " (lower case is not allowed)" if ch.upper() in VALUES else ""
            raise InvalidUscc(
                f"position {pos}: {ch!r} is not allowed{hint}; allowed characters are {ALPHABET}",
                pos,
            )
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidUscc(
            f"position 18: check character is {code[17]!r}, expected {expected!r}", LENGTH
        )
    if len(_VALID) < _VALID_MAX:
        _VALID.add(code)
    return code


def complete(first17: str) -> str:
    """The full code for 17 characters: appends the check character."""
    if len(first17) != 17 or any(ch not in VALUES for ch in first17):
        raise InvalidUscc("need 17 characters from the USCC alphabet to compute the check")
    return first17 + check_character(first17)


def region(code: str) -> str:
    """The 6-digit administrative division (positions 3–8)."""
    return code[2:8]


def _pydantic_check(code: str) -> str:
    try:
        return validate(code)
    except InvalidUscc as exc:
        raise PydanticCustomError(
            "uscc", "invalid USCC: {reason}", {"reason": exc.reason}
        ) from None


def _require_str(value: object) -> object:
    if not isinstance(value, str):
        raise PydanticCustomError("uscc", "invalid USCC: must be a string")
    return value


Uscc = Annotated[
    str,
    BeforeValidator(_require_str),
    AfterValidator(_pydantic_check),
    Field(
        # The pattern is documentation only: the validator gives the precise reason.
        json_schema_extra={"pattern": f"^[{ALPHABET}]{{18}}$"},
        title="USCC 统一社会信用代码",
        description="Unified Social Credit Code: 18 characters with a check character (GB 32100)",
        examples=["91350100M000100Y43"],
    ),
]
