"""Power-use anomaly detection (用电监测): crafted series, thresholds at their boundaries, and
the incremental path (fold + detect per closed window) against the whole-series scan."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import envelope as e
from events.payloads import AnomalyKind
from events.registry import parse_event, to_dict
from projections.detectors import (
    DEFAULT_CONFIG,
    Anomaly,
    DetectorConfig,
    DetectorConfigError,
    WindowTotals,
    anomaly_event_id,
    closes_at,
    detect,
    empty_window,
    fold_reading,
    fold_readings,
    history_starts,
    load_config,
    scan,
    sort_key,
    to_event,
    window_of,
)
from tests.unit.event_strategies import CST, OTHER_USCC, USCC

JIAN = OTHER_USCC  # an enterprise in 吉安 (360800), where the seed's foundries made billets
START = datetime(2026, 3, 1, tzinfo=CST)  # local midnight, Beijing time

Profile = Callable[[int, int], float]  # (day, local hour) -> kWh in that hour


def is_night(hour: int) -> bool:
    return hour >= 22 or hour < 6


def reading(
    start: datetime,
    kwh: float,
    *,
    hours: float = 1,
    night_share: float | None = None,
    meter: str = "M1",
    uscc: str = JIAN,
    event_id: UUID | None = None,
) -> e.PowerReading:
    end = start + timedelta(hours=hours)
    share = night_share
    if share is None:
        share = 1.0 if is_night(start.astimezone(CST).hour) else 0.0
    return e.PowerReading.model_validate(
        {
            "event_id": event_id or uuid4(),
            "stream": "power",
            "enterprise": uscc,
            "occurred_at": end,
            "recorded_at": end,
            "actor": "grid-jiangxi",
            "payload": {
                "meter_id": meter,
                "period_start": start,
                "period_end": end,
                "kwh": kwh,
                "night_share": share,
            },
        }
    )


def hourly(days: int, profile: Profile, *, uscc: str = JIAN) -> list[e.PowerReading]:
    return [
        reading(START + timedelta(days=d, hours=h), profile(d, h), uscc=uscc)
        for d in range(days)
        for h in range(24)
    ]


def flat(kwh: float) -> Profile:
    return lambda d, h: kwh


def day_start(d: int) -> datetime:
    return START + timedelta(days=d)


def kinds_at(anomalies: Iterable[Anomaly]) -> list[tuple[AnomalyKind, datetime]]:
    return [(a.kind, a.window_start) for a in anomalies]


def incremental(
    readings: Iterable[e.PowerReading], config: DetectorConfig = DEFAULT_CONFIG
) -> list[Anomaly]:
    """Fold every reading into a table, then judge every window from the table, as an adapter
    would once each window has closed."""
    table = fold_readings(readings, config)
    out: list[Anomaly] = []
    for (enterprise, start), window in table.items():
        history = [
            table[(enterprise, s)]
            for s in history_starts(start, config)
            if (enterprise, s) in table
        ]
        out.extend(detect(enterprise, window, history, config))
    return sorted(out, key=sort_key)


def streamed(
    readings: Iterable[e.PowerReading], config: DetectorConfig = DEFAULT_CONFIG
) -> list[Anomaly]:
    """Readings arrive by period end; each window is judged once, when the arrivals pass its
    closing time (its end plus the allowed lateness), the rest at the end of the stream."""
    table: dict[tuple[str, datetime], WindowTotals] = {}
    judged: set[tuple[str, datetime]] = set()
    out: list[Anomaly] = []

    def judge(key: tuple[str, datetime]) -> None:
        enterprise, start = key
        history = [
            table[(enterprise, s)]
            for s in history_starts(start, config)
            if (enterprise, s) in table
        ]
        out.extend(detect(enterprise, table[key], history, config))
        judged.add(key)

    for r in sorted(readings, key=lambda r: (r.payload.period_end, r.event_id)):
        for key in sorted(table):
            if key not in judged and closes_at(key[1], config) <= r.payload.period_end:
                judge(key)
        key = (r.enterprise, window_of(r.payload.period_start, config)[0])
        assert key not in judged, "a reading arrived after its window closed"
        table[key] = fold_reading(table.get(key), r, config)
    for key in sorted(table):
        if key not in judged:
            judge(key)
    return sorted(out, key=sort_key)


# --- crafted series -------------------------------------------------------------------


def test_normal_series_fire_nothing() -> None:
    steady = hourly(21, lambda d, h: 100.0 + (d * 7 + h * 3) % 11)
    # One day shift with a base load: busy 08:00–18:00, idle but never off at night.
    one_shift = hourly(21, lambda d, h: 300.0 if 8 <= h < 18 else 120.0)
    assert scan(steady) == []
    assert scan(one_shift) == []
    assert incremental(one_shift) == []


def test_night_use_fires_once_at_its_window() -> None:
    # 白天搞铸造、晚上搞钢坯: on day 7 the night load triples while the day stays the same.
    readings = hourly(12, lambda d, h: 300.0 if d == 7 and is_night(h) else 100.0)
    found = scan(readings)
    assert kinds_at(found) == [(AnomalyKind.NIGHT_USE, day_start(7))]
    (a,) = found
    assert a.window_end == day_start(8)
    assert (a.observed, a.baseline, a.threshold) == (300.0, 100.0, 2.0)
    assert a.enterprise == JIAN
    assert len(a.reading_ids) == 24
    assert set(a.reading_ids) == {
        r.event_id for r in readings if window_of(r.payload.period_start)[0] == day_start(7)
    }
    assert a.event_id == anomaly_event_id(JIAN, AnomalyKind.NIGHT_USE, day_start(7))
    assert "夜间用电明显高于白天" in a.description and "Night use" in a.description


def test_sudden_jump_fires_at_the_jump_window_only() -> None:
    # A step: from day 10 on, three times the load, and it stays there.
    step = hourly(16, lambda d, h: 300.0 if d >= 10 else 100.0)
    assert kinds_at(scan(step)) == [(AnomalyKind.SUDDEN_JUMP, day_start(10))]
    (a,) = scan(step)
    assert (a.observed, a.baseline) == (300.0, 100.0)
    # A spike: one day at four times the load.
    spike = hourly(16, lambda d, h: 400.0 if d == 9 else 100.0)
    assert kinds_at(scan(spike)) == [(AnomalyKind.SUDDEN_JUMP, day_start(9))]
    # Two separate spikes are two jumps.
    two = hourly(20, lambda d, h: 400.0 if d in (8, 16) else 100.0)
    assert kinds_at(scan(two)) == [
        (AnomalyKind.SUDDEN_JUMP, day_start(8)),
        (AnomalyKind.SUDDEN_JUMP, day_start(16)),
    ]


def test_large_swing_fires() -> None:
    # The day's usual 2,400 kWh, but six daytime hours at a furnace's full load and eighteen
    # at a trickle: CV about 1.39, and neither a jump nor night use.
    readings = hourly(10, lambda d, h: (340.0 if 10 <= h < 16 else 20.0) if d == 6 else 100.0)
    found = scan(readings)
    assert kinds_at(found) == [(AnomalyKind.LARGE_SWING, day_start(6))]
    (a,) = found
    assert a.baseline == 100.0
    assert a.observed / a.baseline == pytest.approx(1.3856, abs=1e-4)
    assert "变异系数" in a.description


def test_a_window_can_show_several_kinds_in_kind_order() -> None:
    # After a week at 100 kWh/h, a night at 2,000 kWh/h: night use, a jump and a swing at once.
    readings = hourly(9, lambda d, h: 2000.0 if d == 8 and is_night(h) else 100.0)
    assert kinds_at(scan(readings)) == [
        (AnomalyKind.NIGHT_USE, day_start(8)),
        (AnomalyKind.SUDDEN_JUMP, day_start(8)),
        (AnomalyKind.LARGE_SWING, day_start(8)),
    ]


def test_tiny_loads_do_not_fire() -> None:
    # The same night-heavy shape as a real furnace, at a scale below the minimum kWh.
    readings = hourly(12, lambda d, h: 3.0 if d == 7 and is_night(h) else 1.0)
    assert scan(readings) == []
    loose = DetectorConfig(night_min_kwh=0, jump_min_kwh=0, swing_min_kwh=0)
    assert AnomalyKind.NIGHT_USE in {a.kind for a in scan(readings, loose)}


def test_gaps_are_not_zero_use() -> None:
    # Missing days are left out of the baseline, not counted as windows of zero kWh.
    readings = [
        r
        for r in hourly(12, flat(100.0))
        if window_of(r.payload.period_start)[0] not in {day_start(d) for d in (3, 4, 5, 6, 7)}
    ]
    assert scan(readings) == []
    # A day whose daytime readings are missing is neither night-heavy nor a drop in load.
    daytime_gap = [
        r
        for r in hourly(12, flat(100.0))
        if not (
            window_of(r.payload.period_start)[0] == day_start(8)
            and 8 <= r.payload.period_start.astimezone(CST).hour < 20
        )
    ]
    assert scan(daytime_gap, DetectorConfig(night_min_kwh=0, jump_min_kwh=0)) == []
    # Nor is a full day after days with half their hours reported a jump.
    half_reported = [
        r
        for r in hourly(12, flat(100.0))
        if window_of(r.payload.period_start)[0] == day_start(11)
        or r.payload.period_start.astimezone(CST).hour % 2 == 0
    ]
    assert scan(half_reported) == []
    # With fewer than three windows with readings before it, a jump cannot be judged.
    few = hourly(3, lambda d, h: 500.0 if d == 2 else 100.0)
    assert scan(few) == []


# --- replay and order -----------------------------------------------------------------


def _mixed_series() -> list[e.PowerReading]:
    return hourly(
        20,
        lambda d, h: (
            300.0
            if d == 7 and is_night(h)
            else (340.0 if 10 <= h < 16 else 20.0)
            if d == 12
            else 350.0
            if d >= 16
            else 100.0
        ),
    )


def test_replaying_readings_changes_nothing() -> None:
    readings = _mixed_series()
    first = scan(readings)
    assert {a.kind for a in first} == set(AnomalyKind)
    rng = random.Random(20260301)
    replay = readings + rng.sample(readings, len(readings) // 2) + readings
    rng.shuffle(replay)
    assert scan(replay) == first
    assert incremental(replay) == first
    # A window folded again from a replay is the same value, so a table update is a no-op.
    table = fold_readings(readings)
    again = dict(table)
    for r in replay:
        key = (r.enterprise, window_of(r.payload.period_start)[0])
        again[key] = fold_reading(again[key], r)
    assert again == table


def test_fold_is_idempotent_and_order_free() -> None:
    rs = [
        reading(START + timedelta(hours=h), kwh)
        for h, kwh in enumerate([0.1, 0.2, 0.3, 1e-7, 12345.678901, 0.7])
    ]
    forward = None
    for r in rs:
        forward = fold_reading(forward, r)
    backward = None
    for r in reversed(rs):
        backward = fold_reading(backward, r)
        backward = fold_reading(backward, r)
    assert forward == backward
    assert forward is not None
    assert forward.reading_ids == tuple(sorted(r.event_id for r in rs))
    assert sum(forward.hourly_mwh) == forward.energy_mwh


def test_same_window_twice_gives_the_same_event_id() -> None:
    readings = hourly(12, lambda d, h: 300.0 if d == 7 and is_night(h) else 100.0)
    table = fold_readings(readings)
    key = (JIAN, day_start(7))
    history = [table[(JIAN, s)] for s in history_starts(day_start(7))]
    once = detect(JIAN, table[key], history)
    # A second worker evaluating the window from a serialised copy of the table.
    copied = WindowTotals.model_validate_json(table[key].model_dump_json())
    twice = detect(JIAN, copied, [WindowTotals.model_validate(h.model_dump()) for h in history])
    assert [a.event_id for a in once] == [a.event_id for a in twice]
    assert once == twice


def test_other_enterprises_are_kept_apart() -> None:
    ours = hourly(12, lambda d, h: 300.0 if d == 7 and is_night(h) else 100.0)
    theirs = hourly(12, flat(100.0), uscc=USCC)
    found = scan(ours + theirs)
    assert [a.enterprise for a in found] == [JIAN]
    table = fold_readings(theirs)
    with pytest.raises(ValueError, match="reading"):
        fold_reading(table[(USCC, day_start(0))], ours[0])
    with pytest.raises(ValueError, match="judged as"):
        detect(JIAN, table[(USCC, day_start(0))], [])


# --- incremental == scan --------------------------------------------------------------

_LOADS = [0.0, 5.0, 100.0, 100.0, 120.0, 400.0, 2500.0]


@st.composite
def series(draw: st.DrawFn) -> list[e.PowerReading]:
    """Up to two weeks of readings with gaps, a second meter, multi-hour readings, readings
    crossing midnight and odd night shares."""
    days = draw(st.integers(1, 14))
    level = draw(st.lists(st.sampled_from(_LOADS), min_size=days, max_size=days))
    night_factor = draw(st.lists(st.sampled_from([1, 1, 3, 8]), min_size=days, max_size=days))
    missing = draw(st.sets(st.integers(0, days * 24 - 1), max_size=days * 6))
    out = []
    for d in range(days):
        for h in range(24):
            if d * 24 + h in missing:
                continue
            kwh = level[d] * (night_factor[d] if is_night(h) else 1)
            out.append(reading(START + timedelta(days=d, hours=h), kwh))
    for _ in range(draw(st.integers(0, 12))):
        start = START + timedelta(minutes=30 * draw(st.integers(0, days * 48 - 1)))
        out.append(
            reading(
                start,
                draw(st.sampled_from([0.0, 0.3, 75.5, 900.0])),
                hours=draw(st.sampled_from([0.25, 1, 1.5, 2])),
                night_share=draw(st.sampled_from([None, 0.0, 0.5, 0.9])),
                meter="M2",
            )
        )
    return out


LOOSE = DetectorConfig(night_min_kwh=0, jump_min_kwh=0, swing_min_kwh=0, swing_min_hours=6)


@settings(max_examples=60, deadline=None)
@given(readings=series(), data=st.data())
def test_incremental_equals_scan(readings: list[e.PowerReading], data: st.DataObject) -> None:
    for config in (DEFAULT_CONFIG, LOOSE):
        expected = scan(readings, config)
        assert expected == sorted(expected, key=sort_key)
        assert streamed(readings, config) == expected
        extra = data.draw(st.lists(st.sampled_from(readings), max_size=20)) if readings else []
        replay = data.draw(st.permutations(readings + extra))
        assert incremental(replay, config) == expected
        assert scan(replay, config) == expected
        assert len({a.event_id for a in expected}) == len(expected)


# --- thresholds at their boundaries ---------------------------------------------------


def _night_day(night_kwh_per_hour: float, day_kwh_per_hour: float) -> list[e.PowerReading]:
    return [
        reading(START + timedelta(hours=h), night_kwh_per_hour if is_night(h) else day_kwh_per_hour)
        for h in range(24)
    ]


@pytest.mark.parametrize(
    ("night", "fires"),
    [(199.99, False), (200.0, True), (200.01, True)],
    ids=["just-below", "at", "above"],
)
def test_night_ratio_boundary(night: float, fires: bool) -> None:
    found = scan(_night_day(night, 100.0), DetectorConfig(night_min_kwh=0))
    assert (AnomalyKind.NIGHT_USE in {a.kind for a in found}) is fires


@pytest.mark.parametrize(
    ("minimum", "fires"),
    [(1600.01, False), (1600.0, True), (1599.99, True)],
    ids=["min-just-above-use", "min-at-use", "min-just-below-use"],
)
def test_night_minimum_kwh_boundary(minimum: float, fires: bool) -> None:
    found = scan(_night_day(200.0, 50.0), DetectorConfig(night_min_kwh=minimum))
    assert (AnomalyKind.NIGHT_USE in {a.kind for a in found}) is fires


@pytest.mark.parametrize(
    ("load", "fires"),
    [(199.999, False), (200.0, True), (200.001, True)],
    ids=["just-below", "at", "above"],
)
def test_jump_ratio_boundary(load: float, fires: bool) -> None:
    readings = hourly(8, lambda d, h: load if d == 7 else 100.0)
    found = scan(readings, DetectorConfig(jump_min_kwh=0))
    assert kinds_at(found) == ([(AnomalyKind.SUDDEN_JUMP, day_start(7))] if fires else [])


@pytest.mark.parametrize(("baseline_days", "fires"), [(2, False), (3, True), (4, True)])
def test_jump_needs_three_baseline_windows(baseline_days: int, fires: bool) -> None:
    readings = hourly(baseline_days + 1, lambda d, h: 300.0 if d == baseline_days else 100.0)
    found = scan(readings)
    assert (AnomalyKind.SUDDEN_JUMP in {a.kind for a in found}) is fires


def test_jump_baseline_is_the_previous_n_windows() -> None:
    # Ten days at 400, then seven at 100, then 250: against the last seven days it is a jump,
    # against all seventeen it would not be.
    readings = hourly(18, lambda d, h: 400.0 if d < 10 else 250.0 if d == 17 else 100.0)
    assert kinds_at(scan(readings, DetectorConfig(jump_ratio=2.5))) == [
        (AnomalyKind.SUDDEN_JUMP, day_start(17))
    ]
    wide = DetectorConfig(jump_ratio=2.5, jump_baseline_windows=17)
    assert scan(readings, wide) == []


def _half_off() -> list[e.PowerReading]:
    # Twelve hours at 0 and twelve at 200: mean 100, standard deviation 100, CV exactly 1.
    return [reading(START + timedelta(hours=h), 0.0 if h < 12 else 200.0) for h in range(24)]


@pytest.mark.parametrize(
    ("threshold", "fires"),
    [(1.000001, False), (1.0, True), (0.999999, True)],
    ids=["threshold-just-above-cv", "threshold-at-cv", "threshold-just-below-cv"],
)
def test_swing_cv_boundary(threshold: float, fires: bool) -> None:
    found = scan(_half_off(), DetectorConfig(swing_cv=threshold))
    assert kinds_at(found) == ([(AnomalyKind.LARGE_SWING, START)] if fires else [])
    if fires:
        assert (found[0].observed, found[0].baseline) == (100.0, 100.0)


@pytest.mark.parametrize(("hours", "fires"), [(11, False), (12, True), (13, True)])
def test_swing_minimum_hours_boundary(hours: int, fires: bool) -> None:
    values = [0.0, 400.0] * 12
    readings = [reading(START + timedelta(hours=h), values[h]) for h in range(hours)]
    found = scan(readings, DetectorConfig(swing_min_kwh=0))
    assert (AnomalyKind.LARGE_SWING in {a.kind for a in found}) is fires


def test_meters_are_summed_per_hour_before_the_swing() -> None:
    # Two steady meters of very different size: the enterprise's hourly load is steady.
    big = [reading(START + timedelta(hours=h), 1000.0, meter="M1") for h in range(24)]
    small = [reading(START + timedelta(hours=h), 1.0, meter="M2") for h in range(24)]
    assert scan(big + small, DetectorConfig(swing_cv=0.01)) == []


# --- windows --------------------------------------------------------------------------


def test_windows_are_aligned_to_local_midnight() -> None:
    last_minute = datetime(2026, 3, 1, 15, 59, tzinfo=UTC)  # 23:59 in Beijing
    assert window_of(last_minute) == (START, START + timedelta(days=1))
    assert window_of(last_minute + timedelta(minutes=1))[0] == START + timedelta(days=1)
    utc_days = DetectorConfig(utc_offset=timedelta(0))
    assert window_of(last_minute, utc_days)[0] == datetime(2026, 3, 1, tzinfo=UTC)
    halves = DetectorConfig(window=timedelta(hours=12))
    assert window_of(START + timedelta(hours=13), halves)[0] == START + timedelta(hours=12)
    assert closes_at(START) == START + timedelta(days=1, hours=2)
    assert history_starts(START)[:2] == (START - timedelta(days=1), START - timedelta(days=2))


def test_a_reading_spanning_hours_is_spread_over_them() -> None:
    r = reading(START + timedelta(hours=21, minutes=30), 3.0, hours=2, night_share=0.75)
    totals = fold_reading(None, r)
    assert totals.energy_mwh == 3_000_000
    assert totals.night_energy_mwh == 2_250_000
    assert totals.hourly_mwh[21:24] == (750_000, 1_500_000, 750_000)
    assert totals.hourly_readings[21:24] == (1, 1, 1)
    assert totals.hours_with_data == 3
    assert (totals.hours, totals.night_hours_with_data, totals.day_hours_with_data) == (24, 2, 1)
    # A reading crossing midnight stays whole in the window it started in.
    late = reading(START + timedelta(hours=23), 4.0, hours=2)
    crossing = fold_reading(None, late)
    assert crossing.window_start == START
    assert crossing.hourly_mwh[23] == 4_000_000


def test_window_bound_keeps_state_finite() -> None:
    config = DetectorConfig(max_readings_per_window=3)
    rs = [reading(START + timedelta(hours=h), 10.0) for h in range(5)]
    totals = None
    for r in rs:
        totals = fold_reading(totals, r, config)
    assert totals is not None
    assert totals.reading_count == 3 and totals.overflow
    assert fold_reading(totals, rs[-1], config) == totals
    assert fold_reading(totals, rs[0], config) == totals


def test_empty_window_must_start_a_window() -> None:
    assert empty_window(JIAN, START).reading_count == 0
    with pytest.raises(ValueError, match="not the start of a window"):
        empty_window(JIAN, START + timedelta(hours=1))


def test_detect_refuses_a_window_of_another_config() -> None:
    totals = fold_reading(None, reading(START, 10.0))
    with pytest.raises(ValueError, match="utc_offset"):
        detect(JIAN, totals, [], DetectorConfig(utc_offset=timedelta(0)))


# --- events ---------------------------------------------------------------------------


def test_to_event_is_a_valid_power_anomaly() -> None:
    readings = hourly(12, lambda d, h: 300.0 if d == 7 and is_night(h) else 100.0)
    (a,) = scan(readings)
    now = day_start(8) + timedelta(hours=3)
    ev = to_event(a, now=now, actor="detector-1")
    assert isinstance(ev, e.PowerAnomalyDetected)
    assert ev.event_id == a.event_id
    assert ev.stream.value == "power"
    assert ev.enterprise == JIAN
    assert ev.occurred_at == a.window_end and ev.recorded_at == now
    assert ev.payload.kind is AnomalyKind.NIGHT_USE
    assert ev.payload.reading_ids == list(a.reading_ids)
    assert parse_event(json.loads(json.dumps(to_dict(ev)))) == ev
    again = to_event(scan(list(reversed(readings)))[0], now=now, actor="detector-1")
    assert again == ev
    with pytest.raises(ValueError, match="not over"):
        to_event(a, now=a.window_end - timedelta(seconds=1), actor="detector-1")


# --- configuration --------------------------------------------------------------------


def test_load_config_reads_operator_values() -> None:
    config = load_config(
        {"utc_offset": "+08:00", "window": "PT12H", "night_ratio": 3, "jump_baseline_windows": 14}
    )
    assert config.utc_offset == timedelta(hours=8)
    assert config.window == timedelta(hours=12)
    assert (config.night_ratio, config.jump_baseline_windows) == (3.0, 14)
    assert load_config('{"utc_offset": "-05:30"}').utc_offset == -timedelta(hours=5, minutes=30)
    assert load_config({}) == DEFAULT_CONFIG


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"night_ratio": 0}, "night_ratio"),
        ({"night_min_kwh": -1}, "night_min_kwh"),
        ({"jump_ratio": "lots"}, "jump_ratio"),
        ({"window": "PT5H"}, "window"),
        ({"window": "PT90M"}, "window"),
        ({"utc_offset": "+25:00"}, "utc_offset"),
        ({"swing_cv": float("nan")}, "swing_cv"),
        ({"swing_min_hours": 1}, "swing_min_hours"),
        ({"max_readings_per_window": 5000}, "max_readings_per_window"),
        ({"allowed_lateness": -60}, "allowed_lateness"),
        ({"nightratio": 2}, "nightratio"),
    ],
)
def test_load_config_names_the_bad_field(mapping: dict[str, object], field: str) -> None:
    with pytest.raises(DetectorConfigError, match=f"{field}: "):
        load_config(mapping)


def test_load_config_checks_fields_together() -> None:
    with pytest.raises(DetectorConfigError, match="jump_min_baseline_windows"):
        load_config({"jump_baseline_windows": 2, "jump_min_baseline_windows": 3})
