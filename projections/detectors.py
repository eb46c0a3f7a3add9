"""Power-use anomaly detection over one enterprise's meter readings (用电监测).

The seed's 江西/吉安 notice tells the grid to watch steel, foundry and rolling enterprises and
those with induction furnaces (中频炉/工频炉) for 夜间用电量较多、用电量激增或波动较大: foundries
that "白天搞铸造、晚上搞钢坯" melt illegal billets (地条钢) at night. The three kinds of anomaly
follow that sentence:

- ``night_use`` 夜间用电明显高于白天: the average load at night (night kWh, from the contract's
  `night_share` of 22:00–06:00 local time, per night hour with readings) is at least
  `night_ratio` times the average load by day, and the night kWh reach `night_min_kwh`;
- ``sudden_jump`` 用电量突增: the window's average load (kWh per hour with readings) is at least
  `jump_ratio` times the mean load of the previous `jump_baseline_windows` windows that have
  readings (at least `jump_min_baseline_windows` of them), and the window's kWh reach
  `jump_min_kwh`. Only the first window of a run fires: when the window just before is itself
  at or above the same threshold, the jump has already been reported there;
- ``large_swing`` 用电量大幅波动: the coefficient of variation (population standard deviation
  over mean) of the window's hourly kWh is at least `swing_cv`, over at least `swing_min_hours`
  hours with readings and `swing_min_kwh` in the window.

Average loads count only the hours with readings, so a gap in the meter feed is not read as
zero use. Every comparison is "at or above": a value exactly at its threshold fires. Every
anomaly reports `observed` and `baseline` in kWh per hour (average load in kW), and
`observed / baseline` is the statistic compared with the threshold (the night/day ratio, the
jump ratio, the coefficient of variation).

How the state is kept, so that a Faust windowed table (or anything else) can drive it:

- A reading belongs to the window holding its `period_start`; windows are `window` long and
  aligned to local midnight at `utc_offset` (+08:00, Beijing time, by default).
- `WindowTotals` holds one enterprise's window: total and night kWh, kWh per hour of the window
  (the enterprise's load summed over its meters, from which the variance is taken) and the ids of
  the readings folded in. Quantities are integers (1 mWh = 10⁻⁶ kWh; microseconds), so folding
  the same readings in any order gives identical totals, and thresholds compare exactly.
- `fold_reading` adds a reading to its window; a reading id already folded changes nothing, so
  redelivery and replay are harmless.
- `detect` judges a window once it is closed (`closes_at`), from its totals and its
  predecessors'. Each anomaly's `event_id` is a UUIDv5 of enterprise, kind and window start: the
  same window evaluated twice, or by two workers, yields the same event, which the event store
  keeps once.
- `scan` runs the same functions over a whole series (rebuilds, tests) and gives exactly the
  anomalies of the incremental path.

Nothing here does I/O.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from events import envelope as e
from events.payloads import AnomalyKind, PowerAnomalyDetectedPayload
from events.streams import Stream

MWH_PER_KWH = 1_000_000  # energy is kept in integer mWh
_US = timedelta(microseconds=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_HOUR_US = _HOUR // _US
_LOCAL_EPOCH = datetime(1970, 1, 1)  # naive: local wall-clock time at the configured offset
# The contract defines `night_share` as the share used 22:00–06:00 local time.
_NIGHT_START_HOUR = 22
_NIGHT_END_HOUR = 6
# A PowerAnomalyDetected cites at most this many readings (EventRefs).
MAX_CITED_READINGS = 1000

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:jointcase:power-anomaly")
_KIND_ORDER = {k: i for i, k in enumerate(AnomalyKind)}
_OFFSET_TEXT = re.compile(r"^(?:UTC)?([+-])(\d{1,2}):?(\d{2})?$")


# --- configuration --------------------------------------------------------------------


class DetectorConfigError(ValueError):
    """A detector configuration that cannot be used; the message names every bad field."""


class DetectorConfig(BaseModel):
    """Thresholds of the power-use detector. Frozen: a changed configuration is a new value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: timedelta = Field(
        default=_DAY, description="window length: whole hours, dividing a day or whole days"
    )
    utc_offset: timedelta = Field(
        default=timedelta(hours=8), description="windows start at local midnight at this offset"
    )
    allowed_lateness: timedelta = Field(
        default=timedelta(hours=2),
        description="how long after its end a window waits for late readings before closing",
    )
    night_ratio: float = Field(default=2.0, gt=0, le=1000, allow_inf_nan=False)
    night_min_kwh: float = Field(default=1000.0, ge=0, le=1e12, allow_inf_nan=False)
    jump_ratio: float = Field(default=2.0, gt=0, le=1000, allow_inf_nan=False)
    jump_baseline_windows: int = Field(default=7, ge=1, le=366)
    jump_min_baseline_windows: int = Field(default=3, ge=1, le=366)
    jump_min_kwh: float = Field(default=1000.0, ge=0, le=1e12, allow_inf_nan=False)
    swing_cv: float = Field(default=1.0, gt=0, le=1000, allow_inf_nan=False)
    swing_min_hours: int = Field(default=12, ge=2, le=24 * 31)
    swing_min_kwh: float = Field(default=1000.0, ge=0, le=1e12, allow_inf_nan=False)
    max_readings_per_window: int = Field(default=MAX_CITED_READINGS, ge=1, le=MAX_CITED_READINGS)

    @field_validator("utc_offset", mode="before")
    @classmethod
    def _offset_text(cls, value: object) -> object:
        # Operators write offsets as they read them ("+08:00"), not as durations.
        if isinstance(value, str) and (m := _OFFSET_TEXT.match(value.strip())):
            sign, hours, minutes = m.group(1), int(m.group(2)), int(m.group(3) or 0)
            delta = timedelta(hours=hours, minutes=minutes)
            return -delta if sign == "-" else delta
        return value

    @field_validator("utc_offset")
    @classmethod
    def _offset_valid(cls, value: timedelta) -> timedelta:
        if value % timedelta(minutes=1):
            raise ValueError("must be whole minutes")
        if abs(value) >= _DAY:
            raise ValueError("must be less than 24 hours either way")
        return value

    @field_validator("window")
    @classmethod
    def _window_valid(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0) or value % _HOUR:
            raise ValueError("must be a positive whole number of hours")
        if _DAY % value and value % _DAY:
            raise ValueError("must divide a day (1, 2, 3, 4, 6, 8, 12 h) or be whole days")
        if value > timedelta(days=31):
            raise ValueError("must be at most 31 days")
        return value

    @field_validator("allowed_lateness")
    @classmethod
    def _lateness_valid(cls, value: timedelta) -> timedelta:
        if value < timedelta(0) or value > timedelta(days=31):
            raise ValueError("must be between 0 and 31 days")
        return value

    @model_validator(mode="after")
    def _baseline_reachable(self) -> DetectorConfig:
        if self.jump_min_baseline_windows > self.jump_baseline_windows:
            raise ValueError(
                f"jump_min_baseline_windows ({self.jump_min_baseline_windows}) must not exceed "
                f"jump_baseline_windows ({self.jump_baseline_windows})"
            )
        return self

    @property
    def tz(self) -> timezone:
        return timezone(self.utc_offset)


