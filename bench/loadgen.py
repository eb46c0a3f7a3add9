"""Synthetic event load for benchmarks: valid events over many enterprises, streamed.

    python -m bench.loadgen --enterprises 10000 --events 1000000 --out load.jsonl \\
        [--seed 0] [--mix FindingRecorded=0.8,PenaltyImposed=0.2] [--now 2026-06-01T00:00:00Z]

`generate` yields one JSON-ready dict at a time, in the shape of `events.to_dict` (every field,
defaults included), so a million events never sit in memory: what it keeps is a few values per
enterprise (is it registered, its latest finding, penalty, tip-off, equipment and case), so that
corrections, rectifications and tip-off steps refer to earlier events as real agencies' do.

Each enterprise's first event is its registration (企业登记, `market`); the rest follow the mix,
by event type. Times run evenly over the year before `now` in event order; `recorded_at` is a
few minutes to two hours after `occurred_at` and never after `now`. The same arguments and seed
give the same events, event ids included.
"""

from __future__ import annotations

import argparse
import bisect
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import orjson

from events.dimensions import Dimension, Severity
from events.payloads import (
    AnomalyKind,
    EquipmentKind,
    FurnaceType,
    Industry,
    PenaltyKind,
    Product,
)
from events.registry import EVENT_TYPES
from events.streams import AGENCY_STREAMS, STREAMS, Stream
from events.uscc import complete

Json = dict[str, Any]

DEFAULT_MIX: Final[Mapping[str, float]] = MappingProxyType(
    {
        "FindingRecorded": 0.70,
        "PenaltyImposed": 0.06,
        "RectificationVerified": 0.06,
        "EquipmentRegistered": 0.03,
        "EquipmentDismantled": 0.02,
        "TipOffReceived": 0.03,
        "TipOffVerified": 0.02,
        "TipOffClosed": 0.02,
        "PowerAnomalyDetected": 0.04,
        "FindingAmended": 0.01,
        "FindingRetracted": 0.01,
    }
)
"""Share of each event type among the events after the registrations."""

SPAN: Final = timedelta(days=365)

# Real county-level divisions (GB/T 2260) in the six provinces the seed names as steel centres:
# 河北, 江苏, 山东, 辽宁, 山西, 江西.
REGIONS: Final[tuple[tuple[str, str], ...]] = (
    ("130102", "石家庄"),  # 长安区
    ("130110", "石家庄"),  # 鹿泉区
    ("130121", "石家庄"),  # 井陉县
    ("130131", "石家庄"),  # 平山县
    ("130207", "唐山"),  # 丰南区
    ("130227", "唐山"),  # 迁西县
    ("130322", "秦皇岛"),  # 昌黎县
    ("130481", "邯郸"),  # 武安市
    ("320381", "徐州"),  # 新沂市
    ("320282", "无锡"),  # 宜兴市
    ("370303", "淄博"),  # 张店区
    ("371302", "临沂"),  # 兰山区
    ("210381", "鞍山"),  # 海城市
    ("140781", "晋中"),  # 介休市
    ("360681", "鹰潭"),  # 贵溪市
    ("360603", "鹰潭"),  # 余江区
    ("361103", "上饶"),  # 广丰区
    ("361127", "上饶"),  # 余干县
    ("360826", "吉安"),  # 泰和县
    ("360821", "吉安"),  # 吉安县
)

