"""Loading the rules document: defaults, each section, and errors naming the field."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from projections.recompute import Rules, load_rules


def test_no_file_gives_every_default() -> None:
    assert load_rules() == Rules()


def test_sections_override_only_what_they_name(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_bytes(
        orjson.dumps(
            {
                "detector": {"night_ratio": 3.0},
                "correlation": {"c1_window_days": 14},
                "tipoffs": {"verify_within_days": 7},
            }
        )
    )
    rules = load_rules(rules_file=str(path))
    assert rules.detector.night_ratio == 3.0
    assert rules.detector.jump_ratio == Rules().detector.jump_ratio
    assert rules.correlation.c1_window_days == 14
    assert (rules.tipoffs.verify_within_days, rules.tipoffs.handle_within_days) == (7, 60)


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"tipoffs": {"verify_within_days": 0}}, "verify_within_days"),
        ({"detector": {"night_ratio": -1}}, "night_ratio"),
        ({"alerts": {}}, "unknown sections"),
    ],
)
def test_bad_documents_name_the_field(tmp_path: Path, doc: object, words: str) -> None:
    path = tmp_path / "rules.json"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(ValueError, match=words):
        load_rules(rules_file=str(path))