DEFAULT_CONFIG = DetectorConfig()


def load_config(source: Mapping[str, Any] | str | bytes) -> DetectorConfig:
    """A configuration from a mapping or JSON text; raises `DetectorConfigError` naming each bad
    field (``night_ratio: Input should be greater than 0``)."""
    try:
        if isinstance(source, str | bytes):
            return DetectorConfig.model_validate_json(source)
        return DetectorConfig.model_validate(dict(source))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise DetectorConfigError(f"invalid detector config: {problems}") from None


# --- windows --------------------------------------------------------------------------


def _local(t: datetime, config: DetectorConfig) -> datetime:
    """Naive local wall-clock time: the offset is fixed, so plain arithmetic is exact."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"time must be timezone-aware, got {t.isoformat()}")
    return t.astimezone(UTC).replace(tzinfo=None) + config.utc_offset


def window_of(t: datetime, config: DetectorConfig = DEFAULT_CONFIG) -> tuple[datetime, datetime]:
    """The window holding instant `t`: (start, end), both at the configured offset."""
    index = (_local(t, config) - _LOCAL_EPOCH) // config.window
    start = (_LOCAL_EPOCH + index * config.window).replace(tzinfo=config.tz)
    return start, start + config.window


def closes_at(window_start: datetime, config: DetectorConfig = DEFAULT_CONFIG) -> datetime:
    """When the window may be judged: its end plus the allowed lateness of readings."""
    return window_start + config.window + config.allowed_lateness


def history_starts(
    window_start: datetime, config: DetectorConfig = DEFAULT_CONFIG
) -> tuple[datetime, ...]:
    """The starts of the windows `detect` reads besides the closed one (latest first): the keys
    an adapter fetches from its table."""
    return tuple(
        window_start - i * config.window for i in range(1, config.jump_baseline_windows + 1)
    )


def _is_night(local_hour: int) -> bool:
    return local_hour >= _NIGHT_START_HOUR or local_hour < _NIGHT_END_HOUR


# --- window totals --------------------------------------------------------------------


class WindowTotals(BaseModel):
    """One enterprise's readings in one window, summed (integer mWh, so folding is exact and
    order-free). `hourly_mwh[i]` is the energy of hour i of the window over all meters;
    `hourly_readings[i]` how many readings cover it (0: no data for that hour)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enterprise: str
    window_start: datetime
    window_end: datetime
    energy_mwh: int = Field(default=0, ge=0)
    night_energy_mwh: int = Field(default=0, ge=0)
    hourly_mwh: tuple[int, ...]
    hourly_readings: tuple[int, ...]
    reading_ids: tuple[UUID, ...] = Field(
        default=(), description="sorted; bounded by max_readings_per_window"
    )
    overflow: bool = Field(
        default=False, description="readings arrived beyond the bound and were left out"
    )

    @property
    def reading_count(self) -> int:
        return len(self.reading_ids)

    @property
    def kwh(self) -> float:
        return self.energy_mwh / MWH_PER_KWH

    @property
    def night_kwh(self) -> float:
        return self.night_energy_mwh / MWH_PER_KWH

    @property
    def day_kwh(self) -> float:
        return (self.energy_mwh - self.night_energy_mwh) / MWH_PER_KWH

    @property
    def hours(self) -> int:
        return len(self.hourly_mwh)

    @property
    def hours_with_data(self) -> int:
        return sum(1 for n in self.hourly_readings if n)

    @property
    def night_hours_with_data(self) -> int:
        """Hours 22:00–06:00 local with readings (windows start on a local hour, so each hour
        of a window is wholly night or wholly day)."""
        first = self.window_start.hour
        return sum(
            1 for i, n in enumerate(self.hourly_readings) if n and _is_night((first + i) % 24)
        )

    @property
    def day_hours_with_data(self) -> int:
        return self.hours_with_data - self.night_hours_with_data


