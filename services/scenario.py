"""The demonstration scenario (演示场景), drawn from the seed documents.

Three threads of the seed, as the agencies would have published them:

- 石家庄市压减钢铁产能工作方案: the city's five steel companies, their equipment in the capacity
  ledger (一企一档) and their reduction targets. 西柏坡钢铁 and 河北丰达钢铁 dismantle on time;
  河北石鹿特钢 removes one of its two 70 t electric furnaces, misses the deadline (R2) and loses
  its pollutant-discharge permit (吊销排污许可证, R4); 敬业 and 石家庄钢铁 have later deadlines.
- 江西: foundries in 鹰潭, 上饶 and 吉安 (泰和) that cast by day and melt scrap into billets at
  night in induction furnaces (白天搞铸造、晚上搞钢坯). The grid's hourly readings show the
  night load, the detector flags it, tip-offs are received, verified and closed (接到一起、
  核实一起、查处一起), and 地条钢 is confirmed (R1). The 泰和 foundry was listed a year and a
  half ago and has since been repaired (信用修复), so its history shows a listing that ended.
- The twelve-department joint investigation (联合调查组) of 江苏华达钢铁 and 河北安丰钢铁: serious
  findings from many agencies within days of each other (R3), revoked licences (R4), and at
  安丰 a capacity replacement that adds more than it retires (not 等量或减量置换, R5).

All times are placed relative to `now` (Beijing time, within about 20 months before it), so the
scenario means the same whenever it is loaded. Event ids come from uuid5 over a readable name and
do not depend on `now`: loading the scenario again never doubles it (the event store answers a
re-sent id as a duplicate, or as a conflict if the times moved).

The company names and the capacity figures of the 石家庄 plan, and the names 江苏华达钢铁 and 河北
安丰钢铁, are from the seed. Everything else (the 江西 foundries' names, the organisation codes,
officers, findings, penalties, dates and the resulting statuses) is illustrative and says nothing
about any real company.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final
from uuid import UUID

from events import envelope as e
from events import payloads as p
from events.dimensions import Dimension, Severity
from events.registry import Event
from events.streams import STREAMS, Stream
from events.uscc import complete
from projections.policy import CreditStatus, RuleId

CST: Final = timezone(timedelta(hours=8), "CST")
"""Beijing time: every agency records in it."""

NAMESPACE: Final = uuid.UUID("aa29bb0e-4113-48d1-abd3-0de99704be12")
"""uuid5 namespace of the scenario's event ids."""

# --- the enterprises ------------------------------------------------------------------


def _org_code(body: str) -> str:
    """An organisation code (组织机构代码, GB 11714): 8 digits and their check character."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    check = 11 - sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11
    return body + ("X" if check == 10 else "0" if check == 11 else str(check))


@dataclass(frozen=True, slots=True)
class Firm:
    """One enterprise of the scenario and what the blacklist should say about it at `now`."""

    key: str  # readable part of its event ids
    name: str
    region: str  # 行政区划代码 (GB/T 2260) of its county or city
    org: str  # the 8 digits of its organisation code
    address: str
    legal_representative: str
    scope: str
    industry: p.Industry
    registered_on: date
    expected: CreditStatus
    rules: frozenset[RuleId] = frozenset()

    @property
    def uscc(self) -> str:
        # 9: enterprise registered by market regulation; 1: company (企业).
        return complete(f"91{self.region}{_org_code(self.org)}")


_STEEL_SCOPE = (
    "生铁、钢坯、钢材冶炼、轧制及销售；冶金副产品销售"
    "（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
)
_FOUNDRY_SCOPE = "铸件、机械配件的生产、加工及销售（不含钢坯、钢锭冶炼）"

XIBAIPO = Firm(
    key="xibaipo",
    name="西柏坡钢铁有限责任公司",
    region="130131",  # 河北省石家庄市平山县
    org="10465318",
    address="河北省石家庄市平山县温塘镇工业园区",
    legal_representative="陈志刚",
    scope=_STEEL_SCOPE,
    industry=p.Industry.STEEL,
    registered_on=date(1998, 4, 16),
    expected=CreditStatus.CLEAR,
)
FENGDA = Firm(
    key="fengda",
    name="河北丰达钢铁有限公司",
    region="130121",  # 河北省石家庄市井陉县
    org="60102437",
    address="河北省石家庄市井陉县微水镇北关村",
    legal_representative="杨立新",
    scope=_STEEL_SCOPE,
    industry=p.Industry.STEEL,
    registered_on=date(2003, 9, 2),
    expected=CreditStatus.CLEAR,
)
SHILU = Firm(
    key="shilu",
    name="河北石鹿特钢有限公司",
    region="130110",  # 河北省石家庄市鹿泉区
    org="73560814",
    address="河北省石家庄市鹿泉区上庄镇工业区",
    legal_representative="马建华",
    scope="特种钢冶炼、轧制及销售；钢材加工（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
    industry=p.Industry.SPECIAL_STEEL,
    registered_on=date(2002, 11, 20),
    expected=CreditStatus.CREDIT_RESTRICTED,
    rules=frozenset({RuleId.R2, RuleId.R4}),
)
JINGYE = Firm(
    key="jingye",
    name="河北敬业集团有限公司",
    region="130131",  # 河北省石家庄市平山县
    org="10477392",
    address="河北省石家庄市平山县南甸镇",
    legal_representative="李赶坡",
    scope=_STEEL_SCOPE,
    industry=p.Industry.STEEL,
    registered_on=date(1994, 6, 8),
    expected=CreditStatus.WATCH,
)
SHIGANG = Firm(
    key="shigang",
    name="石家庄钢铁有限责任公司",
    region="130102",  # 河北省石家庄市长安区
    org="10430227",
    address="河北省石家庄市长安区和平东路363号",
    legal_representative="黄永建",
    scope=_STEEL_SCOPE,
    industry=p.Industry.STEEL,
    registered_on=date(1996, 12, 28),
    expected=CreditStatus.CLEAR,
)
GUIXI = Firm(
    key="guixi-xinrui",
    name="贵溪市鑫瑞铸造有限公司",
    region="360681",  # 江西省鹰潭市贵溪市
    org="79479051",
    address="江西省鹰潭市贵溪市滨江镇工业园",
    legal_representative="邵国平",
    scope=_FOUNDRY_SCOPE,
    industry=p.Industry.FOUNDRY,
    registered_on=date(2011, 3, 15),
    expected=CreditStatus.BLACKLISTED,
    rules=frozenset({RuleId.R1}),
)
YUJIANG = Firm(
    key="yujiang-huatai",
    name="鹰潭市余江区华泰精密铸造有限公司",
    region="360603",  # 江西省鹰潭市余江区
    org="58920764",
    address="江西省鹰潭市余江区中童镇工业园",
    legal_representative="吴丽萍",
    scope="球墨铸铁件、精密铸件的生产及销售（不含钢坯、钢锭冶炼）",
    industry=p.Industry.FOUNDRY,
    registered_on=date(2012, 8, 30),
    expected=CreditStatus.CLEAR,
)
GUANGFENG = Firm(
    key="guangfeng-hengchang",
    name="上饶市广丰区恒昌铸造有限公司",
    region="361103",  # 江西省上饶市广丰区
    org="66749013",
    address="江西省上饶市广丰区芦林工业园",
    legal_representative="周德胜",
    scope=_FOUNDRY_SCOPE,
    industry=p.Industry.FOUNDRY,
    registered_on=date(2009, 5, 12),
    expected=CreditStatus.WATCH,
)
TAIHE = Firm(
    key="taihe-hongxin",
    name="泰和县宏鑫铸造有限公司",
    region="360826",  # 江西省吉安市泰和县
    org="69371845",
    address="江西省吉安市泰和县工业园区沿溪路",
    legal_representative="肖建明",
    scope=_FOUNDRY_SCOPE,
    industry=p.Industry.FOUNDRY,
    registered_on=date(2010, 10, 9),
    expected=CreditStatus.CLEAR,
)
HUADA = Firm(
    key="huada",
    name="江苏华达钢铁有限公司",
    region="320381",  # 江苏省徐州市新沂市
    org="74823916",
    address="江苏省徐州市新沂市经济开发区",
    legal_representative="刘金华",
    scope=_STEEL_SCOPE,
    industry=p.Industry.STEEL,
    registered_on=date(2003, 2, 18),
    expected=CreditStatus.BLACKLISTED,
    rules=frozenset({RuleId.R1, RuleId.R3, RuleId.R4}),
)
ANFENG = Firm(
    key="anfeng",
    name="河北安丰钢铁有限公司",
    region="130322",  # 河北省秦皇岛市昌黎县
    org="60119385",
    address="河北省秦皇岛市昌黎县靖安镇",
    legal_representative="纪世龙",
    scope=_STEEL_SCOPE,
    industry=p.Industry.STEEL,
    registered_on=date(2001, 7, 26),
    expected=CreditStatus.BLACKLISTED,
    rules=frozenset({RuleId.R3, RuleId.R5}),
)

FIRMS: Final[tuple[Firm, ...]] = (
    XIBAIPO,
    FENGDA,
    SHILU,
    JINGYE,
    SHIGANG,
    GUIXI,
    YUJIANG,
    GUANGFENG,
    TAIHE,
    HUADA,
    ANFENG,
)

EXPECTED: Final[dict[str, tuple[CreditStatus, frozenset[RuleId]]]] = {
    f.uscc: (f.expected, f.rules) for f in FIRMS
}
"""USCC → the status and the rule ids of the active listings at `now`."""

NAMES: Final[dict[str, str]] = {f.uscc: f.name for f in FIRMS}
"""USCC → 企业名称."""

# --- officers and systems that record the events ---------------------------------------

_SJZ_MIIT = "石家庄市工业和信息化局 刘卫东"
_SJZ_ENV = "石家庄市环境保护局 赵红梅"
_SJZ_SAFETY = "石家庄市安全生产监督管理局 孙志强"
_SJZ_CREDIT = "中国银监会河北监管局 周明"
_SJZ_HOUSING = "石家庄市住房和城乡建设局 韩立军"
_YT_MIIT = "鹰潭市工业和信息化委员会 胡文斌"
_YT_QUALITY = "鹰潭市市场和质量监督管理局 徐志华"
_SR_MIIT = "上饶市广丰区工业和信息化局 吴建平"
_SR_QUALITY = "上饶市广丰区市场和质量监督管理局 郑晓燕"
_JA_MIIT = "吉安市工业和信息化局 罗小兵"
_JA_QUALITY = "泰和县市场和质量监督管理局 肖海燕"
_JA_ENV = "泰和县环境保护局 郭立新"
_JA_NDRC = "吉安市发展和改革委员会 曾庆华"
_CISA = "中国钢铁工业协会“地条钢”举报平台 陈静"
_TASKFORCE = "部际联席会议联合调查组 王振东"
_JX_TASKFORCE = "江西省化解过剩产能工作领导小组办公室 宋立群"

_JOINT: dict[Stream, str] = {
    Stream.NDRC: "国家发展改革委 联合调查组 张海涛",
    Stream.MIIT: "工业和信息化部 联合调查组 李晓东",
    Stream.QUALITY: "质检总局 联合调查组 王建平",
    Stream.LAND: "国土资源部 联合调查组 赵永刚",
    Stream.ENVIRONMENT: "环境保护部 联合调查组 钱立华",
    Stream.HOUSING: "住房城乡建设部 联合调查组 孙红",
    Stream.SAFETY: "安全监管总局 联合调查组 周建国",
    Stream.CUSTOMS: "海关总署 联合调查组 吴敏",
    Stream.TAX: "税务总局 联合调查组 郑国强",
    Stream.MARKET: "工商总局 联合调查组 冯雪梅",
    Stream.CREDIT: "银监会 联合调查组 陈立新",
    Stream.STEEL_ASSOCIATION: "中国钢铁工业协会 联合调查组 褚晓峰",
}
_TWELVE = [STREAMS[s].name_zh for s in _JOINT]

_SJZ_PLAN = (
    "《石家庄市压减钢铁产能工作方案》：全市5家钢企净压减钢铁过剩产能856万吨，"
    "其中压减炼铁产能374万吨、粗钢产能482万吨"
)
_SJZ_SANCTIONS = (
    "对未按规定期限压减产能的企业，吊销企业排污许可证，金融机构不得提供任何形式的新增授信支持，"
    "相关管理部门不予办理生产许可，已颁发生产许可证、安全生产许可证的依法撤回"
)

# --- building the events ----------------------------------------------------------------

_NIGHT_HOURS = frozenset({22, 23, 0, 1, 2, 3, 4, 5})  # 22:00–06:00

Profile = Callable[[int, int], float]
"""kWh drawn in one hour, from (day index, hour of day)."""


def _night_melting(d: int, h: int) -> float:
    """A foundry that melts scrap in induction furnaces at night: heavy load 22:00–06:00."""
    if h in _NIGHT_HOURS:
        return 3150.0 + 45.0 * ((d * 24 + h) * 7 % 9)
    return 260.0 + 15.0 * ((d * 24 + h) * 5 % 7)


def _day_casting(d: int, h: int) -> float:
    """A foundry that melts cast iron on the day shift only."""
    if 8 <= h < 18:
        return 720.0 + 20.0 * ((d * 24 + h) * 5 % 9)
    if h in _NIGHT_HOURS:
        return 45.0 + 3.0 * ((d * 24 + h) % 5)
    return 180.0 + 10.0 * ((d * 24 + h) % 4)


@dataclass(frozen=True, slots=True)
class _Meter:
    """What a run of readings showed: the detector's input."""

    reading_ids: tuple[UUID, ...]
    start: datetime
    end: datetime
    kwh: float
    night_kwh: float

    @property
    def night_share(self) -> float:
        return round(self.night_kwh / self.kwh, 4)

    @property
    def daily_kwh(self) -> float:
        days = (self.end - self.start) / timedelta(days=1)
        return round(self.kwh / days, 1)


