"""The benchmark load generator: valid events, exact counts, deterministic, streamed, mixed."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

import events
from bench.loadgen import DEFAULT_MIX, REGIONS, generate, main
from events.uscc import region, validate

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def test_events_are_valid_and_in_the_contract_shape() -> None:
    for d in generate(50, 5_000, seed=1, now=NOW):
        ev = events.parse_event(d)
        # JSON-ready and exactly what `to_dict` gives for the parsed event.
        assert events.to_dict(ev) == d
        assert orjson.loads(orjson.dumps(d)) == d
        assert events.check_clock(ev, NOW, timedelta(0)) == []
        assert ev.occurred_at <= ev.recorded_at <= NOW


def test_every_event_type_can_be_generated() -> None:
    mix = dict.fromkeys(events.EVENT_TYPES, 1.0)
    seen: Counter[str] = Counter()
    for d in generate(20, 10_000, mix=mix, seed=2, now=NOW):
        events.parse_event(d)
        seen[d["event_type"]] += 1
    assert set(seen) == set(events.EVENT_TYPES)


@pytest.mark.parametrize(("enterprises", "count"), [(1, 1), (7, 7), (100, 101), (300, 4_000)])
def test_counts_are_exact(enterprises: int, count: int) -> None:
    out = list(generate(enterprises, count, seed=3, now=NOW))
    assert len(out) == count
    assert len({d["event_id"] for d in out}) == count
    codes = {d["enterprise"] for d in out}
    assert len(codes) == enterprises
    registrations = Counter(
        d["enterprise"] for d in out if d["event_type"] == "EnterpriseRegistered"
    )
    assert registrations == Counter(codes)  # once each, with the default mix


def test_registration_comes_first_for_each_enterprise() -> None:
    seen: set[str] = set()
    for d in generate(200, 10_000, seed=4, now=NOW):
        if d["enterprise"] not in seen:
            assert d["event_type"] == "EnterpriseRegistered"
            assert d["stream"] == "market"
            seen.add(d["enterprise"])


def test_codes_are_valid_across_several_regions() -> None:
    codes = {d["enterprise"] for d in generate(500, 500, now=NOW)}
    for code in codes:
        assert validate(code) == code
    regions = {region(c) for c in codes}
    assert regions == {r for r, _ in REGIONS}
    assert {r[:2] for r in regions} == {"13", "32", "37", "21", "14", "36"}


def test_deterministic_per_seed() -> None:
    a = list(generate(100, 3_000, seed=7, now=NOW))
    b = list(generate(100, 3_000, seed=7, now=NOW))
    c = list(generate(100, 3_000, seed=8, now=NOW))
    assert a == b
    assert {d["event_id"] for d in a}.isdisjoint(d["event_id"] for d in c)
    assert [d["event_type"] for d in a] != [d["event_type"] for d in c]


def test_default_mix_is_mostly_findings_from_all_twelve_agencies() -> None:
    out = list(generate(100, 20_000, seed=5, now=NOW))
    rest = [d for d in out if d["event_type"] != "EnterpriseRegistered"]
    shares = Counter(d["event_type"] for d in rest)
    for name, weight in DEFAULT_MIX.items():
        assert abs(shares[name] / len(rest) - weight) < 0.015, name
    finding_streams = {d["stream"] for d in rest if d["event_type"] == "FindingRecorded"}
    assert finding_streams == {s.value for s in events.AGENCY_STREAMS}
    assert len(finding_streams) == 12


def test_custom_mix_is_respected() -> None:
    mix = {"FindingRecorded": 0.5, "PenaltyImposed": 0.3, "PowerReading": 0.2}
    out = list(generate(100, 20_000, mix=mix, seed=6, now=NOW))
    rest = Counter(d["event_type"] for d in out if d["event_type"] != "EnterpriseRegistered")
    assert set(rest) == set(mix)
    total = sum(rest.values())
    for name, weight in mix.items():
        assert abs(rest[name] / total - weight) < 0.02, name


def test_it_streams_without_building_the_whole_load() -> None:
    # A billion events: only what is taken is ever built.
    head = list(itertools.islice(generate(1_000, 1_000_000_000, now=NOW), 1_000))
    assert len(head) == 1_000
    assert all(events.parse_event(d).recorded_at <= NOW for d in head)


def test_times_run_over_the_year_before_now() -> None:
    out = list(generate(10, 1_000, now=NOW))
    occurred = [datetime.fromisoformat(d["occurred_at"]) for d in out]
    assert occurred == sorted(occurred)
    assert occurred[0] == NOW - timedelta(days=365)
    assert occurred[-1] < NOW


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"enterprises": 10, "events": 9}, "at least 10 events"),
        ({"enterprises": 0, "events": 9}, "at least one enterprise"),
        ({"enterprises": 1, "events": 9, "mix": {"Nonsense": 1.0}}, "unknown event types"),
        ({"enterprises": 1, "events": 9, "mix": {"FindingRecorded": 0.0}}, "positive weight"),
        ({"enterprises": 1, "events": 9, "mix": {"FindingRecorded": -1.0}}, "non-negative"),
        ({"enterprises": 1, "events": 9, "now": datetime(2026, 1, 1)}, "timezone-aware"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    args = {"now": NOW, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(**args)  # type: ignore[arg-type]


def test_command_line_writes_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "load.jsonl"
    argv = ["--enterprises", "20", "--events", "500", "--out", str(out), "--seed", "9"]
    assert main([*argv, "--now", "2026-06-01T09:00:00+00:00"]) == 0
    lines = out.read_bytes().splitlines()
    assert len(lines) == 500
    parsed = [events.parse_event_json(line) for line in lines]
    assert len({ev.enterprise for ev in parsed}) == 20
    assert [orjson.loads(line) for line in lines] == list(generate(20, 500, seed=9, now=NOW))
    summary = capsys.readouterr().out
    assert "wrote 500 events over 20 enterprises" in summary
    assert "FindingRecorded" in summary


def test_command_line_mix(tmp_path: Path) -> None:
    out = tmp_path / "load.jsonl"
    argv = ["--enterprises", "5", "--events", "200", "--out", str(out)]
    assert main([*argv, "--mix", "TipOffReceived=1", "--now", "2026-06-01T09:00:00Z"]) == 0
    types = {orjson.loads(line)["event_type"] for line in out.read_bytes().splitlines()}
    assert types == {"EnterpriseRegistered", "TipOffReceived"}
