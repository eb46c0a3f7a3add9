"""The Unified Social Credit Code: valid codes pass, each kind of bad code is refused."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from events.uscc import ALPHABET, WEIGHTS, InvalidUscc, Uscc, check_character, complete, validate
from tests.strategies import usccs

EXAMPLE = "91350100M000100Y43"
USCC_ADAPTER: TypeAdapter[str] = TypeAdapter(Uscc)

first17s = st.text(alphabet=ALPHABET, min_size=17, max_size=17)


def documented_check(first17: str) -> str:
    """C18 = 31 - (sum(value(Ci) * 3^(i-1)) mod 31), 31 -> '0'; written out independently of
    events.uscc (plain powers of 3, no precomputed weights)."""
    total = sum(ALPHABET.index(ch) * 3 ** (i - 1) for i, ch in enumerate(first17, start=1))
    value = 31 - total % 31
    return "0" if value == 31 else ALPHABET[value]


def test_alphabet_is_the_standard_one() -> None:
    assert len(ALPHABET) == 31
    assert not set("IOSVZ") & set(ALPHABET)
    assert set(ALPHABET) == set("0123456789ABCDEFGHJKLMNPQRTUWXY")


def test_weights_are_the_published_ones() -> None:
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_the_example_code_is_valid() -> None:
    assert validate(EXAMPLE) == EXAMPLE
    assert USCC_ADAPTER.validate_python(EXAMPLE) == EXAMPLE
    assert documented_check(EXAMPLE[:17]) == EXAMPLE[17]


@pytest.mark.parametrize(
    "first17",
    [
        "91130100MA0000001",  # 石家庄
        "91320281MA1MXXXXX",  # 江苏
        "91360100000000000",  # 江西
        "00000000000000000",  # sum 0 -> 31 -> '0'
        "YYYYYYYYYYYYYYYYY",
    ],
)
def test_completed_codes_are_valid(first17: str) -> None:
    code = complete(first17)
    assert code[:17] == first17
    assert validate(code) == code


def test_a_sum_divisible_by_31_gives_check_zero() -> None:
    assert complete("0" * 17) == "0" * 18


@pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y433", EXAMPLE * 2])
def test_wrong_length_is_rejected(code: str) -> None:
    with pytest.raises(InvalidUscc, match=f"must be 18 characters, got {len(code)}"):
        validate(code)


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_each_forbidden_letter_is_rejected_with_its_position(letter: str) -> None:
    code = EXAMPLE[:8] + letter + EXAMPLE[9:]  # replaces the 'M' at position 9
    with pytest.raises(InvalidUscc) as info:
        validate(code)
    assert info.value.position == 9
    assert f"position 9: {letter!r} is not allowed" in info.value.reason
    assert "lower case" not in info.value.reason


def test_lower_case_is_rejected_with_a_hint() -> None:
    with pytest.raises(InvalidUscc) as info:
        validate(EXAMPLE.lower())
    assert info.value.position == 9
    assert "'m' is not allowed (lower case is not allowed)" in info.value.reason


@pytest.mark.parametrize("char", [" ", "-", "Ａ", "é"])
def test_other_characters_are_rejected(char: str) -> None:
    with pytest.raises(InvalidUscc, match=r"position 1: .* is not allowed"):
        validate(char + EXAMPLE[1:])


def test_wrong_check_character_names_the_expected_one() -> None:
    with pytest.raises(InvalidUscc) as info:
        validate(EXAMPLE[:17] + "0")
    assert info.value.position == 18
    assert info.value.reason == "position 18: check character is '0', expected '3'"


def test_complete_refuses_what_it_cannot_complete() -> None:
    with pytest.raises(InvalidUscc, match="need 17 characters"):
        complete(EXAMPLE[:16])
    with pytest.raises(InvalidUscc, match="need 17 characters"):
        complete("I" + EXAMPLE[1:17])


@pytest.mark.parametrize("value", [None, 913501, b"91350100M000100Y43", ["91350100M000100Y43"]])
def test_non_strings_are_rejected_by_the_field_type(value: object) -> None:
    with pytest.raises(ValidationError) as info:
        USCC_ADAPTER.validate_python(value)
    assert "invalid USCC: must be a string" in str(info.value)


def test_the_field_type_reports_the_reason() -> None:
    with pytest.raises(ValidationError) as info:
        USCC_ADAPTER.validate_python(EXAMPLE[:17] + "0")
    [error] = info.value.errors()
    assert error["type"] == "uscc"
    assert error["msg"] == "invalid USCC: position 18: check character is '0', expected '3'"


@settings(max_examples=200)
@given(first17s)
def test_check_matches_the_documented_formula(first17: str) -> None:
    assert check_character(first17) == documented_check(first17)


@settings(max_examples=100)
@given(first17s, st.data())
def test_every_single_substitution_is_detected(first17: str, data: st.DataObject) -> None:
    # True for every code: position i moves the sum by (b - a) * 3^(i-1) mod 31, which is never 0
    # since 31 is prime and 0 < |b - a| < 31, and the map from sum to check character is a
    # bijection; changing position 18 itself leaves the expected check unchanged.
    code = complete(first17)
    assert validate(code) == code
    position = data.draw(st.integers(0, 17), label="position")
    replacement = data.draw(
        st.sampled_from(ALPHABET).filter(lambda ch: ch != code[position]), label="replacement"
    )
    changed = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(InvalidUscc, match="check character"):
        validate(changed)


def test_every_single_substitution_of_the_example_is_detected_exhaustively() -> None:
    for position in range(18):
        for replacement in ALPHABET:
            if replacement == EXAMPLE[position]:
                continue
            changed = EXAMPLE[:position] + replacement + EXAMPLE[position + 1 :]
            with pytest.raises(InvalidUscc):
                validate(changed)


@settings(max_examples=100)
@given(first17s, st.data())
def test_every_transposition_in_the_first_17_is_detected(first17: str, data: st.DataObject) -> None:
    # 3 is a primitive root mod 31, so the 17 weights are distinct: swapping two different
    # characters among the first 17 always moves the sum. (Swaps with the check character
    # itself are not always caught, so they are not claimed.)
    i = data.draw(st.integers(0, 16), label="i")
    others = [j for j in range(17) if first17[j] != first17[i]]
    assume(others)
    j = data.draw(st.sampled_from(others), label="j")
    swapped = list(first17)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    code = complete(first17)
    with pytest.raises(InvalidUscc, match="check character"):
        validate("".join(swapped) + code[17])


@settings(max_examples=50)
@given(usccs())
def test_the_shared_strategy_gives_valid_codes(code: str) -> None:
    assert validate(code) == code