class _Scenario:
    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"now must be timezone-aware, got {now.isoformat()}")
        self.now = now
        local = now.astimezone(CST)
        # Every event lies before today's local midnight, so before `now` whatever its hour.
        self.midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        self.out: list[Event] = []
        self._ids: set[UUID] = set()

    # time

    def day(self, days_ago: int, hour: int = 9, minute: int = 0) -> datetime:
        """Beijing time `hour:minute` on the day `days_ago` days before today (≥ 1)."""
        if days_ago < 1 or not 0 <= hour < 24:
            raise ValueError(f"day({days_ago}, {hour}) is not before today")
        return self.midnight - timedelta(days=days_ago) + timedelta(hours=hour, minutes=minute)

    def ahead(self, days: int) -> datetime:
        """The end of the day `days` days after today: a deadline still to come."""
        return self.midnight + timedelta(days=days, hours=23, minutes=59)

    # envelope

    def env(
        self,
        firm: Firm,
        label: str,
        stream: Stream,
        at: datetime,
        actor: str,
        *,
        lag: timedelta = timedelta(hours=2),
        correlation: UUID | None = None,
        causation: UUID | None = None,
    ) -> dict[str, Any]:
        return {
            "event_id": uuid.uuid5(NAMESPACE, f"{firm.key}/{label}"),
            "stream": stream,
            "enterprise": firm.uscc,
            "occurred_at": at,
            "recorded_at": min(at + lag, self.now),
            "actor": actor,
            "correlation_id": correlation,
            "causation_id": causation,
        }

    def emit(self, event: Event) -> UUID:
        if event.event_id in self._ids:
            raise ValueError(f"two scenario events share the id {event.event_id}")
        self._ids.add(event.event_id)
        self.out.append(event)
        return event.event_id

    # the event types the scenario uses most

    def register(self, firm: Firm, days_ago: int) -> UUID:
        return self.emit(
            e.EnterpriseRegistered(
                **self.env(
                    firm, "registered", Stream.MARKET, self.day(days_ago, 10), _market(firm)
                ),
                payload=p.EnterpriseRegisteredPayload(
                    name=firm.name,
                    legal_representative=firm.legal_representative,
                    registered_address=firm.address,
                    business_scope=firm.scope,
                    industry=firm.industry,
                    registered_on=firm.registered_on,
                ),
            )
        )

    def finding(
        self,
        firm: Firm,
        label: str,
        stream: Stream,
        at: datetime,
        actor: str,
        *,
        dimension: Dimension,
        severity: Severity,
        code: str,
        description: str,
        evidence: Sequence[str] = (),
        location: str | None = None,
        lag: timedelta = timedelta(hours=20),
        correlation: UUID | None = None,
        causation: UUID | None = None,
    ) -> UUID:
        return self.emit(
            e.FindingRecorded(
                **self.env(
                    firm,
                    label,
                    stream,
                    at,
                    actor,
                    lag=lag,
                    correlation=correlation,
                    causation=causation,
                ),
                payload=p.FindingRecordedPayload(
                    dimension=dimension,
                    severity=severity,
                    violation_code=code,
                    description=description,
                    evidence=list(evidence),
                    location=location,
                ),
            )
        )

    def penalty(
        self,
        firm: Firm,
        label: str,
        stream: Stream,
        at: datetime,
        actor: str,
        *,
        kind: p.PenaltyKind,
        legal_basis: str,
        description: str,
        findings: Sequence[UUID] = (),
        amount: float | None = None,
        correlation: UUID | None = None,
    ) -> UUID:
        return self.emit(
            e.PenaltyImposed(
                **self.env(
                    firm,
                    label,
                    stream,
                    at,
                    actor,
                    lag=timedelta(hours=6),
                    correlation=correlation,
                    causation=findings[0] if findings else None,
                ),
                payload=p.PenaltyImposedPayload(
                    kind=kind,
                    amount_cny=amount,
                    legal_basis=legal_basis,
                    finding_ids=list(findings),
                    description=description,
                ),
            )
        )

    def rectified(
        self,
        firm: Firm,
        label: str,
        stream: Stream,
        at: datetime,
        actor: str,
        description: str,
        *,
        findings: Sequence[UUID] = (),
        penalties: Sequence[UUID] = (),
    ) -> UUID:
        return self.emit(
            e.RectificationVerified(
                **self.env(firm, label, stream, at, actor, lag=timedelta(hours=4)),
                payload=p.RectificationVerifiedPayload(
                    finding_ids=list(findings), penalty_ids=list(penalties), description=description
                ),
            )
        )

    def equipment(
        self,
        firm: Firm,
        equipment_id: str,
        at: datetime,
        actor: str,
        *,
        kind: p.EquipmentKind,
        size: float,
        product: p.Product,
        tonnes: float,
        stream: Stream = Stream.MIIT,
    ) -> UUID:
        unit = (
            p.SizeUnit.CUBIC_METRES if kind is p.EquipmentKind.BLAST_FURNACE else p.SizeUnit.TONNES
        )
        return self.emit(
            e.EquipmentRegistered(
                **self.env(
                    firm, f"equipment/{equipment_id}", stream, at, actor, lag=timedelta(days=1)
                ),
                payload=p.EquipmentRegisteredPayload(
                    equipment_id=equipment_id,
                    kind=kind,
                    size=size,
                    size_unit=unit,
                    product=product,
                    annual_capacity_tonnes=tonnes,
                ),
            )
        )

    def dismantle(
        self, firm: Firm, equipment_id: str, at: datetime, actor: str, verified_by: str, what: str
    ) -> UUID:
        return self.emit(
            e.EquipmentDismantled(
                **self.env(
                    firm,
                    f"dismantled/{equipment_id}",
                    Stream.MIIT,
                    at,
                    actor,
                    lag=timedelta(days=1),
                ),
                payload=p.EquipmentDismantledPayload(
                    equipment_id=equipment_id, verified_by=verified_by, description=what
                ),
            )
        )

    def target(
        self,
        firm: Firm,
        target_id: str,
        at: datetime,
        deadline: datetime,
        basis: str,
        *,
        iron: float = 0.0,
        steel: float = 0.0,
    ) -> UUID:
        return self.emit(
            e.CapacityReductionTargetSet(
                **self.env(
                    firm, f"target/{target_id}", Stream.MIIT, at, _SJZ_MIIT, lag=timedelta(days=1)
                ),
                payload=p.CapacityReductionTargetSetPayload(
                    target_id=target_id,
                    iron_tonnes=iron,
                    steel_tonnes=steel,
                    deadline=deadline,
                    basis=basis,
                ),
            )
        )

    def tipoff(
        self,
        firm: Firm,
        tipoff_id: str,
        stream: Stream,
        actor: str,
        *,
        received: datetime,
        channel: str,
        summary: str,
        dimension: Dimension | None,
        verified: datetime,
        substantiated: bool,
        notes: str,
        findings: Sequence[UUID],
        closed: datetime,
        outcome: str,
        penalties: Sequence[UUID] = (),
        correlation: UUID | None = None,
    ) -> None:
        """接到一起、核实一起、查处一起: the three steps of one tip-off."""
        got = self.emit(
            e.TipOffReceived(
                **self.env(
                    firm,
                    f"tipoff/{tipoff_id}/received",
                    stream,
                    received,
                    actor,
                    lag=timedelta(minutes=30),
                ),
                payload=p.TipOffReceivedPayload(
                    tipoff_id=tipoff_id, channel=channel, summary=summary, dimension=dimension
                ),
            )
        )
        self.emit(
            e.TipOffVerified(
                **self.env(
                    firm,
                    f"tipoff/{tipoff_id}/verified",
                    stream,
                    verified,
                    actor,
                    correlation=correlation,
                    causation=got,
                ),
                payload=p.TipOffVerifiedPayload(
                    tipoff_id=tipoff_id,
                    substantiated=substantiated,
                    finding_ids=list(findings),
                    notes=notes,
                ),
            )
        )
        self.emit(
            e.TipOffClosed(
                **self.env(
                    firm,
                    f"tipoff/{tipoff_id}/closed",
                    stream,
                    closed,
                    actor,
                    correlation=correlation,
                    causation=got,
                ),
                payload=p.TipOffClosedPayload(
                    tipoff_id=tipoff_id, outcome=outcome, penalty_ids=list(penalties)
                ),
            )
        )

    def case_opened(
        self, firm: Firm, case_id: str, at: datetime, actor: str, title: str, reason: str
    ) -> UUID:
        return self.emit(
            e.CaseOpened(
                **self.env(
                    firm,
                    f"case/{case_id}/opened",
                    Stream.TASKFORCE,
                    at,
                    actor,
                    lag=timedelta(minutes=20),
                ),
                payload=p.CaseOpenedPayload(case_id=case_id, title=title, reason=reason),
            )
        )

    def case_assigned(
        self,
        firm: Firm,
        case_id: str,
        at: datetime,
        actor: str,
        assignee: str,
        agencies: Sequence[str],
        case: UUID,
    ) -> UUID:
        return self.emit(
            e.CaseAssigned(
                **self.env(
                    firm,
                    f"case/{case_id}/assigned",
                    Stream.TASKFORCE,
                    at,
                    actor,
                    lag=timedelta(minutes=20),
                    correlation=case,
                ),
                payload=p.CaseAssignedPayload(
                    case_id=case_id, assignee=assignee, agencies=list(agencies)
                ),
            )
        )

    def case_escalated(
        self,
        firm: Firm,
        case_id: str,
        at: datetime,
        actor: str,
        level: str,
        reason: str,
        cited: Sequence[UUID],
        case: UUID,
    ) -> UUID:
        return self.emit(
            e.CaseEscalated(
                **self.env(
                    firm,
                    f"case/{case_id}/escalated",
                    Stream.TASKFORCE,
                    at,
                    actor,
                    lag=timedelta(minutes=20),
                    correlation=case,
                ),
                payload=p.CaseEscalatedPayload(
                    case_id=case_id, level=level, reason=reason, cited_event_ids=list(cited)
                ),
            )
        )

    def case_closed(
        self, firm: Firm, case_id: str, at: datetime, actor: str, outcome: str, case: UUID
    ) -> UUID:
        return self.emit(
            e.CaseClosed(
                **self.env(
                    firm,
                    f"case/{case_id}/closed",
                    Stream.TASKFORCE,
                    at,
                    actor,
                    lag=timedelta(minutes=20),
                    correlation=case,
                ),
                payload=p.CaseClosedPayload(case_id=case_id, outcome=outcome),
            )
        )

    def readings(
        self, firm: Firm, meter_id: str, first_day_ago: int, days: int, profile: Profile
    ) -> _Meter:
        """Hourly readings (用电数据) for `days` whole days, the first `first_day_ago` days ago."""
        if days < 1 or first_day_ago - days + 1 < 1:
            raise ValueError("readings must end before today")
        ids: list[UUID] = []
        total = night = 0.0
        start = self.midnight - timedelta(days=first_day_ago)
        for d in range(days):
            for h in range(24):
                begin = start + timedelta(days=d, hours=h)
                end = begin + timedelta(hours=1)
                kwh = profile(d, h)
                is_night = h in _NIGHT_HOURS
                total += kwh
                night += kwh if is_night else 0.0
                label = f"power/{meter_id}/{first_day_ago - d}d{h:02d}h"
                ids.append(
                    self.emit(
                        e.PowerReading(
                            **self.env(
                                firm,
                                label,
                                Stream.POWER,
                                end,
                                _grid(firm),
                                lag=timedelta(minutes=5),
                            ),
                            payload=p.PowerReadingPayload(
                                meter_id=meter_id,
                                period_start=begin,
                                period_end=end,
                                kwh=kwh,
                                night_share=1.0 if is_night else 0.0,
                            ),
                        )
                    )
                )
        return _Meter(tuple(ids), start, start + timedelta(days=days), total, night)

    def anomaly(
        self,
        firm: Firm,
        label: str,
        at: datetime,
        meter: _Meter,
        kind: p.AnomalyKind,
        observed: float,
        baseline: float,
        description: str,
    ) -> UUID:
        return self.emit(
            e.PowerAnomalyDetected(
                **self.env(firm, label, Stream.POWER, at, _grid(firm), lag=timedelta(minutes=5)),
                payload=p.PowerAnomalyDetectedPayload(
                    kind=kind,
                    window_start=meter.start,
                    window_end=meter.end,
                    observed=observed,
                    baseline=baseline,
                    reading_ids=list(meter.reading_ids),
                    description=description,
                ),
            )
        )