def empty_window(
    enterprise: str, window_start: datetime, config: DetectorConfig = DEFAULT_CONFIG
) -> WindowTotals:
    start, end = window_of(window_start, config)
    if start != window_start:
        raise ValueError(f"{window_start.isoformat()} is not the start of a window")
    hours = config.window // _HOUR
    return WindowTotals(
        enterprise=enterprise,
        window_start=start,
        window_end=end,
        hourly_mwh=(0,) * hours,
        hourly_readings=(0,) * hours,
    )


def _spread(energy: int, weights: list[int]) -> list[int]:
    """Split `energy` in proportion to `weights`, rounding cumulatively so the parts add up to
    exactly `energy` and depend on nothing but this reading."""
    total = sum(weights)
    parts: list[int] = []
    done = acc = 0
    for w in weights:
        acc += w
        upto = (energy * acc + total // 2) // total
        parts.append(upto - done)
        done = upto
    return parts


def fold_reading(
    totals: WindowTotals | None, reading: e.PowerReading, config: DetectorConfig = DEFAULT_CONFIG
) -> WindowTotals:
    """`totals` with `reading` added (a new `WindowTotals`; `None` starts the reading's window).

    A reading id already in the window changes nothing. A reading running past the window's end
    stays whole in the window it started in, spread over the hours it covers there. Beyond
    `max_readings_per_window` readings the window is marked `overflow` and further readings are
    left out (which ones then depends on arrival order: the bound keeps a window's state and its
    event's citations finite)."""
    pl = reading.payload
    start, _ = window_of(pl.period_start, config)
    if totals is None:
        totals = empty_window(reading.enterprise, start, config)
    elif totals.enterprise != reading.enterprise:
        raise ValueError(
            f"reading {reading.event_id} is of {reading.enterprise}, "
            f"the window of {totals.enterprise}"
        )
    elif totals.window_start != start:
        raise ValueError(
            f"reading {reading.event_id} starts in window {start.isoformat()}, "
            f"not {totals.window_start.isoformat()}"
        )
    ids = totals.reading_ids
    at = bisect.bisect_left(ids, reading.event_id)
    if at < len(ids) and ids[at] == reading.event_id:
        return totals
    if len(ids) >= config.max_readings_per_window:
        return totals if totals.overflow else totals.model_copy(update={"overflow": True})

    # Float kWh become integer mWh through their exact binary value, so one reading always
    # contributes the same integers.
    energy = round(Fraction(pl.kwh) * MWH_PER_KWH)
    night = round(Fraction(pl.kwh) * Fraction(pl.night_share) * MWH_PER_KWH)

    ws = totals.window_start.replace(tzinfo=None)
    a = max(_local(pl.period_start, config), ws)
    b = min(_local(pl.period_end, config), ws + config.window)
    first = (a - ws) // _HOUR
    last = -((ws - b) // _HOUR)  # ceiling
    weights = []
    for h in range(first, last):
        lo, hi = max(a, ws + h * _HOUR), min(b, ws + (h + 1) * _HOUR)
        weights.append((hi - lo) // _US)
    hourly = list(totals.hourly_mwh)
    counts = list(totals.hourly_readings)
    for h, part, w in zip(range(first, last), _spread(energy, weights), weights, strict=True):
        if w > 0:
            hourly[h] += part
            counts[h] += 1
    return totals.model_copy(
        update={
            "energy_mwh": totals.energy_mwh + energy,
            "night_energy_mwh": totals.night_energy_mwh + night,
            "hourly_mwh": tuple(hourly),
            "hourly_readings": tuple(counts),
            "reading_ids": (*ids[:at], reading.event_id, *ids[at:]),
        }
    )


def fold_readings(
    readings: Iterable[e.PowerReading], config: DetectorConfig = DEFAULT_CONFIG
) -> dict[tuple[str, datetime], WindowTotals]:
    """All readings folded, keyed by (enterprise, window start)."""
    windows: dict[tuple[str, datetime], WindowTotals] = {}
    for r in readings:
        key = (r.enterprise, window_of(r.payload.period_start, config)[0])
        windows[key] = fold_reading(windows.get(key), r, config)
    return windows


# --- anomalies ------------------------------------------------------------------------


class Anomaly(BaseModel):
    """A power-use anomaly of one window. `observed` and `baseline` are kWh per hour; the
    statistic compared with `threshold` is their ratio."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    enterprise: str
    kind: AnomalyKind
    window_start: datetime
    window_end: datetime
    observed: float
    baseline: float
    threshold: float
    reading_ids: tuple[UUID, ...]
    description: str


def anomaly_event_id(enterprise: str, kind: AnomalyKind, window_start: datetime) -> UUID:
    """The one event id a window can have for a kind, whoever evaluates it and how often."""
    instant = window_start.astimezone(UTC).isoformat()
    return uuid5(_NAMESPACE, f"{enterprise}|{kind.value}|{instant}")


def _kw(x: float) -> str:
    return f"{x:,.1f}"


def _times(observed: Fraction, baseline: Fraction) -> str:
    return f"{float(observed / baseline):.2f}" if baseline else "∞"


def _describe(
    kind: AnomalyKind, observed: Fraction, baseline: Fraction, threshold: float, w: WindowTotals
) -> str:
    o, b, ratio = _kw(float(observed)), _kw(float(baseline)), _times(observed, baseline)
    day = w.window_start.isoformat()
    t = f"{threshold:g}"
    if kind is AnomalyKind.NIGHT_USE:
        return (
            f"夜间用电明显高于白天：{day} 起的时段内，夜间（22:00–06:00）平均负荷 {o} kW，"
            f"白天平均 {b} kW，为白天的 {ratio} 倍（阈值 {t} 倍）。\n"
            f"Night use well above day use in the window from {day}: night (22:00–06:00) "
            f"average load {o} kW against {b} kW by day, {ratio}x (threshold {t}x)."
        )
    if kind is AnomalyKind.SUDDEN_JUMP:
        return (
            f"用电量突增：{day} 起的时段平均负荷 {o} kW，为此前各时段均值 {b} kW 的 "
            f"{ratio} 倍（阈值 {t} 倍）。\n"
            f"Sudden jump in power use in the window from {day}: average load {o} kW, "
            f"{ratio}x the mean of the preceding windows, {b} kW (threshold {t}x)."
        )
    return (
        f"用电量大幅波动：{day} 起的时段内逐时用电量标准差 {o} kWh，均值 {b} kWh，"
        f"变异系数 {ratio}（阈值 {t}）。\n"
        f"Large swing in power use in the window from {day}: hourly kWh standard deviation "
        f"{o} against a mean of {b}, coefficient of variation {ratio} (threshold {t})."
    )


def _anomaly(
    kind: AnomalyKind,
    w: WindowTotals,
    observed: Fraction,
    baseline: Fraction,
    threshold: float,
) -> Anomaly:
    return Anomaly(
        event_id=anomaly_event_id(w.enterprise, kind, w.window_start),
        enterprise=w.enterprise,
        kind=kind,
        window_start=w.window_start,
        window_end=w.window_end,
        observed=float(observed),
        baseline=float(baseline),
        threshold=threshold,
        reading_ids=w.reading_ids[:MAX_CITED_READINGS],
        description=_describe(kind, observed, baseline, threshold, w),
    )


def _per_hour(mwh: int | Fraction, hours: int) -> Fraction:
    """kWh per hour (average kW) of `mwh` over `hours`."""
    return Fraction(mwh, MWH_PER_KWH * hours)


def _night_use(w: WindowTotals, config: DetectorConfig) -> Anomaly | None:
    # Hours without readings are left out on both sides, so a meter gap by day does not make
    # the night look heavy.
    night_h, day_h = w.night_hours_with_data, w.day_hours_with_data
    if night_h == 0 or day_h == 0:
        return None
    night, day = w.night_energy_mwh, w.energy_mwh - w.night_energy_mwh
    if night < Fraction(config.night_min_kwh) * MWH_PER_KWH:
        return None
    if night * day_h < Fraction(config.night_ratio) * day * night_h:
        return None
    return _anomaly(
        AnomalyKind.NIGHT_USE,
        w,
        _per_hour(night, night_h),
        _per_hour(day, day_h),
        config.night_ratio,
    )


def _load(w: WindowTotals) -> Fraction:
    """Average load over the hours with readings, in mWh per hour."""
    return Fraction(w.energy_mwh, w.hours_with_data)


def _sudden_jump(
    w: WindowTotals, before: dict[datetime, WindowTotals], config: DetectorConfig
) -> Anomaly | None:
    if w.energy_mwh < Fraction(config.jump_min_kwh) * MWH_PER_KWH:
        return None
    # Windows without readings are gaps in the feed, not zero use: they are not in the mean.
    base = [
        _load(prior)
        for start in history_starts(w.window_start, config)
        if (prior := before.get(start)) is not None and prior.hours_with_data
    ]
    if len(base) < config.jump_min_baseline_windows:
        return None
    mean = sum(base, Fraction(0)) / len(base)
    threshold = Fraction(config.jump_ratio) * mean
    if _load(w) < threshold:
        return None
    previous = before.get(w.window_start - config.window)
    if previous is not None and previous.hours_with_data and _load(previous) >= threshold:
        return None  # the jump began earlier and was reported there
    return _anomaly(
        AnomalyKind.SUDDEN_JUMP,
        w,
        _load(w) / MWH_PER_KWH,
        mean / MWH_PER_KWH,
        config.jump_ratio,
    )


def _large_swing(w: WindowTotals, config: DetectorConfig) -> Anomaly | None:
    values = [mwh for mwh, n in zip(w.hourly_mwh, w.hourly_readings, strict=True) if n]
    n = len(values)
    if n < config.swing_min_hours:
        return None
    s = sum(values)
    if s == 0 or s < Fraction(config.swing_min_kwh) * MWH_PER_KWH:
        return None
    spread = n * sum(v * v for v in values) - s * s  # n² times the population variance
    if spread < Fraction(config.swing_cv) ** 2 * s * s:
        return None
    std = Fraction(math.sqrt(spread)) / n
    return _anomaly(
        AnomalyKind.LARGE_SWING,
        w,
        std / MWH_PER_KWH,
        Fraction(s, n * MWH_PER_KWH),
        config.swing_cv,
    )


def detect(
    enterprise: str,
    closed_window: WindowTotals,
    history: Iterable[WindowTotals],
    config: DetectorConfig = DEFAULT_CONFIG,
) -> list[Anomaly]:
    """The anomalies of a closed window, in kind order (night_use, sudden_jump, large_swing).

    `history` holds the enterprise's earlier windows (at least those of `history_starts`; any
    others, and the closed window itself, are ignored). The answer depends only on these totals,
    so evaluating a window again gives the same anomalies with the same event ids."""
    if closed_window.enterprise != enterprise:
        raise ValueError(f"window of {closed_window.enterprise} judged as {enterprise}")
    if closed_window.window_start.utcoffset() != config.utc_offset:
        raise ValueError("the window was made under another utc_offset than this config's")
    if closed_window.window_end - closed_window.window_start != config.window:
        raise ValueError("the window was made under another window length than this config's")
    if not closed_window.reading_count:
        return []
    before = {
        w.window_start: w
        for w in history
        if w.enterprise == enterprise and w.window_start < closed_window.window_start
    }
    found = (
        _night_use(closed_window, config),
        _sudden_jump(closed_window, before, config),
        _large_swing(closed_window, config),
    )
    return [a for a in found if a is not None]


def scan(
    readings: Iterable[e.PowerReading], config: DetectorConfig = DEFAULT_CONFIG
) -> list[Anomaly]:
    """The anomalies of a whole series (one or more enterprises), every window with readings
    judged as if closed: the same anomalies the incremental path yields. Ordered by enterprise,
    window start and kind."""
    windows = fold_readings(readings, config)
    by_enterprise: dict[str, list[WindowTotals]] = {}
    for (enterprise, _), w in sorted(windows.items()):
        by_enterprise.setdefault(enterprise, []).append(w)
    out: list[Anomaly] = []
    for enterprise, series in by_enterprise.items():
        by_start = {w.window_start: w for w in series}
        for w in series:
            history = (by_start.get(s) for s in history_starts(w.window_start, config))
            out.extend(detect(enterprise, w, (h for h in history if h is not None), config))
    return out


def sort_key(a: Anomaly) -> tuple[str, datetime, int]:
    """The order of `scan`'s answer."""
    return (a.enterprise, a.window_start, _KIND_ORDER[a.kind])


def to_event(anomaly: Anomaly, *, now: datetime, actor: str) -> e.PowerAnomalyDetected:
    """The `PowerAnomalyDetected` event (stream `power`) of an anomaly: it occurred when its
    window ended and is recorded `now`. All but `recorded_at` depends only on the anomaly."""
    if now < anomaly.window_end:
        raise ValueError(
            f"window ending {anomaly.window_end.isoformat()} is not over at {now.isoformat()}"
        )
    return e.PowerAnomalyDetected(
        event_id=anomaly.event_id,
        stream=Stream.POWER,
        enterprise=anomaly.enterprise,
        occurred_at=anomaly.window_end,
        recorded_at=now,
        actor=actor,
        payload=PowerAnomalyDetectedPayload(
            kind=anomaly.kind,
            window_start=anomaly.window_start,
            window_end=anomaly.window_end,
            observed=anomaly.observed,
            baseline=anomaly.baseline,
            reading_ids=list(anomaly.reading_ids),
            description=anomaly.description,
        ),
    )