_AGENCIES: Final = tuple(sorted(AGENCY_STREAMS))
_SEVERITIES: Final = (Severity.INFO, Severity.MINOR, Severity.SERIOUS, Severity.CRITICAL)
_SEVERITY_CUM: Final = (0.30, 0.65, 0.90, 1.0)
_DIMENSIONS: Final = tuple(Dimension)
_PENALTIES: Final = tuple(PenaltyKind)
_WORDS: Final = ("鑫达", "恒通", "宏盛", "华源", "金汇", "永丰", "瑞祥", "兴旺", "天成", "德隆")
_TRADES: Final = (
    ("钢铁", Industry.STEEL),
    ("特钢", Industry.SPECIAL_STEEL),
    ("铸造", Industry.FOUNDRY),
    ("轧钢", Industry.ROLLING),
)
_EQUIPMENT: Final = (
    (EquipmentKind.BLAST_FURNACE, 450.0, "m3", Product.IRON, 520_000.0),
    (EquipmentKind.BLAST_FURNACE, 1080.0, "m3", Product.IRON, 1_070_000.0),
    (EquipmentKind.CONVERTER, 80.0, "t", Product.STEEL, 830_000.0),
    (EquipmentKind.ELECTRIC_ARC_FURNACE, 70.0, "t", Product.STEEL, 300_000.0),
    (EquipmentKind.INDUCTION_FURNACE, 5.0, "t", Product.STEEL, 25_000.0),
)
_DESCRIPTIONS: Final[Mapping[Dimension, str]] = {
    Dimension.PROJECT_COMPLIANCE: "项目未经核准擅自开工建设",
    Dimension.CAPACITY_REPLACEMENT: "新增产能未落实等量或减量置换",
    Dimension.PRODUCT_QUALITY: "钢坯抽检力学性能不合格",
    Dimension.LAND_APPROVAL: "未经批准占用土地建设厂房",
    Dimension.ENVIRONMENTAL_PROTECTION: "颗粒物排放超标，除尘设施不正常运行",
    Dimension.CONSTRUCTION_PERMIT: "厂房未取得施工许可",
    Dimension.WORK_SAFETY: "煤气区域一氧化碳报警仪失效",
    Dimension.EXPORT_SUPERVISION: "出口报关品名与实际货物不符",
    Dimension.TAX_COMPLIANCE: "销售收入未如实申报",
    Dimension.REGISTRATION: "实际经营超出登记的经营范围",
    Dimension.BANK_CREDIT: "贷款资金挪用于违规项目",
}


def _org_code(n: int) -> str:
    """A distinct organisation code (GB 11714: 8 digits and their check) for each n."""
    body = f"{n:08d}"
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    check = 11 - sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11
    return body + ("X" if check == 10 else "0" if check == 11 else str(check))


def enterprise_code(i: int) -> str:
    """The USCC of enterprise `i`: the same for every seed, spread over `REGIONS`."""
    if not 0 <= i < 100_000_000:
        raise ValueError("enterprise index out of range")
    region = REGIONS[(i * 7) % len(REGIONS)][0]
    return complete(f"91{region}{_org_code(i)}")


def _timestamp(ts: int) -> str:
    # The form pydantic writes for UTC, so the dicts equal `to_dict` of the parsed events.
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _actor(stream: Stream, n: int) -> str:
    if stream is Stream.POWER:
        return f"用电信息采集系统 终端{n:03d}"
    return f"{STREAMS[stream].name_zh} 检查员{n:03d}"