def _city(firm: Firm) -> str:
    """The prefecture-level city of the registered address (地级市), without 市."""
    return firm.address[3 : firm.address.index("市")]


def _market(firm: Firm) -> str:
    return f"{_city(firm)}市工商行政管理局 登记注册科"


def _grid(firm: Firm) -> str:
    return f"国网{_city(firm)}供电公司 用电信息采集系统"


def _doc(prefix: str, at: datetime, number: int) -> str:
    """A document number in the usual form, e.g. 石工信压〔2026〕17号."""
    return f"{prefix}〔{at.year}〕{number}号"


# --- 石家庄: the reduction plan ---------------------------------------------------------


def _shijiazhuang(s: _Scenario) -> None:
    bf, conv, eaf = (
        p.EquipmentKind.BLAST_FURNACE,
        p.EquipmentKind.CONVERTER,
        p.EquipmentKind.ELECTRIC_ARC_FURNACE,
    )
    iron, steel = p.Product.IRON, p.Product.STEEL
    ledger = s.day(588, 10)  # 一企一档 ledger compiled before the plan
    for firm in (XIBAIPO, FENGDA, SHILU, JINGYE, SHIGANG):
        s.register(firm, 596 if firm is XIBAIPO else 592)

    # 西柏坡: last year's 54万吨 of iron, the base the plan builds on. The seed gives the tonnage
    # only; 54万吨 a year is what a 450 m³ furnace makes.
    s.equipment(
        XIBAIPO, "XBP-BF1", ledger, _SJZ_MIIT, kind=bf, size=450, product=iron, tonnes=540_000
    )
    s.target(
        XIBAIPO,
        "SJZ-YJ-XBP",
        s.day(585),
        s.day(430, 23, 59),
        "上年度压减任务：西柏坡钢铁有限责任公司压减炼铁产能54万吨",
        iron=540_000,
    )
    s.dismantle(
        XIBAIPO,
        "XBP-BF1",
        s.day(470, 15),
        _SJZ_MIIT,
        "石家庄市化解过剩产能验收组",
        "1号高炉炉体、热风炉、上料系统拆除，现场验收确认不具备恢复生产条件",
    )

    plan_at = s.day(520, 10)
    this_year_end = s.day(200, 23, 59)
    later_end = s.ahead(140)
    # 丰达: the 450 m³ blast furnace, 52万吨 of iron, by the end of this year — done in time.
    s.equipment(
        FENGDA, "FD-BF1", ledger, _SJZ_MIIT, kind=bf, size=450, product=iron, tonnes=520_000
    )
    s.target(
        FENGDA,
        "SJZ-YJ-FD",
        plan_at,
        this_year_end,
        f"{_SJZ_PLAN}；河北丰达钢铁有限公司年底前拆除450立方米高炉1座，净压减炼铁产能52万吨",
        iron=520_000,
    )
    s.dismantle(
        FENGDA,
        "FD-BF1",
        s.day(262, 16),
        _SJZ_MIIT,
        "井陉县化解过剩产能验收组",
        "450立方米高炉炉壳切割、炉体拆除，供电线路拆除，拍照存档",
    )
    s.finding(
        FENGDA,
        "finding/env-ultra-low",
        Stream.ENVIRONMENT,
        s.day(240, 10),
        _SJZ_ENV,
        dimension=Dimension.ENVIRONMENTAL_PROTECTION,
        severity=Severity.INFO,
        code="HB-ENV-000",
        description="高炉拆除后现场复查：原料场已清理，未见无组织排放",
        evidence=[_doc("石环监", s.day(240), 112)],
        location="井陉县微水镇厂区",
    )

    # 石鹿特钢: two 70 t electric furnaces, 60万吨 of steel; only one is removed by the deadline.
    for n in (1, 2):
        s.equipment(
            SHILU, f"SL-EAF{n}", ledger, _SJZ_MIIT, kind=eaf, size=70, product=steel, tonnes=300_000
        )
    s.target(
        SHILU,
        "SJZ-YJ-SL",
        plan_at,
        this_year_end,
        f"{_SJZ_PLAN}；河北石鹿特钢有限公司年底前拆除70吨电炉两座，净压减炼钢产能60万吨",
        steel=600_000,
    )
    s.dismantle(
        SHILU,
        "SL-EAF1",
        s.day(305, 14),
        _SJZ_MIIT,
        "鹿泉区化解过剩产能验收组",
        "1号70吨电炉炉体、变压器拆除，验收合格",
    )
    missed = s.finding(
        SHILU,
        "finding/target-missed",
        Stream.MIIT,
        s.day(196, 10),
        _SJZ_MIIT,
        dimension=Dimension.CAPACITY_REPLACEMENT,
        severity=Severity.SERIOUS,
        code="SJZ-YJ-01",
        description="逾期未完成压减任务：2号70吨电炉未拆除，仍在生产，已压减炼钢产能30万吨，尚缺30万吨",
        evidence=[_doc("石工信压", s.day(196), 31), "现场核查照片12张"],
        location="鹿泉区上庄镇厂区电炉车间",
    )
    s.penalty(
        SHILU,
        "penalty/discharge-permit",
        Stream.ENVIRONMENT,
        s.day(152, 15),
        _SJZ_ENV,
        kind=p.PenaltyKind.DISCHARGE_PERMIT_REVOKED,
        legal_basis=f"{_SJZ_SANCTIONS}；《排污许可管理办法》",
        description="未按期完成压减钢铁产能任务，吊销排污许可证",
        findings=[missed],
    )
    s.penalty(
        SHILU,
        "penalty/safety-licence",
        Stream.SAFETY,
        s.day(145, 15),
        _SJZ_SAFETY,
        kind=p.PenaltyKind.SAFETY_LICENCE_WITHDRAWN,
        legal_basis=f"{_SJZ_SANCTIONS}；《安全生产许可证条例》",
        description="依法撤回安全生产许可证",
        findings=[missed],
    )
    s.finding(
        SHILU,
        "finding/credit-notice",
        Stream.CREDIT,
        s.day(150, 11),
        _SJZ_CREDIT,
        dimension=Dimension.BANK_CREDIT,
        severity=Severity.INFO,
        code="YJ-SX-01",
        description="已通知辖内银行业金融机构：对该企业不得提供任何形式的新增授信支持",
        evidence=[_doc("冀银监办发", s.day(150), 58)],
    )

    # 敬业: a 450 m³ blast furnace and three 80 t converters (55万吨 iron, 248万吨 steel),
    # due later.
    s.equipment(
        JINGYE, "JY-BF1", ledger, _SJZ_MIIT, kind=bf, size=450, product=iron, tonnes=550_000
    )
    for n, tonnes in ((1, 830_000), (2, 830_000), (3, 820_000)):
        s.equipment(
            JINGYE, f"JY-CV{n}", ledger, _SJZ_MIIT, kind=conv, size=80, product=steel, tonnes=tonnes
        )
    s.target(
        JINGYE,
        "SJZ-YJ-JY",
        plan_at,
        later_end,
        f"{_SJZ_PLAN}；河北敬业集团有限公司拆除450立方米高炉1座、80吨转炉3座，"
        "净压减炼铁产能55万吨、炼钢产能248万吨",
        iron=550_000,
        steel=2_480_000,
    )
    s.dismantle(
        JINGYE,
        "JY-BF1",
        s.day(121, 15),
        _SJZ_MIIT,
        "平山县化解过剩产能验收组",
        "450立方米高炉拆除，验收合格",
    )
    s.dismantle(
        JINGYE,
        "JY-CV1",
        s.day(63, 15),
        _SJZ_MIIT,
        "平山县化解过剩产能验收组",
        "1号80吨转炉炉壳切割、倾动装置拆除，验收合格",
    )
    safety = s.finding(
        JINGYE,
        "finding/safety-gas",
        Stream.SAFETY,
        s.day(92, 10),
        _SJZ_SAFETY,
        dimension=Dimension.WORK_SAFETY,
        severity=Severity.MINOR,
        code="AJ-2-07",
        description="转炉煤气回收区域一氧化碳报警仪2台未定期检定",
        evidence=[_doc("石安监现", s.day(92), 207)],
    )
    s.rectified(
        JINGYE,
        "rectified/safety-gas",
        Stream.SAFETY,
        s.day(71, 10),
        _SJZ_SAFETY,
        "报警仪已送检并出具检定证书，复查合格",
        findings=[safety],
    )
    s.finding(
        JINGYE,
        "finding/env-sinter",
        Stream.ENVIRONMENT,
        s.day(41, 23, 10),
        _SJZ_ENV,
        dimension=Dimension.ENVIRONMENTAL_PROTECTION,
        severity=Severity.SERIOUS,
        code="HB-ENV-117",
        description="夜间检查：烧结机头烟气在线监测颗粒物小时均值超标2.1倍，料场无组织排放，未按要求落实重污染天气应急减排措施",
        evidence=[_doc("石环监", s.day(41), 356), "在线监测数据截图", "无人机航拍视频"],
        location="平山县南甸镇厂区烧结车间",
    )

    # 石家庄钢铁: relocation (退城搬迁) of 1080/580/480 m³ blast furnaces, two 60 t converters and a
    # 60 t electric furnace: 213万吨 iron and 174万吨 steel, due later.
    for eid, size, tonnes in (
        ("SG-BF1", 1080, 1_070_000),
        ("SG-BF2", 580, 580_000),
        ("SG-BF3", 480, 480_000),
    ):
        s.equipment(
            SHIGANG, eid, ledger, _SJZ_MIIT, kind=bf, size=size, product=iron, tonnes=tonnes
        )
    for eid, kind, tonnes in (
        ("SG-CV1", conv, 650_000),
        ("SG-CV2", conv, 650_000),
        ("SG-EAF1", eaf, 440_000),
    ):
        s.equipment(
            SHIGANG, eid, ledger, _SJZ_MIIT, kind=kind, size=60, product=steel, tonnes=tonnes
        )
    s.target(
        SHIGANG,
        "SJZ-YJ-SG",
        plan_at,
        later_end,
        f"{_SJZ_PLAN}；石家庄钢铁有限责任公司搬迁1080立方米高炉1座、580立方米高炉1座、"
        "480立方米高炉1座、60吨转炉两座、60吨电炉1座，净压减炼铁产能213万吨、炼钢产能174万吨",
        iron=2_130_000,
        steel=1_740_000,
    )
    s.emit(
        e.CapacityReplacementApproved(
            **s.env(
                SHIGANG,
                "replacement/SG-RELOCATION",
                Stream.MIIT,
                s.day(410, 10),
                "河北省工业和信息化厅 原材料处 高建民",
                lag=timedelta(days=1),
            ),
            payload=p.CapacityReplacementApprovedPayload(
                project_id="SG-RELOCATION",
                product=steel,
                new_capacity_tonnes=1_600_000,
                retired_capacity_tonnes=1_740_000,
            ),
        )
    )
    s.finding(
        SHIGANG,
        "finding/housing-permit",
        Stream.HOUSING,
        s.day(380, 10),
        _SJZ_HOUSING,
        dimension=Dimension.CONSTRUCTION_PERMIT,
        severity=Severity.INFO,
        code="JS-XK-00",
        description="搬迁新区电炉炼钢项目施工许可手续齐全，与产能置换方案一致",
        evidence=[_doc("石住建施", s.day(380), 96)],
        location="井陉矿区新厂区",
    )
    s.dismantle(
        SHIGANG,
        "SG-BF3",
        s.day(251, 15),
        _SJZ_MIIT,
        "石家庄市化解过剩产能验收组",
        "480立方米高炉停炉拆除，验收合格",
    )
    s.dismantle(
        SHIGANG,
        "SG-BF2",
        s.day(102, 15),
        _SJZ_MIIT,
        "石家庄市化解过剩产能验收组",
        "580立方米高炉停炉拆除，验收合格",
    )


# --- 江西: foundries making 地条钢 at night ----------------------------------------------


def _guixi(s: _Scenario) -> None:
    """鹰潭: a foundry caught melting scrap into billets at night."""
    f = GUIXI
    s.register(f, 590)
    meter = s.readings(f, "YT-360681-0738", 101, 3, _night_melting)
    night = s.anomaly(
        f,
        "anomaly/night-use",
        s.day(98, 8, 30),
        meter,
        p.AnomalyKind.NIGHT_USE,
        meter.night_share,
        0.30,
        f"连续3日夜间（22:00—06:00）用电占比{meter.night_share:.1%}，同类铸造企业约30%；"
        "夜间负荷与中频炉熔炼特征一致",
    )
    case = s.case_opened(
        f,
        "YT-DTG-001",
        s.day(97, 9),
        _JX_TASKFORCE,
        "贵溪市鑫瑞铸造涉嫌夜间生产“地条钢”",
        "用电监测发现夜间用电异常，并接到“地条钢”举报平台转办举报",
    )
    s.case_assigned(
        f,
        "YT-DTG-001",
        s.day(97, 10),
        _JX_TASKFORCE,
        "鹰潭市化解过剩产能工作领导小组办公室",
        ["工业和信息化部", "质检总局", "环境保护部", "工商总局"],
        case,
    )
    raid = s.finding(
        f,
        "finding/night-raid",
        Stream.QUALITY,
        s.day(96, 1, 40),
        _YT_QUALITY,
        dimension=Dimension.PRODUCT_QUALITY,
        severity=Severity.CRITICAL,
        code="ZJ-DTG-01",
        description="夜间突击检查：2台5吨中频炉正在熔炼废钢，现场浇铸方坯，库存钢坯约320吨，无质量检验记录",
        evidence=["执法记录仪视频 0096-1", "现场检查笔录", "钢坯抽样检验报告"],
        location="贵溪市滨江镇工业园厂区后院车间",
        lag=timedelta(hours=8),
        correlation=case,
    )
    confirmed = s.emit(
        e.IllegalSteelConfirmed(
            **s.env(
                f,
                "illegal-steel",
                Stream.MIIT,
                s.day(92, 10),
                _YT_MIIT,
                lag=timedelta(hours=5),
                correlation=case,
                causation=raid,
            ),
            payload=p.IllegalSteelConfirmedPayload(
                furnace_type=p.FurnaceType.MEDIUM_FREQUENCY,
                furnace_count=2,
                capacity_tonnes=50_000,
                description="以铸造名义使用中频炉熔化废钢生产钢坯，白天铸造、夜间生产钢坯，认定为“地条钢”",
            ),
        )
    )
    s.case_escalated(
        f,
        "YT-DTG-001",
        s.day(92, 15),
        _JX_TASKFORCE,
        "江西省化解过剩产能工作领导小组",
        "属顶风违法生产“地条钢”，按省政府要求上报并追责",
        [raid, confirmed, night],
        case,
    )
    for n in (1, 2):
        s.equipment(
            f,
            f"YT-XR-IF{n}",
            s.day(92, 11),
            _YT_MIIT,
            kind=p.EquipmentKind.INDUCTION_FURNACE,
            size=5,
            product=p.Product.STEEL,
            tonnes=25_000,
        )
    fine = s.penalty(
        f,
        "penalty/fine",
        Stream.QUALITY,
        s.day(90, 10),
        _YT_QUALITY,
        kind=p.PenaltyKind.FINE,
        amount=1_280_000,
        legal_basis="《中华人民共和国产品质量法》第四十九条",
        description="没收违法生产的钢坯，并处货值金额三倍罚款",
        findings=[raid],
        correlation=case,
    )
    seized = s.penalty(
        f,
        "penalty/seized",
        Stream.QUALITY,
        s.day(96, 3),
        _YT_QUALITY,
        kind=p.PenaltyKind.EQUIPMENT_SEIZED,
        legal_basis="《中华人民共和国产品质量法》第十八条",
        description="查封中频炉2台及配套变压器、钢坯",
        findings=[raid],
        correlation=case,
    )
    cut = s.penalty(
        f,
        "penalty/power-cut",
        Stream.MIIT,
        s.day(96, 6),
        _YT_MIIT,
        kind=p.PenaltyKind.POWER_CUT,
        legal_basis="《江西省取缔“地条钢”遏制违规新增钢铁产能的长效监管机制》",
        description="通知供电部门对中频炉专线停止供电",
        findings=[raid],
        correlation=case,
    )
    for n in (1, 2):
        s.dismantle(
            f,
            f"YT-XR-IF{n}",
            s.day(80, 15),
            _YT_MIIT,
            "贵溪市工信委、市场和质量监管局联合验收",
            f"{n}号中频炉炉体、电源柜、变压器全部拆除，不留后患",
        )
    s.tipoff(
        f,
        "CISA-JB-0417",
        Stream.STEEL_ASSOCIATION,
        _CISA,
        received=s.day(99, 21),
        channel="中国钢铁工业协会“地条钢”及违法违规产能举报平台",
        summary="群众举报：该厂白天搞铸造，夜间用中频炉熔化废钢浇铸钢坯，夜里有大货车运钢坯出厂",
        dimension=Dimension.PRODUCT_QUALITY,
        verified=s.day(95, 10),
        substantiated=True,
        notes="经夜间突击检查属实，转地方依法查处",
        findings=[raid],
        closed=s.day(78, 10),
        outcome="已查处：认定“地条钢”，中频炉拆除，罚款并没收钢坯，列入严重失信名单",
        penalties=[fine, seized, cut],
        correlation=case,
    )
    s.case_closed(
        f,
        "YT-DTG-001",
        s.day(76, 16),
        _JX_TASKFORCE,
        "“地条钢”设备已拆除并验收，处罚执行完毕，企业列入严重失信名单实施联合惩戒",
        case,
    )