def _check_mix(mix: Mapping[str, float]) -> tuple[list[str], list[float]]:
    unknown = sorted(set(mix) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event types in mix: {', '.join(unknown)}")
    if any(not w >= 0 for w in mix.values()):
        raise ValueError("mix weights must be non-negative numbers")
    types = [t for t, w in mix.items() if w > 0]
    if not types:
        raise ValueError("the mix needs at least one positive weight")
    cum, total = [], 0.0
    for t in types:
        total += mix[t]
        cum.append(total)
    return types, [c / total for c in cum]


class _Load:
    """The generator's state: the random stream and a few values per enterprise."""

    def __init__(self, enterprises: int, seed: int) -> None:
        self.rng = random.Random(seed)
        n = enterprises
        self.codes: list[str | None] = [None] * n
        self.registered = bytearray(n)
        self.last_finding: list[str | None] = [None] * n
        self.last_penalty: list[str | None] = [None] * n
        self.tipoffs = [0] * n
        self.equipment = [0] * n
        self.cases = [0] * n
        self.ts = 0  # occurred_at of the event being built, Unix seconds
        self.event_id = ""  # its id, for builders that remember it for later events

    def code(self, i: int) -> str:
        c = self.codes[i]
        if c is None:
            c = self.codes[i] = enterprise_code(i)
        return c

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def pick(self, seq: tuple[Any, ...]) -> Any:
        return seq[self.rng.randrange(len(seq))]

    def severity(self) -> Severity:
        return _SEVERITIES[bisect.bisect_left(_SEVERITY_CUM, self.rng.random())]

    def agency(self) -> Stream:
        stream: Stream = self.pick(_AGENCIES)
        return stream

    # --- one payload builder per event type: (stream, payload) ---------------------------

    def registration(self, i: int) -> tuple[Stream, Json]:
        region, city = REGIONS[(i * 7) % len(REGIONS)]
        trade, industry = _TRADES[i % len(_TRADES)]
        return Stream.MARKET, {
            "name": f"{city}{_WORDS[(i // 7) % len(_WORDS)]}{trade}有限公司",
            "legal_representative": f"法定代表人{i % 997:03d}",
            "registered_address": f"{city}市工业园区{i % 500 + 1}号（{region}）",
            "business_scope": f"{trade}产品生产、加工及销售",
            "industry": industry.value,
            "registered_on": None,
        }

    def updated(self, i: int) -> tuple[Stream, Json]:
        return Stream.MARKET, {
            "name": None,
            "legal_representative": f"法定代表人{self.rng.randrange(997):03d}",
            "registered_address": None,
            "business_scope": None,
            "industry": None,
        }

    def finding(self, i: int) -> tuple[Stream, Json]:
        stream = self.agency()
        dims = STREAMS[stream].dimensions
        dim: Dimension = dims[0] if dims else self.pick(_DIMENSIONS)
        self.last_finding[i] = self.event_id
        return stream, {
            "dimension": dim.value,
            "severity": self.severity().value,
            "violation_code": f"{stream.value.upper()}-{self.rng.randrange(1, 200):03d}",
            "description": _DESCRIPTIONS[dim],
            "evidence": [f"检查记录 {self.rng.randrange(1, 10_000):04d}号"],
            "location": None,
        }

    def amended(self, i: int) -> tuple[Stream, Json]:
        return self.agency(), {
            "finding_id": self.last_finding[i] or self.uuid(),
            "reason": "复核后调整严重程度",
            "dimension": None,
            "severity": self.severity().value,
            "violation_code": None,
            "description": None,
            "evidence": None,
        }

    def retracted(self, i: int) -> tuple[Stream, Json]:
        return self.agency(), {
            "finding_id": self.last_finding[i] or self.uuid(),
            "reason": "重复录入，予以撤销",
        }

    def penalty(self, i: int) -> tuple[Stream, Json]:
        kind: PenaltyKind = self.pick(_PENALTIES)
        finding = self.last_finding[i]
        self.last_penalty[i] = self.event_id
        return self.agency(), {
            "kind": kind.value,
            "amount_cny": float(self.rng.randrange(10, 5000) * 1000)
            if kind is PenaltyKind.FINE
            else None,
            "legal_basis": "《中华人民共和国行政处罚法》",
            "finding_ids": [finding] if finding else [],
            "description": None,
        }

    def rectified(self, i: int) -> tuple[Stream, Json]:
        finding, penalty = self.last_finding[i], self.last_penalty[i]
        return self.agency(), {
            "finding_ids": [finding] if finding else ([] if penalty else [self.uuid()]),
            "penalty_ids": [penalty] if penalty else [],
            "description": "整改到位，复查合格",
        }

    def illegal_steel(self, i: int) -> tuple[Stream, Json]:
        count = self.rng.randrange(1, 7)
        return Stream.MIIT, {
            "furnace_type": self.pick(tuple(FurnaceType)).value,
            "furnace_count": count,
            "capacity_tonnes": float(count * 25_000),
            "description": "使用中频炉熔化废钢生产钢坯，认定为“地条钢”",
        }

    def equipment_registered(self, i: int) -> tuple[Stream, Json]:
        kind, size, unit, product, tonnes = self.pick(_EQUIPMENT)
        self.equipment[i] += 1
        return self.pick((Stream.MIIT, Stream.NDRC)), {
            "equipment_id": f"EQ-{self.equipment[i]}",
            "kind": kind.value,
            "size": size,
            "size_unit": unit,
            "product": product.value,
            "annual_capacity_tonnes": tonnes,
        }

    def dismantled(self, i: int) -> tuple[Stream, Json]:
        return Stream.MIIT, {
            "equipment_id": f"EQ-{max(self.equipment[i], 1)}",
            "verified_by": "化解过剩产能验收组",
            "description": None,
        }

    def target(self, i: int) -> tuple[Stream, Json]:
        return Stream.MIIT, {
            "target_id": f"YJ-{self.rng.randrange(1, 100)}",
            "iron_tonnes": 520_000.0,
            "steel_tonnes": 0.0,
            "deadline": _timestamp(self.ts + 180 * 86_400),
            "basis": "压减钢铁产能工作方案",
        }

    def overdue(self, i: int) -> tuple[Stream, Json]:
        return Stream.MIIT, {
            "target_id": f"YJ-{self.rng.randrange(1, 100)}",
            "deadline": _timestamp(self.ts - 86_400),
            "iron_tonnes_missing": 520_000.0,
            "steel_tonnes_missing": 0.0,
        }

    def replacement(self, i: int) -> tuple[Stream, Json]:
        retired = float(self.rng.randrange(50, 150) * 10_000)
        return Stream.MIIT, {
            "project_id": f"ZH-{self.rng.randrange(1, 100)}",
            "product": Product.IRON.value,
            "new_capacity_tonnes": retired * self.pick((0.8, 1.0, 1.25)),
            "retired_capacity_tonnes": retired,
            "retired_equipment_ids": [],
        }

    def tipoff_received(self, i: int) -> tuple[Stream, Json]:
        self.tipoffs[i] += 1
        return Stream.STEEL_ASSOCIATION, {
            "tipoff_id": f"JB-{i}-{self.tipoffs[i]}",
            "channel": "“地条钢”举报平台",
            "summary": "举报夜间使用中频炉生产钢坯",
            "dimension": Dimension.PRODUCT_QUALITY.value,
        }

    def tipoff_verified(self, i: int) -> tuple[Stream, Json]:
        finding = self.last_finding[i]
        return Stream.STEEL_ASSOCIATION, {
            "tipoff_id": f"JB-{i}-{max(self.tipoffs[i], 1)}",
            "substantiated": self.rng.random() < 0.6,
            "finding_ids": [finding] if finding else [],
            "notes": None,
        }

    def tipoff_closed(self, i: int) -> tuple[Stream, Json]:
        penalty = self.last_penalty[i]
        return Stream.STEEL_ASSOCIATION, {
            "tipoff_id": f"JB-{i}-{max(self.tipoffs[i], 1)}",
            "outcome": "已核查处理",
            "penalty_ids": [penalty] if penalty else [],
        }

    def reading(self, i: int) -> tuple[Stream, Json]:
        hour = self.ts - self.ts % 3600
        night = (hour // 3600 + 8) % 24 in (22, 23, 0, 1, 2, 3, 4, 5)  # Beijing time
        return Stream.POWER, {
            "meter_id": f"M-{i}",
            "period_start": _timestamp(hour - 3600),
            "period_end": _timestamp(hour),
            "kwh": float(self.rng.randrange(50, 4000)),
            "night_share": 1.0 if night else 0.0,
        }

    def anomaly(self, i: int) -> tuple[Stream, Json]:
        kind: AnomalyKind = self.pick(tuple(AnomalyKind))
        return Stream.POWER, {
            "kind": kind.value,
            "window_start": _timestamp(self.ts - 3 * 86_400),
            "window_end": _timestamp(self.ts),
            "observed": round(0.5 + self.rng.random() / 2, 4),
            "baseline": 0.3,
            "reading_ids": [],
            "description": None,
        }

    def case_opened(self, i: int) -> tuple[Stream, Json]:
        self.cases[i] += 1
        return Stream.TASKFORCE, {
            "case_id": f"CASE-{i}-{self.cases[i]}",
            "title": "违法违规产能核查",
            "reason": "多部门发现问题",
        }

    def case_assigned(self, i: int) -> tuple[Stream, Json]:
        return Stream.TASKFORCE, {
            "case_id": f"CASE-{i}-{max(self.cases[i], 1)}",
            "assignee": "联合调查组",
            "agencies": [STREAMS[self.agency()].name_zh],
        }

    def case_escalated(self, i: int) -> tuple[Stream, Json]:
        return Stream.TASKFORCE, {
            "case_id": f"CASE-{i}-{max(self.cases[i], 1)}",
            "level": "省级",
            "reason": "问题严重，升级督办",
            "cited_event_ids": [],
        }

    def case_closed(self, i: int) -> tuple[Stream, Json]:
        return Stream.TASKFORCE, {
            "case_id": f"CASE-{i}-{max(self.cases[i], 1)}",
            "outcome": "已依法处理",
        }

    def repair(self, i: int) -> tuple[Stream, Json]:
        return Stream.CREDIT, {"rule_id": None, "reason": "已履行处罚、完成整改，准予信用修复"}


_Builder = Callable[[_Load, int], tuple[Stream, Json]]

_BUILDERS: Final[Mapping[str, _Builder]] = MappingProxyType(
    {
        "FindingRecorded": _Load.finding,
        "FindingAmended": _Load.amended,
        "FindingRetracted": _Load.retracted,
        "PenaltyImposed": _Load.penalty,
        "RectificationVerified": _Load.rectified,
        "IllegalSteelConfirmed": _Load.illegal_steel,
        "EquipmentRegistered": _Load.equipment_registered,
        "EquipmentDismantled": _Load.dismantled,
        "CapacityReductionTargetSet": _Load.target,
        "CapacityReductionOverdue": _Load.overdue,
        "CapacityReplacementApproved": _Load.replacement,
        "EnterpriseRegistered": _Load.registration,
        "EnterpriseUpdated": _Load.updated,
        "TipOffReceived": _Load.tipoff_received,
        "TipOffVerified": _Load.tipoff_verified,
        "TipOffClosed": _Load.tipoff_closed,
        "PowerReading": _Load.reading,
        "PowerAnomalyDetected": _Load.anomaly,
        "CaseOpened": _Load.case_opened,
        "CaseAssigned": _Load.case_assigned,
        "CaseEscalated": _Load.case_escalated,
        "CaseClosed": _Load.case_closed,
        "CreditRepairApproved": _Load.repair,
    }
)


def generate(
    enterprises: int,
    events: int,
    *,
    mix: Mapping[str, float] | None = None,
    seed: int = 0,
    now: datetime,
) -> Iterator[Json]:
    """`events` valid event dicts over exactly `enterprises` enterprises (needs events ≥
    enterprises: each is registered before anything else names it).

    `mix` weighs event types (names as in `events.EVENT_TYPES`) for the events that are not
    first registrations; it defaults to `DEFAULT_MIX`. `now` (timezone-aware) ends the time span.
    """
    if enterprises < 1:
        raise ValueError("need at least one enterprise")
    if events < enterprises:
        raise ValueError(f"need at least {enterprises} events: one registration per enterprise")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now.isoformat()}")
    types, cum = _check_mix(DEFAULT_MIX if mix is None else mix)
    return _stream(enterprises, events, types, cum, seed, int(now.timestamp()))


def _stream(
    n: int, m: int, types: list[str], cum: list[float], seed: int, end: int
) -> Iterator[Json]:
    load = _Load(n, seed)
    rng = load.rng
    builders = [_BUILDERS[t] for t in types]
    span = int(SPAN.total_seconds())
    start = end - span
    unregistered = n
    scan = 0  # below it, every enterprise is registered
    for k in range(m):
        load.ts = ts = start + (k * span) // m
        load.event_id = load.uuid()
        i = rng.randrange(n)
        if m - k == unregistered:
            # As many events left as enterprises never seen: register them, in order.
            while load.registered[scan]:
                scan += 1
            i = scan
        if not load.registered[i]:
            load.registered[i] = 1
            unregistered -= 1
            event_type, (stream, payload) = "EnterpriseRegistered", load.registration(i)
        else:
            j = bisect.bisect_left(cum, rng.random())
            j = min(j, len(types) - 1)  # float rounding could leave the last sum below 1
            event_type, (stream, payload) = types[j], builders[j](load, i)
        yield {
            "event_id": load.event_id,
            "event_type": event_type,
            "schema_version": 1,
            "stream": stream.value,
            "enterprise": load.code(i),
            "occurred_at": _timestamp(ts),
            "recorded_at": _timestamp(min(ts + rng.randrange(60, 7200), end)),
            "actor": _actor(stream, rng.randrange(1, 500)),
            "correlation_id": None,
            "causation_id": None,
            "payload": payload,
        }


# --- command line ----------------------------------------------------------------------


def _parse_mix(text: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, sep, weight = part.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected Type=weight, got {part!r}")
        try:
            mix[name.strip()] = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(f"weight of {name!r} is not a number") from None
    return mix


def _parse_now(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        raise argparse.ArgumentTypeError("--now needs a UTC offset, e.g. 2026-06-01T00:00:00Z")
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadgen", description="Write synthetic events as JSON Lines."
    )
    parser.add_argument("--enterprises", type=int, required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="JSON Lines file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--mix", type=_parse_mix, help="e.g. FindingRecorded=0.8,PenaltyImposed=0.2"
    )
    parser.add_argument(
        "--now", type=_parse_now, help="end of the time span (default: the current time)"
    )
    args = parser.parse_args(argv)
    now = args.now or datetime.now(UTC).replace(microsecond=0)
    try:
        stream = generate(args.enterprises, args.events, mix=args.mix, seed=args.seed, now=now)
    except ValueError as exc:
        parser.error(str(exc))
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    with args.out.open("wb", buffering=1 << 20) as out:
        for event in stream:
            counts[event["event_type"]] += 1
            out.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
    elapsed = time.perf_counter() - started
    total = sum(counts.values())
    size = args.out.stat().st_size
    print(
        f"wrote {total:,} events over {args.enterprises:,} enterprises to {args.out} "
        f"({size / 1e6:,.1f} MB) in {elapsed:,.1f} s ({total / max(elapsed, 1e-9):,.0f} events/s)"
    )
    for name, count in counts.most_common():
        print(f"  {name:<28} {count:>12,}  {count / total:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