def _yujiang(s: _Scenario) -> None:
    """鹰潭: a foundry checked on a tip-off and found clean (举报不属实)."""
    f = YUJIANG
    s.register(f, 590)
    s.readings(f, "YT-360603-0215", 46, 1, _day_casting)
    check = s.finding(
        f,
        "finding/night-check",
        Stream.QUALITY,
        s.day(44, 23, 30),
        _YT_QUALITY,
        dimension=Dimension.PRODUCT_QUALITY,
        severity=Severity.INFO,
        code="ZJ-PC-00",
        description="夜间突击检查：1台3吨中频炉用于球墨铸铁件熔炼，现场无废钢堆存、无钢坯，用电与白班生产一致",
        evidence=["现场检查笔录", "执法记录仪视频 0044-2"],
        location="余江区中童镇工业园厂区",
    )
    s.tipoff(
        f,
        "CISA-JB-0452",
        Stream.STEEL_ASSOCIATION,
        _CISA,
        received=s.day(46, 20),
        channel="中国钢铁工业协会“地条钢”及违法违规产能举报平台",
        summary="匿名举报：疑似夜间使用中频炉生产钢坯",
        dimension=Dimension.PRODUCT_QUALITY,
        verified=s.day(43, 10),
        substantiated=False,
        notes="夜间突击检查及用电数据核查，举报不属实",
        findings=[check],
        closed=s.day(42, 10),
        outcome="举报不属实，予以结案并向举报人反馈",
    )


def _guangfeng(s: _Scenario) -> None:
    """上饶: night load flagged in the last days; the case is open."""
    f = GUANGFENG
    s.register(f, 589)
    s.finding(
        f,
        "finding/monthly-check",
        Stream.QUALITY,
        s.day(58, 10),
        _SR_QUALITY,
        dimension=Dimension.PRODUCT_QUALITY,
        severity=Severity.INFO,
        code="ZJ-PC-00",
        description="月度拉网式排查（白天）：铸件生产正常，设备台账与备案一致，未发现钢坯",
        evidence=[_doc("广市监排", s.day(58), 41)],
        location="广丰区芦林工业园厂区",
    )
    meter = s.readings(f, "SR-361103-1142", 4, 3, _night_melting)
    s.anomaly(
        f,
        "anomaly/night-use",
        s.day(1, 7, 30),
        meter,
        p.AnomalyKind.NIGHT_USE,
        meter.night_share,
        0.30,
        f"近3日夜间（22:00—06:00）用电占比{meter.night_share:.1%}，同类铸造企业约30%",
    )
    s.anomaly(
        f,
        "anomaly/sudden-jump",
        s.day(1, 7, 31),
        meter,
        p.AnomalyKind.SUDDEN_JUMP,
        meter.daily_kwh,
        6_800.0,
        f"近3日日均用电{meter.daily_kwh:,.0f}千瓦时，上月日均6,800千瓦时",
    )
    case = s.case_opened(
        f,
        "SR-DTG-002",
        s.day(1, 10),
        _JX_TASKFORCE,
        "上饶市广丰区恒昌铸造夜间用电异常核查",
        "供电部门通报夜间用电占比及用电量异常，疑似“挂羊头卖狗肉”违规生产钢坯",
    )
    s.case_assigned(
        f,
        "SR-DTG-002",
        s.day(1, 11),
        _SR_MIIT,
        "上饶市广丰区联合检查组（夜间突击检查）",
        ["工业和信息化部", "质检总局", "环境保护部"],
        case,
    )


def _taihe(s: _Scenario) -> None:
    """吉安泰和: listed for 地条钢 a year and a half ago, rectified, and repaired (信用修复)."""
    f = TAIHE
    s.register(f, 596)
    case = s.case_opened(
        f,
        "JA-DTG-001",
        s.day(581, 9),
        _JX_TASKFORCE,
        "泰和县宏鑫铸造违规生产钢坯",
        "举报电话反映该企业以铸造名义生产钢坯",
    )
    s.case_assigned(
        f,
        "JA-DTG-001",
        s.day(581, 10),
        _JX_TASKFORCE,
        "吉安市化解过剩产能工作领导小组办公室",
        ["工业和信息化部", "质检总局", "环境保护部"],
        case,
    )
    quality = s.finding(
        f,
        "finding/billets",
        Stream.QUALITY,
        s.day(580, 2, 10),
        _JA_QUALITY,
        dimension=Dimension.PRODUCT_QUALITY,
        severity=Severity.CRITICAL,
        code="ZJ-DTG-01",
        description="夜间检查：3台工频炉熔化废钢生产钢坯，现场钢坯约180吨，无任何质量检验",
        evidence=["执法记录仪视频 0580-1", "现场检查笔录", "钢坯抽样检验报告"],
        location="泰和县工业园区沿溪路厂区",
        lag=timedelta(hours=8),
        correlation=case,
    )
    env = s.finding(
        f,
        "finding/no-eia",
        Stream.ENVIRONMENT,
        s.day(579, 10),
        _JA_ENV,
        dimension=Dimension.ENVIRONMENTAL_PROTECTION,
        severity=Severity.SERIOUS,
        code="HB-WPXJ-01",
        description="工频炉熔炼项目未批先建，无环评手续，除尘设施未建设",
        evidence=[_doc("泰环监", s.day(579), 23)],
        correlation=case,
    )
    s.emit(
        e.IllegalSteelConfirmed(
            **s.env(
                f,
                "illegal-steel",
                Stream.MIIT,
                s.day(578, 10),
                _JA_MIIT,
                lag=timedelta(hours=5),
                correlation=case,
                causation=quality,
            ),
            payload=p.IllegalSteelConfirmedPayload(
                furnace_type=p.FurnaceType.POWER_FREQUENCY,
                furnace_count=3,
                capacity_tonnes=36_000,
                description="铸造企业使用工频炉熔化废钢生产钢坯，认定为“地条钢”",
            ),
        )
    )
    for n in (1, 2, 3):
        s.equipment(
            f,
            f"JA-HX-IF{n}",
            s.day(578, 11),
            _JA_MIIT,
            kind=p.EquipmentKind.INDUCTION_FURNACE,
            size=4,
            product=p.Product.STEEL,
            tonnes=12_000,
        )
    fine = s.penalty(
        f,
        "penalty/fine",
        Stream.QUALITY,
        s.day(575, 10),
        _JA_QUALITY,
        kind=p.PenaltyKind.FINE,
        amount=860_000,
        legal_basis="《中华人民共和国产品质量法》第四十九条",
        description="没收钢坯，并处罚款",
        findings=[quality],
        correlation=case,
    )
    halt = s.penalty(
        f,
        "penalty/halt",
        Stream.ENVIRONMENT,
        s.day(575, 11),
        _JA_ENV,
        kind=p.PenaltyKind.PRODUCTION_HALT,
        legal_basis="《中华人民共和国环境影响评价法》第三十一条",
        description="责令停止建设、停止生产",
        findings=[env],
        correlation=case,
    )
    for n in (1, 2, 3):
        s.dismantle(
            f,
            f"JA-HX-IF{n}",
            s.day(562, 15),
            _JA_MIIT,
            "泰和县工信局、市场和质量监管局联合验收",
            f"{n}号工频炉及配套电源设备拆除，验收合格",
        )
    s.tipoff(
        f,
        "JA-JB-2211",
        Stream.MIIT,
        _JA_MIIT,
        received=s.day(582, 16),
        channel="吉安市工信局举报电话",
        summary="举报泰和县宏鑫铸造夜间熔化废钢生产钢坯",
        dimension=Dimension.PRODUCT_QUALITY,
        verified=s.day(579, 16),
        substantiated=True,
        notes="夜间检查属实",
        findings=[quality],
        closed=s.day(560, 10),
        outcome="已查处：认定“地条钢”，工频炉拆除，罚款，列入严重失信名单；按有奖举报办法兑现奖励",
        penalties=[fine, halt],
        correlation=case,
    )
    s.rectified(
        f,
        "rectified/quality",
        Stream.QUALITY,
        s.day(545, 10),
        _JA_QUALITY,
        "罚没款已缴清，钢坯已没收处置，设备拆除到位",
        findings=[quality],
        penalties=[fine],
    )
    s.rectified(
        f,
        "rectified/env",
        Stream.ENVIRONMENT,
        s.day(540, 10),
        _JA_ENV,
        "熔炼设施已拆除，场地清理完毕，复查合格",
        findings=[env],
        penalties=[halt],
    )
    s.case_closed(
        f,
        "JA-DTG-001",
        s.day(538, 16),
        _JX_TASKFORCE,
        "“地条钢”设备拆除，处罚执行完毕，整改验收合格",
        case,
    )
    # More than a year after the listing: penalties performed and rectified, so repair is allowed.
    s.emit(
        e.CreditRepairApproved(
            **s.env(
                f, "credit-repair", Stream.NDRC, s.day(172, 10), _JA_NDRC, lag=timedelta(hours=3)
            ),
            payload=p.CreditRepairApprovedPayload(
                rule_id=RuleId.R1.value,
                reason="已履行行政处罚、完成整改，最短公示期一年已满，经核查准予信用修复，移出严重失信名单",
            ),
        )
    )
    # The grid still watches a repaired enterprise (已取缔“地条钢”的企业): a normal day shift.
    s.readings(f, "JA-360826-0391", 10, 2, _day_casting)


# --- the twelve-department joint investigation ------------------------------------------


def _huada(s: _Scenario) -> None:
    """江苏华达钢铁: 地条钢, serious findings of many agencies, licences revoked."""
    f = HUADA
    s.register(f, 594)
    case = s.case_opened(
        f,
        "LH-HUADA",
        s.day(338, 9),
        _TASKFORCE,
        "江苏华达钢铁有限公司违法违规生产“地条钢”联合调查",
        "部际联席会议决定由12个部门和单位组成联合调查组全面核查",
    )
    s.case_assigned(
        f, "LH-HUADA", s.day(338, 11), _TASKFORCE, "部际联席会议联合调查组", _TWELVE, case
    )
    at = {Stream.NDRC: 336, Stream.MIIT: 336, Stream.QUALITY: 335, Stream.LAND: 335}
    checks: list[tuple[Stream, Dimension, Severity, str, str]] = [
        (
            Stream.NDRC,
            Dimension.PROJECT_COMPLIANCE,
            Severity.SERIOUS,
            "FG-XM-03",
            "中频炉炼钢项目未经核准或备案，属违规建设项目",
        ),
        (
            Stream.MIIT,
            Dimension.CAPACITY_REPLACEMENT,
            Severity.CRITICAL,
            "GX-DTG-01",
            "使用中频炉熔化废钢生产钢坯，属应取缔的“地条钢”产能，未纳入产能置换",
        ),
        (
            Stream.QUALITY,
            Dimension.PRODUCT_QUALITY,
            Severity.CRITICAL,
            "ZJ-XK-02",
            "无生产许可证生产钢筋用钢坯，抽检化学成分、力学性能不合格",
        ),
        (
            Stream.LAND,
            Dimension.LAND_APPROVAL,
            Severity.SERIOUS,
            "GT-WP-01",
            "中频炉车间占用集体土地约42亩，未办理用地审批手续",
        ),
        (
            Stream.ENVIRONMENT,
            Dimension.ENVIRONMENTAL_PROTECTION,
            Severity.SERIOUS,
            "HB-WPXJ-01",
            "中频炉项目未批先建，除尘设施不正常运行，烟尘无组织排放",
        ),
        (
            Stream.HOUSING,
            Dimension.CONSTRUCTION_PERMIT,
            Severity.MINOR,
            "JS-XK-02",
            "中频炉车间厂房未取得施工许可",
        ),
        (
            Stream.SAFETY,
            Dimension.WORK_SAFETY,
            Severity.SERIOUS,
            "AJ-1-03",
            "中频炉冷却水系统无安全联锁，未进行安全评价",
        ),
        (
            Stream.CUSTOMS,
            Dimension.EXPORT_SUPERVISION,
            Severity.INFO,
            "HG-CK-00",
            "近两年无钢材出口报关记录",
        ),
        (
            Stream.TAX,
            Dimension.TAX_COMPLIANCE,
            Severity.SERIOUS,
            "SW-TS-04",
            "“地条钢”销售大量使用个人账户收款，隐匿销售收入，涉嫌偷逃税款",
        ),
        (
            Stream.MARKET,
            Dimension.REGISTRATION,
            Severity.MINOR,
            "GS-JY-01",
            "实际经营超出登记的经营范围",
        ),
        (
            Stream.CREDIT,
            Dimension.BANK_CREDIT,
            Severity.MINOR,
            "YJ-DK-02",
            "以技术改造名义取得流动资金贷款，部分用于中频炉项目",
        ),
    ]
    found: dict[Stream, UUID] = {}
    for i, (stream, dim, sev, code, text) in enumerate(checks):
        when = s.day(at.get(stream, 334), 10 + i % 6)
        found[stream] = s.finding(
            f,
            f"finding/{stream.value}",
            stream,
            when,
            _JOINT[stream],
            dimension=dim,
            severity=sev,
            code=code,
            description=text,
            evidence=[_doc("联合调查组核查记录", when, 100 + i), "现场照片、询问笔录"],
            location="新沂市经济开发区厂区",
            correlation=case,
        )
    confirmed = s.emit(
        e.IllegalSteelConfirmed(
            **s.env(
                f,
                "illegal-steel",
                Stream.TASKFORCE,
                s.day(332, 16),
                _TASKFORCE,
                correlation=case,
                causation=found[Stream.MIIT],
            ),
            payload=p.IllegalSteelConfirmedPayload(
                furnace_type=p.FurnaceType.MEDIUM_FREQUENCY,
                furnace_count=6,
                capacity_tonnes=480_000,
                description="顶风违法使用中频炉生产“地条钢”，6台中频炉，年产能约48万吨",
            ),
        )
    )
    s.case_escalated(
        f,
        "LH-HUADA",
        s.day(331, 10),
        _TASKFORCE,
        "国务院",
        "违法违规行为属实，上报国务院严肃追责问责",
        [confirmed, *found.values()],
        case,
    )
    licence = s.penalty(
        f,
        "penalty/production-licence",
        Stream.QUALITY,
        s.day(326, 10),
        _JOINT[Stream.QUALITY],
        kind=p.PenaltyKind.PRODUCTION_LICENCE_WITHDRAWN,
        legal_basis="《中华人民共和国工业产品生产许可证管理条例》第四十五条",
        description="撤回钢筋混凝土用热轧钢筋生产许可证",
        findings=[found[Stream.QUALITY]],
        correlation=case,
    )
    permit = s.penalty(
        f,
        "penalty/discharge-permit",
        Stream.ENVIRONMENT,
        s.day(326, 11),
        _JOINT[Stream.ENVIRONMENT],
        kind=p.PenaltyKind.DISCHARGE_PERMIT_REVOKED,
        legal_basis="《中华人民共和国大气污染防治法》第九十九条；《排污许可管理办法》",
        description="吊销排污许可证",
        findings=[found[Stream.ENVIRONMENT]],
        correlation=case,
    )
    fine = s.penalty(
        f,
        "penalty/fine",
        Stream.QUALITY,
        s.day(325, 10),
        _JOINT[Stream.QUALITY],
        kind=p.PenaltyKind.FINE,
        amount=5_600_000,
        legal_basis="《中华人民共和国产品质量法》第四十九条",
        description="没收违法产品，并处罚款",
        findings=[found[Stream.QUALITY]],
        correlation=case,
    )
    tax = s.penalty(
        f,
        "penalty/tax",
        Stream.TAX,
        s.day(318, 10),
        _JOINT[Stream.TAX],
        kind=p.PenaltyKind.FINE,
        amount=3_150_000,
        legal_basis="《中华人民共和国税收征收管理法》第六十三条",
        description="追缴税款、滞纳金并处罚款",
        findings=[found[Stream.TAX]],
        correlation=case,
    )
    s.tipoff(
        f,
        "CISA-JB-0093",
        Stream.STEEL_ASSOCIATION,
        _CISA,
        received=s.day(341, 15),
        channel="中国钢铁工业协会“地条钢”及违法违规产能举报平台",
        summary="举报江苏华达钢铁有限公司顶风使用中频炉生产“地条钢”",
        dimension=Dimension.CAPACITY_REPLACEMENT,
        verified=s.day(333, 10),
        substantiated=True,
        notes="联合调查组核查属实",
        findings=[found[Stream.MIIT], found[Stream.QUALITY]],
        closed=s.day(300, 10),
        outcome="已查处：认定“地条钢”，撤回生产许可证、吊销排污许可证，罚款并追缴税款，上报国务院追责问责",
        penalties=[licence, permit, fine, tax],
        correlation=case,
    )
    s.case_closed(
        f,
        "LH-HUADA",
        s.day(290, 16),
        _TASKFORCE,
        "违法违规事实清楚，各部门处罚已作出，列入严重失信名单实施联合惩戒，责任人移交追责",
        case,
    )


def _anfeng(s: _Scenario) -> None:
    """河北安丰钢铁: new capacity beyond the retired (违规新增产能), found by many agencies."""
    f = ANFENG
    s.register(f, 594)
    iron, bf = p.Product.IRON, p.EquipmentKind.BLAST_FURNACE
    actor = "秦皇岛市工业和信息化局 冯建军"
    for n in (3, 4):
        s.equipment(
            f, f"AF-BF{n}", s.day(586, 10), actor, kind=bf, size=450, product=iron, tonnes=500_000
        )
    s.emit(
        e.CapacityReplacementApproved(
            **s.env(
                f,
                "replacement/AF-BF1580",
                Stream.MIIT,
                s.day(455, 10),
                "河北省工业和信息化厅 原材料处 高建民",
                lag=timedelta(days=1),
            ),
            payload=p.CapacityReplacementApprovedPayload(
                project_id="AF-BF1580",
                product=iron,
                new_capacity_tonnes=1_450_000,
                retired_capacity_tonnes=1_000_000,
                retired_equipment_ids=["AF-BF3", "AF-BF4"],
            ),
        )
    )
    for n in (3, 4):
        s.dismantle(
            f,
            f"AF-BF{n}",
            s.day(430, 15),
            actor,
            "昌黎县化解过剩产能验收组",
            f"{n}号450立方米高炉拆除，作为1580立方米高炉项目置换产能",
        )
    s.equipment(
        f, "AF-BF1", s.day(372, 10), actor, kind=bf, size=1580, product=iron, tonnes=1_450_000
    )
    s.emit(
        e.EnterpriseUpdated(
            **s.env(
                f,
                "updated/legal-rep",
                Stream.MARKET,
                s.day(352, 10),
                "昌黎县市场监督管理局 登记注册科",
            ),
            payload=p.EnterpriseUpdatedPayload(legal_representative="纪德胜"),
        )
    )
    case = s.case_opened(
        f,
        "LH-ANFENG",
        s.day(322, 9),
        _TASKFORCE,
        "河北安丰钢铁有限公司违规新增产能联合调查",
        "举报反映新建高炉产能超出置换指标；部际联席会议决定由12个部门和单位组成联合调查组全面核查",
    )
    s.case_assigned(
        f, "LH-ANFENG", s.day(322, 11), _TASKFORCE, "部际联席会议联合调查组", _TWELVE, case
    )
    kw: dict[str, Any] = {"location": "昌黎县靖安镇厂区", "correlation": case}
    ndrc = s.finding(
        f,
        "finding/ndrc",
        Stream.NDRC,
        s.day(318, 10),
        _JOINT[Stream.NDRC],
        dimension=Dimension.PROJECT_COMPLIANCE,
        severity=Severity.SERIOUS,
        code="FG-XM-05",
        description="1580立方米高炉项目未按备案的产能置换方案建设，实际炼铁产能超出核定规模",
        evidence=[_doc("联合调查组核查记录", s.day(318), 201)],
        **kw,
    )
    miit = s.finding(
        f,
        "finding/miit",
        Stream.MIIT,
        s.day(317, 10),
        _JOINT[Stream.MIIT],
        dimension=Dimension.CAPACITY_REPLACEMENT,
        severity=Severity.CRITICAL,
        code="GX-ZH-02",
        description="新增炼铁产能145万吨，退出产能仅100万吨，未实现等量或减量置换，违规新增产能45万吨",
        evidence=[_doc("联合调查组核查记录", s.day(317), 202), "产能置换方案及批复"],
        **kw,
    )
    land = s.finding(
        f,
        "finding/land",
        Stream.LAND,
        s.day(316, 10),
        _JOINT[Stream.LAND],
        dimension=Dimension.LAND_APPROVAL,
        severity=Severity.SERIOUS,
        code="GT-WP-02",
        description="新建高炉及配套设施占用耕地约65亩，未批先占",
        evidence=[_doc("联合调查组核查记录", s.day(316), 203), "卫片执法图斑"],
        **kw,
    )
    env = s.finding(
        f,
        "finding/environment",
        Stream.ENVIRONMENT,
        s.day(316, 14),
        _JOINT[Stream.ENVIRONMENT],
        dimension=Dimension.ENVIRONMENTAL_PROTECTION,
        severity=Severity.MINOR,
        code="HB-CB-02",
        description="高炉出铁场除尘设施运行不正常",
        evidence=[_doc("联合调查组核查记录", s.day(316), 204)],
        **kw,
    )
    housing = s.finding(
        f,
        "finding/housing",
        Stream.HOUSING,
        s.day(315, 10),
        _JOINT[Stream.HOUSING],
        dimension=Dimension.CONSTRUCTION_PERMIT,
        severity=Severity.SERIOUS,
        code="JS-XK-01",
        description="1580立方米高炉工程未取得施工许可证擅自开工",
        evidence=[_doc("联合调查组核查记录", s.day(315), 205)],
        **kw,
    )
    cisa = s.finding(
        f,
        "finding/steel-association",
        Stream.STEEL_ASSOCIATION,
        s.day(315, 15),
        _JOINT[Stream.STEEL_ASSOCIATION],
        dimension=Dimension.CAPACITY_REPLACEMENT,
        severity=Severity.SERIOUS,
        code="GX-ZL-01",
        description="违规新增炼铁产能，违反行业自律公约",
        evidence=["行业自律检查记录"],
        **kw,
    )
    s.finding(
        f,
        "finding/safety",
        Stream.SAFETY,
        s.day(314, 10),
        _JOINT[Stream.SAFETY],
        dimension=Dimension.WORK_SAFETY,
        severity=Severity.MINOR,
        code="AJ-3-11",
        description="新建高炉煤气区域安全警示标识不全",
        **kw,
    )
    s.finding(
        f,
        "finding/tax",
        Stream.TAX,
        s.day(314, 14),
        _JOINT[Stream.TAX],
        dimension=Dimension.TAX_COMPLIANCE,
        severity=Severity.INFO,
        code="SW-ZC-00",
        description="近三年纳税申报正常，未发现欠税",
        **kw,
    )
    s.finding(
        f,
        "finding/customs",
        Stream.CUSTOMS,
        s.day(314, 15),
        _JOINT[Stream.CUSTOMS],
        dimension=Dimension.EXPORT_SUPERVISION,
        severity=Severity.INFO,
        code="HG-CK-00",
        description="出口钢材报关单证与实际相符",
        **kw,
    )
    # Corrections are new events: the environment finding is raised on re-testing, the
    # association's finding is withdrawn as a duplicate of MIIT's.
    s.emit(
        e.FindingAmended(
            **s.env(
                f,
                "amended/environment",
                Stream.ENVIRONMENT,
                s.day(309, 10),
                _JOINT[Stream.ENVIRONMENT],
                correlation=case,
                causation=env,
            ),
            payload=p.FindingAmendedPayload(
                finding_id=env,
                reason="复核监测数据：出铁场颗粒物排放浓度超标3倍，严重程度调整为严重",
                severity=Severity.SERIOUS,
                description="高炉出铁场除尘设施不正常运行，颗粒物排放浓度超标3倍",
                evidence=[_doc("冀环监测", s.day(309), 77), "监测报告"],
            ),
        )
    )
    s.emit(
        e.FindingRetracted(
            **s.env(
                f,
                "retracted/steel-association",
                Stream.STEEL_ASSOCIATION,
                s.day(308, 10),
                _JOINT[Stream.STEEL_ASSOCIATION],
                correlation=case,
                causation=cisa,
            ),
            payload=p.FindingRetractedPayload(
                finding_id=cisa, reason="与工业和信息化部发现为同一事项，重复录入，予以撤销"
            ),
        )
    )
    s.case_escalated(
        f,
        "LH-ANFENG",
        s.day(305, 10),
        _TASKFORCE,
        "国务院",
        "违规新增产能属实，上报国务院严肃追责问责",
        [ndrc, miit, land, housing],
        case,
    )
    halt = s.penalty(
        f,
        "penalty/halt",
        Stream.MIIT,
        s.day(303, 10),
        _JOINT[Stream.MIIT],
        kind=p.PenaltyKind.PRODUCTION_HALT,
        legal_basis="《国务院关于化解产能严重过剩矛盾的指导意见》；《钢铁行业产能置换实施办法》",
        description="1580立方米高炉责令停产，限期按等量或减量置换要求整改",
        findings=[miit],
        correlation=case,
    )
    land_revoked = s.penalty(
        f,
        "penalty/land",
        Stream.LAND,
        s.day(302, 10),
        _JOINT[Stream.LAND],
        kind=p.PenaltyKind.LAND_APPROVAL_REVOKED,
        legal_basis="《中华人民共和国土地管理法》第七十七条",
        description="责令退还非法占用的土地，撤销相关用地审批",
        findings=[land],
        correlation=case,
    )
    fine = s.penalty(
        f,
        "penalty/env-fine",
        Stream.ENVIRONMENT,
        s.day(301, 10),
        _JOINT[Stream.ENVIRONMENT],
        kind=p.PenaltyKind.FINE,
        amount=1_000_000,
        legal_basis="《中华人民共和国大气污染防治法》第九十九条",
        description="超标排放大气污染物，处罚款",
        findings=[env],
        correlation=case,
    )
    s.tipoff(
        f,
        "CISA-JB-0101",
        Stream.STEEL_ASSOCIATION,
        _CISA,
        received=s.day(326, 16),
        channel="中国钢铁工业协会“地条钢”及违法违规产能举报平台",
        summary="举报河北安丰钢铁有限公司新建1580立方米高炉，实际产能超出置换指标",
        dimension=Dimension.CAPACITY_REPLACEMENT,
        verified=s.day(312, 10),
        substantiated=True,
        notes="联合调查组核查属实",
        findings=[ndrc, miit],
        closed=s.day(296, 10),
        outcome="已查处：责令停产整改，撤销违法用地审批，罚款，上报国务院追责问责",
        penalties=[halt, land_revoked, fine],
        correlation=case,
    )
    # The permit was obtained afterwards: this finding is rectified, but a listing that
    # already began stands until repaired or expired.
    s.rectified(
        f,
        "rectified/housing",
        Stream.HOUSING,
        s.day(210, 10),
        _JOINT[Stream.HOUSING],
        "已补办施工许可手续并接受处罚",
        findings=[housing],
    )


def events(now: datetime) -> list[Event]:
    """The scenario's events, placed in time relative to `now` (timezone-aware), in the order
    they were recorded. Pure: the same `now` gives the same events."""
    s = _Scenario(now)
    _shijiazhuang(s)
    _guixi(s)
    _yujiang(s)
    _guangfeng(s)
    _taihe(s)
    _huada(s)
    _anfeng(s)
    return sorted(s.out, key=lambda ev: (ev.recorded_at, ev.occurred_at, ev.event_id))
