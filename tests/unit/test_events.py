"""The event contract: every type round-trips, bad input is refused with the field and the reason,
old versions are upcast, and the ingest clock checks hold."""

from __future__ import annotations

import copy
import typing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import (
    CURRENT_VERSION,
    EVENT_TYPES,
    Event,
    FieldError,
    InvalidEvent,
    check_clock,
    parse_event,
    parse_event_json,
    register_upcaster,
    to_dict,
    to_json,
    unregister_upcaster,
)
from events.payloads import PenaltyImposedPayload, PenaltyKind
from services import eventstore
from tests.strategies import PAYLOADS, any_event, event_of

JsonDict = dict[str, Any]

# Enterprises of the seed (codes made up, with valid check characters).
HUADA = "91321281MA1MHD0A1F"  # 江苏华达钢铁有限公司 (兴化)
ANFENG = "91130322MA07AF8B20"  # 河北安丰钢铁有限公司 (昌黎)
SHIGANG = "91130100104301259B"  # 石家庄钢铁有限责任公司
JIANGXI = "91360802MA35DTG17B"  # 江西 吉安, a 地条钢 workshop
XINJI = "91130181MA0CJ2X4WH"  # 辛集, a Shijiazhuang steel company

FINDING_ID = "aed62220-704b-407f-a2f7-fa8e354e1d94"
PENALTY_ID = "ec9b30fb-bc08-4c4c-a22c-ed7af0928f64"
READING_ID = "d5a3957f-dab9-49c6-a78b-3dcc08b07e82"
CASE_CORRELATION = "8cdc9dbd-5f88-490f-b7af-285392a1d3a2"


def _event(
    event_type: str,
    event_id: str,
    stream: str,
    enterprise: str,
    occurred_at: str,
    recorded_at: str,
    actor: str,
    payload: JsonDict,
    **extra: Any,
) -> JsonDict:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": 1,
        "stream": stream,
        "enterprise": enterprise,
        "occurred_at": occurred_at,
        "recorded_at": recorded_at,
        "actor": actor,
        "payload": payload,
        **extra,
    }


# One realistic event per type, as an agency system would send it (JSON-shaped dicts).
EXAMPLES: dict[str, JsonDict] = {
    "FindingRecorded": _event(
        "FindingRecorded",
        FINDING_ID,
        "environment",
        HUADA,
        "2017-01-10T09:30:00+08:00",
        "2017-01-10T17:05:12+08:00",
        "env-js-0231",
        {
            "dimension": "environmental_protection",
            "severity": "serious",
            "violation_code": "HB-2017-017",
            "description": "中频炉生产未办理环评审批手续，除尘设施未运行。\n现场烟尘无组织排放。",
            "evidence": ["现场检查笔录 2017-01-10", "photo/IMG_0412.jpg"],
            "location": "江苏省兴化市戴南镇",
        },
        correlation_id=CASE_CORRELATION,
    ),
    "FindingAmended": _event(
        "FindingAmended",
        "4e43227f-977f-44b2-9d1f-722340c39d64",
        "environment",
        HUADA,
        "2017-01-12T10:00:00+08:00",
        "2017-01-12T10:20:00+08:00",
        "env-js-0231",
        {
            "finding_id": FINDING_ID,
            "reason": "复核监测数据后提高严重程度",
            "severity": "critical",
        },
        causation_id=FINDING_ID,
    ),
    "FindingRetracted": _event(
        "FindingRetracted",
        "7d0bc26a-98c9-4350-b489-d00dca14e01b",
        "quality",
        ANFENG,
        "2017-02-03T14:00:00+08:00",
        "2017-02-03T14:30:00+08:00",
        "aqsiq-he-0077",
        {
            "finding_id": "ea02a7b0-6e32-4ff5-b5a3-80a59ef2f1c0",
            "reason": "Sample mislabelled at the laboratory: the batch belonged to another mill.",
        },
    ),
    "PenaltyImposed": _event(
        "PenaltyImposed",
        PENALTY_ID,
        "environment",
        HUADA,
        "2017-01-20T09:00:00+08:00",
        "2017-01-20T11:00:00+08:00",
        "env-js-0231",
        {
            "kind": "fine",
            "amount_cny": 1_000_000.0,
            "legal_basis": "《中华人民共和国环境保护法》第五十九条",
            "finding_ids": [FINDING_ID],
            "description": "按日连续处罚",
        },
    ),
    "RectificationVerified": _event(
        "RectificationVerified",
        "78ab004a-bf54-4a24-b9c4-acf8c44b8e91",
        "environment",
        HUADA,
        "2017-06-30T15:00:00+08:00",
        "2017-07-01T09:00:00+08:00",
        "env-js-0102",
        {
            "finding_ids": [FINDING_ID],
            "penalty_ids": [PENALTY_ID],
            "description": "中频炉已拆除，除尘设施验收合格，罚款已缴纳。",
        },
    ),
    "IllegalSteelConfirmed": _event(
        "IllegalSteelConfirmed",
        "640c9f03-7136-4c00-a0ae-ce5ca8cd14bb",
        "miit",
        JIANGXI,
        "2017-03-15T10:00:00+08:00",
        "2017-03-16T08:45:00+08:00",
        "miit-jx-0012",
        {
            "furnace_type": "medium_frequency_induction",
            "furnace_count": 4,
            "capacity_tonnes": 300_000.0,
            "description": "以废钢为原料、中频炉熔化生产“地条钢”，无精炼设备，产品质量不达标。",
        },
    ),
    "EquipmentRegistered": _event(
        "EquipmentRegistered",
        "d1177dd8-91e6-4e9f-996d-d62c06a4f62a",
        "miit",
        SHIGANG,
        "2016-12-01T00:00:00+08:00",
        "2016-12-05T10:00:00+08:00",
        "miit-he-0301",
        {
            "equipment_id": "SG-BF-1080",
            "kind": "blast_furnace",
            "size": 1080.0,
            "size_unit": "m3",
            "product": "iron",
            "annual_capacity_tonnes": 1_000_000.0,
        },
    ),
    "EquipmentDismantled": _event(
        "EquipmentDismantled",
        "71251945-82e2-4d78-9204-25664fe43dcf",
        "ndrc",
        SHIGANG,
        "2020-10-20T16:00:00+08:00",
        "2020-10-21T09:00:00+08:00",
        "ndrc-he-0044",
        {
            "equipment_id": "SG-BF-1080",
            "verified_by": "石家庄市发展改革委 现场验收组",
            "description": "1080立方米高炉拆除，炉体切割，现场验收。",
        },
    ),
    "CapacityReductionTargetSet": _event(
        "CapacityReductionTargetSet",
        "c236d8b6-f01e-4c35-86da-9860a5e64c7e",
        "miit",
        SHIGANG,
        "2016-09-01T00:00:00+08:00",
        "2016-09-02T10:00:00+08:00",
        "miit-he-0301",
        {
            "target_id": "SJZ-2016-SG",
            "iron_tonnes": 2_130_000.0,
            "steel_tonnes": 1_740_000.0,
            "deadline": "2020-12-31T23:59:59+08:00",
            "basis": "《石家庄市压减钢铁产能工作方案》",
        },
    ),
    "CapacityReductionOverdue": _event(
        "CapacityReductionOverdue",
        "9beae09e-5469-45d0-bc70-67288151da39",
        "taskforce",
        XINJI,
        "2021-01-01T00:00:00+08:00",
        "2021-01-01T00:00:05+08:00",
        "scheduler",
        {
            "target_id": "SJZ-2016-XJ",
            "deadline": "2020-12-31T23:59:59+08:00",
            "iron_tonnes_missing": 400_000.0,
            "steel_tonnes_missing": 0.0,
        },
    ),
    "CapacityReplacementApproved": _event(
        "CapacityReplacementApproved",
        "700664ac-3747-4d66-92f3-79e2a7531b1a",
        "ndrc",
        SHIGANG,
        "2018-05-10T10:00:00+08:00",
        "2018-05-10T16:00:00+08:00",
        "ndrc-he-0044",
        {
            "project_id": "SG-RELOC-2018",
            "product": "steel",
            "new_capacity_tonnes": 1_200_000.0,
            "retired_capacity_tonnes": 1_740_000.0,
            "retired_equipment_ids": ["SG-CV-60-1", "SG-CV-60-2", "SG-EAF-60"],
        },
    ),
    "EnterpriseRegistered": _event(
        "EnterpriseRegistered",
        "05e55b82-a64d-42d8-81f4-ae66bbeff4c6",
        "market",
        ANFENG,
        "2005-03-18T00:00:00+08:00",
        "2017-01-05T09:00:00+08:00",
        "saic-import",
        {
            "name": "河北安丰钢铁有限公司",
            "legal_representative": "张某",
            "registered_address": "河北省秦皇岛市昌黎县靖安镇",
            "business_scope": "钢铁冶炼；钢材轧制；金属材料销售。",
            "industry": "steel",
            "registered_on": "2005-03-18",
        },
    ),
    "EnterpriseUpdated": _event(
        "EnterpriseUpdated",
        "50f159c6-4cda-40ba-a974-07b5d826e8a0",
        "market",
        ANFENG,
        "2017-04-01T00:00:00+08:00",
        "2017-04-01T11:00:00+08:00",
        "saic-he-0009",
        {"legal_representative": "李某"},
    ),
    "TipOffReceived": _event(
        "TipOffReceived",
        "62df1434-808d-4c65-8bba-4accac2f98ea",
        "steel_association",
        JIANGXI,
        "2017-03-01T21:40:00+08:00",
        "2017-03-02T08:30:00+08:00",
        "cisa-platform",
        {
            "tipoff_id": "JB-2017-0301-07",
            "channel": "举报平台",
            "summary": "夜间有中频炉生产，用电量大，厂区有废钢堆放。",
            "dimension": "capacity_replacement",
        },
    ),
    "TipOffVerified": _event(
        "TipOffVerified",
        "d634b8cf-a3c7-499e-9764-3e17c5df8999",
        "miit",
        JIANGXI,
        "2017-03-15T10:00:00+08:00",
        "2017-03-16T09:00:00+08:00",
        "miit-jx-0012",
        {
            "tipoff_id": "JB-2017-0301-07",
            "substantiated": True,
            "finding_ids": ["91da58ce-d1a8-4d94-8195-281e41a95f28"],
            "notes": "现场核实：4台中频炉。",
        },
    ),
    "TipOffClosed": _event(
        "TipOffClosed",
        "c2819063-f7d3-4fe2-81b4-519486d2ab35",
        "steel_association",
        JIANGXI,
        "2017-04-30T17:00:00+08:00",
        "2017-04-30T17:30:00+08:00",
        "cisa-platform",
        {
            "tipoff_id": "JB-2017-0301-07",
            "outcome": "中频炉已拆除并断电，企业依法处罚。",
            "penalty_ids": ["cc56f575-bcb6-469f-b237-c03792850c65"],
        },
    ),
    "PowerReading": _event(
        "PowerReading",
        READING_ID,
        "power",
        JIANGXI,
        "2017-02-28T00:00:00+08:00",
        "2017-02-28T00:05:00+08:00",
        "sgcc-jx-meter-feed",
        {
            "meter_id": "JX-0802-113377",
            "period_start": "2017-02-27T00:00:00+08:00",
            "period_end": "2017-02-28T00:00:00+08:00",
            "kwh": 48_210.5,
            "night_share": 0.71,
        },
    ),
    "PowerAnomalyDetected": _event(
        "PowerAnomalyDetected",
        "12cdc8ed-e4b8-40dc-8d79-7c85140734e9",
        "power",
        JIANGXI,
        "2017-02-28T00:00:00+08:00",
        "2017-02-28T01:00:00+08:00",
        "power-anomaly-detector",
        {
            "kind": "night_use",
            "window_start": "2017-02-21T00:00:00+08:00",
            "window_end": "2017-02-28T00:00:00+08:00",
            "observed": 0.71,
            "baseline": 0.3,
            "reading_ids": [READING_ID],
            "description": "夜间用电占比 71%，同类企业基线 30%。",
        },
    ),
    "CaseOpened": _event(
        "CaseOpened",
        "8dd66e08-97d0-48ee-819a-250193b0e01e",
        "taskforce",
        HUADA,
        "2017-01-09T09:00:00+08:00",
        "2017-01-09T09:10:00+08:00",
        "taskforce-lead",
        {
            "case_id": "LH-2017-001",
            "title": "江苏华达钢铁有限公司违规生产“地条钢”",
            "reason": "部际联席会议决定由12个部门和单位组成联合调查组进行全面核查。",
        },
        correlation_id=CASE_CORRELATION,
    ),
    "CaseAssigned": _event(
        "CaseAssigned",
        CASE_CORRELATION,
        "taskforce",
        HUADA,
        "2017-01-09T10:00:00+08:00",
        "2017-01-09T10:00:30+08:00",
        "taskforce-lead",
        {
            "case_id": "LH-2017-001",
            "assignee": "联合调查组第一组",
            "agencies": ["ndrc", "miit", "environment", "land", "credit"],
        },
    ),
    "CaseEscalated": _event(
        "CaseEscalated",
        "3a4f84c8-1f3c-4de4-b17d-076955ee2de9",
        "taskforce",
        HUADA,
        "2017-02-01T09:00:00+08:00",
        "2017-02-01T09:05:00+08:00",
        "taskforce-lead",
        {
            "case_id": "LH-2017-001",
            "level": "国务院",
            "reason": "地方核查不及时、处理不到位。",
            "cited_event_ids": [FINDING_ID, PENALTY_ID],
        },
    ),
    "CaseClosed": _event(
        "CaseClosed",
        "4c2ee69a-1a81-4deb-95aa-051465301044",
        "taskforce",
        HUADA,
        "2017-07-15T16:00:00+08:00",
        "2017-07-15T16:30:00+08:00",
        "taskforce-lead",
        {"case_id": "LH-2017-001", "outcome": "违规产能已拆除，相关责任人已问责，处罚执行完毕。"},
    ),
    "CreditRepairApproved": _event(
        "CreditRepairApproved",
        "e9b2ec05-63c9-41ba-ad54-de33086cb65c",
        "credit",
        HUADA,
        "2020-08-01T09:00:00+08:00",
        "2020-08-01T10:00:00+08:00",
        "cbrc-js-0015",
        {
            "rule_id": "R1",
            "reason": "公示期满一年，处罚已履行，违法行为已整改，准予信用修复。",
        },
    ),
}


def example(event_type: str) -> JsonDict:
    """A fresh copy of the example, safe to mutate."""
    return copy.deepcopy(EXAMPLES[event_type])


def rejected(data: object) -> list[FieldError]:
    with pytest.raises(InvalidEvent) as info:
        parse_event(data)
    return info.value.errors


def assert_rejected(data: object, path: str, reason: str) -> None:
    """Refused with exactly one error, at `path`, whose reason contains `reason`."""
    errors = rejected(data)
    assert [e.path for e in errors] == [path], errors
    assert reason in errors[0].reason, errors


# --- completeness -----------------------------------------------------------------------------


def test_the_union_and_the_type_table_agree() -> None:
    annotated = typing.get_args(Event)[0]  # Annotated[Union[...], Field(discriminator=...)]
    assert set(typing.get_args(annotated)) == set(EVENT_TYPES.values())
    assert len(EVENT_TYPES) == 23


def test_every_type_has_an_example_and_a_strategy() -> None:
    assert set(EXAMPLES) == set(EVENT_TYPES)
    assert set(PAYLOADS) == set(EVENT_TYPES)
    assert all(v["event_type"] == k for k, v in EXAMPLES.items())


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_each_example_round_trips(event_type: str) -> None:
    event = parse_event(example(event_type))
    assert type(event) is EVENT_TYPES[event_type]
    assert str(event.event_id) == EXAMPLES[event_type]["event_id"]
    assert parse_event_json(to_json(event)) == event
    assert parse_event(to_dict(event)) == event
    # Serialising is stable: what was read back serialises to the same bytes.
    assert to_json(parse_event_json(to_json(event))) == to_json(event)


def test_example_text_survives_unchanged() -> None:
    event = parse_event(example("FindingRecorded"))
    data = orjson.loads(to_json(event))
    assert data["payload"]["description"] == EXAMPLES["FindingRecorded"]["payload"]["description"]
    assert data["enterprise"] == HUADA


def test_defaults_are_filled_in() -> None:
    data = example("CaseAssigned")
    del data["schema_version"], data["payload"]["agencies"]
    event = parse_event(data)
    assert event.schema_version == 1
    assert to_dict(event)["payload"]["agencies"] == []
    assert event.correlation_id is None


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_generated_events_of_each_type_round_trip(event_type: str, data: st.DataObject) -> None:
    event = data.draw(event_of(event_type))
    assert type(event) is EVENT_TYPES[event_type]
    assert event.stream in type(event).allowed_streams
    assert parse_event_json(to_json(event)) == event
    assert parse_event(to_dict(event)) == event


@settings(max_examples=60, deadline=None)
@given(any_event())
def test_any_generated_event_round_trips(event: Event) -> None:
    assert parse_event_json(to_json(event)) == event
    assert parse_event(to_dict(event)) == event
    assert parse_event(orjson.loads(to_json(event))) == event
    # The event store's decoder takes a shorter path for current versions: the same result.
    assert eventstore.decode(to_json(event)) == event
    assert eventstore.decode(to_json(event).decode()) == event


# --- refusals ---------------------------------------------------------------------------------


class _Missing:
    """Marks a field to delete rather than set."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


class Refusal(NamedTuple):
    """Set `field` (a dotted path) of the example of `event_type` to `value` (or delete it):
    the event is refused with one error at `error_path` (default: `field`) whose reason
    contains `reason`."""

    event_type: str
    field: str
    value: Any
    reason: str
    error_path: str | None = None

    def data(self) -> JsonDict:
        data = example(self.event_type)
        *parents, last = self.field.split(".")
        target = data
        for key in parents:
            target = target[key]
        if self.value is MISSING:
            del target[last]
        else:
            target[last] = self.value
        return data


F = "FindingRecorded"
REFUSALS = [
    # unknown or missing event type
    Refusal(F, "event_type", "FindingDeleted", "unknown event_type; known types: CapacityReduc"),
    Refusal(F, "event_type", 7, "unknown event_type"),
    Refusal(F, "event_type", MISSING, "event_type is required"),
    # missing fields
    Refusal(F, "enterprise", MISSING, "Field required"),
    Refusal(F, "event_id", MISSING, "Field required"),
    Refusal(F, "payload", MISSING, "Field required"),
    Refusal(F, "payload.description", MISSING, "Field required"),
    Refusal("PowerReading", "payload.period_end", MISSING, "Field required"),
    # wrong types
    Refusal(F, "event_id", "finding-1", "valid UUID"),
    Refusal(F, "actor", 42, "valid string"),
    Refusal(F, "payload", "serious", "valid dictionary"),
    Refusal(F, "payload.severity", "grave", "'minor', 'serious' or 'critical'"),
    Refusal(F, "payload.dimension", "morals", "'registration'"),
    Refusal(F, "payload.evidence", "a.pdf", "valid list"),
    Refusal(F, "stream", "police", "'power' or 'taskforce'"),
    Refusal("IllegalSteelConfirmed", "payload.furnace_count", "four", "valid integer"),
    Refusal("TipOffVerified", "payload.substantiated", "maybe", "valid boolean"),
    Refusal(
        "CaseEscalated", "payload.cited_event_ids", ["x"], "valid UUID", "payload.cited_event_ids.0"
    ),
    Refusal("EnterpriseRegistered", "payload.registered_on", "2005-02-30", "valid date"),
    # numbers out of range
    Refusal("IllegalSteelConfirmed", "payload.furnace_count", 0, "greater than or equal to 1"),
    Refusal("IllegalSteelConfirmed", "payload.capacity_tonnes", -1.0, "greater than or equal to 0"),
    Refusal("PowerReading", "payload.night_share", 1.5, "less than or equal to 1"),
    Refusal("PowerReading", "payload.kwh", float("nan"), "finite number"),
    Refusal("EquipmentRegistered", "payload.size", 0, "greater than 0"),
    # extra fields
    Refusal(F, "priority", "high", "unknown field"),
    Refusal(F, "payload.colour", "red", "unknown field"),
    # bad USCC
    Refusal(F, "enterprise", HUADA[:17] + "0", "check character is '0', expected 'F'"),
    Refusal(F, "enterprise", HUADA.lower(), "lower case is not allowed"),
    Refusal(F, "enterprise", HUADA[:17], "must be 18 characters, got 17"),
    Refusal(F, "enterprise", "O" + HUADA[1:], "position 1: 'O' is not allowed"),
    Refusal(F, "enterprise", 91321281, "must be a string"),
    # naive datetimes
    Refusal(F, "occurred_at", "2017-01-10T09:30:00", "timezone"),
    Refusal(F, "recorded_at", "2017-01-10T17:05:12", "timezone"),
    Refusal("CapacityReductionTargetSet", "payload.deadline", "2020-12-31T23:59:59", "timezone"),
    Refusal("PowerReading", "payload.period_start", "2017-02-27T00:00:00", "timezone"),
    # a stream that may not publish the type
    Refusal(F, "stream", "power", "stream 'power' may not publish FindingRecorded"),
    Refusal(F, "stream", "taskforce", "may not publish FindingRecorded"),
    Refusal("PowerReading", "stream", "ndrc", "allowed: power"),
    Refusal("EnterpriseRegistered", "stream", "tax", "allowed: market"),
    Refusal("CaseOpened", "stream", "ndrc", "allowed: taskforce"),
    Refusal("EquipmentRegistered", "stream", "environment", "allowed: miit, ndrc"),
    Refusal("CreditRepairApproved", "stream", "market", "allowed: credit, ndrc"),
    # control characters in text
    Refusal(F, "payload.description", "烟尘\x00排放", "U+0000 at character 2"),
    Refusal(F, "payload.description", "\x1b[31mred", "U+001B"),
    Refusal(F, "payload.description", "del\x7f", "U+007F"),
    Refusal(F, "payload.description", "next\x85line", "U+0085"),
    # pydantic refuses a lone surrogate before the field's own check sees it
    Refusal(F, "payload.description", "lone \ud800", "valid string"),
    Refusal(F, "actor", "env\x00", "U+0000"),
    Refusal(F, "payload.violation_code", "HB\n17", "line breaks"),
    Refusal(F, "payload.location", "兴化\t戴南", "line breaks and tabs"),
    Refusal(F, "payload.evidence", ["ok", "bad\x07"], "U+0007", "payload.evidence.1"),
    # blank text
    Refusal(F, "payload.description", " \n\t ", "must not be blank"),
    Refusal(F, "payload.violation_code", "\u3000", "must not be blank"),
    Refusal(F, "actor", "", "at least 1 character"),
    Refusal("CaseClosed", "payload.outcome", "", "at least 1 character"),
    # oversize text
    Refusal(F, "payload.description", "长" * 10_001, "at most 10000 characters"),
    Refusal(F, "actor", "a" * 201, "at most 200 characters"),
    Refusal(F, "payload.evidence", ["doc"] * 101, "at most 100 items"),
    # a version newer than any known
    Refusal(F, "schema_version", 2, "FindingRecorded version 2 is newer than the latest known (1)"),
    # payload rules
    Refusal(
        "PenaltyImposed",
        "payload.amount_cny",
        None,
        "amount_cny is required when kind is 'fine'",
        "payload",
    ),
    Refusal(
        "EquipmentRegistered", "payload.size_unit", "t", "a blast_furnace is sized in m3", "payload"
    ),
    Refusal(
        "PowerReading",
        "payload.period_end",
        "2017-02-27T00:00:00+08:00",
        "period_end must be after",
        "payload",
    ),
    # the same instant written in another offset is still not after the start
    Refusal(
        "PowerReading",
        "payload.period_end",
        "2017-02-26T16:00:00Z",
        "period_end must be after",
        "payload",
    ),
    Refusal(
        "FindingAmended",
        "payload.severity",
        MISSING,
        "an amendment must change at least one",
        "payload",
    ),
    Refusal(
        "EnterpriseUpdated",
        "payload.legal_representative",
        None,
        "an update must change",
        "payload",
    ),
]


@pytest.mark.parametrize(
    "refusal", REFUSALS, ids=[f"{r.event_type}-{r.field}-{i}" for i, r in enumerate(REFUSALS)]
)
def test_bad_events_are_refused_with_the_field_and_the_reason(refusal: Refusal) -> None:
    expected = refusal.field if refusal.error_path is None else refusal.error_path
    assert_rejected(refusal.data(), expected, refusal.reason)


def test_a_zero_version_is_refused() -> None:
    data = example("FindingRecorded")
    data["schema_version"] = 0
    [error] = rejected(data)
    assert error.path == "schema_version"


def test_capacity_target_needs_a_positive_tonnage() -> None:
    data = example("CapacityReductionTargetSet")
    data["payload"]["iron_tonnes"] = 0
    data["payload"]["steel_tonnes"] = 0.0
    assert_rejected(data, "payload", "iron_tonnes or steel_tonnes must be positive")


def test_rectification_must_name_what_it_rectified() -> None:
    data = example("RectificationVerified")
    data["payload"]["finding_ids"] = []
    data["payload"]["penalty_ids"] = []
    assert_rejected(data, "payload", "name at least one finding_id or penalty_id")


def test_other_penalty_kinds_need_no_amount() -> None:
    data = example("PenaltyImposed")
    data["payload"] |= {"kind": "discharge_permit_revoked", "amount_cny": None}
    payload = parse_event(data).payload
    assert isinstance(payload, PenaltyImposedPayload)
    assert payload.kind is PenaltyKind.DISCHARGE_PERMIT_REVOKED
    assert payload.amount_cny is None


def test_every_bad_field_is_reported_at_once() -> None:
    data = example("FindingRecorded")
    data["enterprise"] = HUADA[:17] + "0"
    data["occurred_at"] = "2017-01-10T09:30:00"
    data["payload"]["severity"] = "grave"
    paths = {e.path for e in rejected(data)}
    assert paths == {"enterprise", "occurred_at", "payload.severity"}


def test_the_message_names_each_bad_field() -> None:
    data = example("FindingRecorded")
    data["stream"] = "power"
    with pytest.raises(InvalidEvent) as info:
        parse_event(data)
    assert str(info.value).startswith("stream: stream 'power' may not publish FindingRecorded")
    [error] = info.value.errors
    assert error.as_dict() == {
        "path": "stream",
        "reason": "stream 'power' may not publish FindingRecorded; allowed: "
        + ", ".join(sorted(s.value for s in EVENT_TYPES["FindingRecorded"].allowed_streams)),
    }


@pytest.mark.parametrize("data", [None, [], "FindingRecorded", 42])
def test_an_event_must_be_an_object(data: object) -> None:
    assert rejected(data) == [FieldError("", "an event must be a JSON object")]


@pytest.mark.parametrize("raw", [b"{", b"", b'{"event_type": "FindingRecorded",}', b"\xff"])
def test_malformed_json_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event_json(raw)
    [error] = info.value.errors
    assert error.path == ""
    assert error.reason.startswith("malformed JSON")


def test_json_with_a_nul_character_is_refused_at_the_field() -> None:
    data = example("CaseClosed")
    data["payload"]["outcome"] = "done\x00"
    with pytest.raises(InvalidEvent) as info:
        parse_event_json(orjson.dumps(data))
    assert [e.path for e in info.value.errors] == ["payload.outcome"]
    assert "U+0000" in info.value.errors[0].reason


def test_the_input_is_not_modified() -> None:
    data = example("FindingRecorded")
    before = copy.deepcopy(data)
    parse_event(data)
    assert data == before


# --- upcasting --------------------------------------------------------------------------------


@pytest.fixture
def case_closed_v2() -> Iterator[list[JsonDict]]:
    """CaseClosed at version 2, whose v1 called the outcome `result`. Yields the upcaster's
    inputs; restores the registry afterwards."""
    before = dict(CURRENT_VERSION)
    calls: list[JsonDict] = []

    def rename_result(data: JsonDict) -> JsonDict:
        calls.append(copy.deepcopy(data))
        payload = dict(data["payload"])
        payload["outcome"] = payload.pop("result")
        return {**data, "payload": payload}

    register_upcaster("CaseClosed", 1, rename_result)
    try:
        yield calls
    finally:
        unregister_upcaster("CaseClosed", 1)
        if before != CURRENT_VERSION:  # never leak a version into other tests
            CURRENT_VERSION.clear()
            CURRENT_VERSION.update(before)


def _case_closed_v1() -> JsonDict:
    data = example("CaseClosed")
    data["payload"]["result"] = data["payload"].pop("outcome")
    return data


def test_an_old_version_is_upcast(case_closed_v2: list[JsonDict]) -> None:
    assert CURRENT_VERSION["CaseClosed"] == 2
    old = _case_closed_v1()
    event = parse_event(old)
    assert event.schema_version == 2
    assert to_dict(event)["payload"]["outcome"] == EXAMPLES["CaseClosed"]["payload"]["outcome"]
    assert len(case_closed_v2) == 1
    assert case_closed_v2[0]["schema_version"] == 1
    assert "outcome" not in old["payload"]  # the caller's dict is left alone
    # Once upcast it is a current event like any other.
    assert parse_event_json(to_json(event)) == event


def test_a_stored_old_version_is_upcast(case_closed_v2: list[JsonDict]) -> None:
    stored = orjson.dumps(_case_closed_v1())
    event = eventstore.decode(stored)
    assert event.schema_version == 2
    assert to_dict(event)["payload"]["outcome"] == EXAMPLES["CaseClosed"]["payload"]["outcome"]


def test_a_stored_old_version_is_upcast_even_when_it_fits_the_new_model() -> None:
    """An upcaster may change meaning without changing shape: a v1 body that validates as it
    stands must still go through it."""
    before = dict(CURRENT_VERSION)

    def mark(data: JsonDict) -> JsonDict:
        payload = {**data["payload"], "description": "v1: " + data["payload"]["description"]}
        return {**data, "payload": payload}

    register_upcaster("FindingRecorded", 1, mark)
    try:
        stored = orjson.dumps(example("FindingRecorded"))  # schema_version 1
        event = eventstore.decode(stored)
        assert event.schema_version == 2
        assert to_dict(event)["payload"]["description"].startswith("v1: ")
    finally:
        unregister_upcaster("FindingRecorded", 1)
        CURRENT_VERSION.clear()
        CURRENT_VERSION.update(before)


def test_an_old_version_without_schema_version_is_version_1(
    case_closed_v2: list[JsonDict],
) -> None:
    old = _case_closed_v1()
    del old["schema_version"]
    assert parse_event(old).schema_version == 2
    assert len(case_closed_v2) == 1


def test_a_current_version_is_not_upcast(case_closed_v2: list[JsonDict]) -> None:
    current = example("CaseClosed")
    current["schema_version"] = 2
    event = parse_event(current)
    assert event.schema_version == 2
    assert to_dict(event)["payload"] == EXAMPLES["CaseClosed"]["payload"]
    assert case_closed_v2 == []


def test_a_version_beyond_the_upcast_one_is_refused(case_closed_v2: list[JsonDict]) -> None:
    data = example("CaseClosed")
    data["schema_version"] = 3
    assert_rejected(data, "schema_version", "version 3 is newer than the latest known (2)")


def test_other_types_keep_their_version(case_closed_v2: list[JsonDict]) -> None:
    assert CURRENT_VERSION["CaseOpened"] == 1
    assert parse_event(example("CaseOpened")).schema_version == 1


def test_unregistering_restores_the_version() -> None:
    register_upcaster("CaseOpened", 1, lambda data: data)
    try:
        assert CURRENT_VERSION["CaseOpened"] == 2
    finally:
        unregister_upcaster("CaseOpened", 1)
    assert CURRENT_VERSION["CaseOpened"] == 1
    assert_rejected(
        example("CaseOpened") | {"schema_version": 2}, "schema_version", "newer than the latest"
    )


# --- the ingest clock -------------------------------------------------------------------------

NOW = datetime(2017, 1, 10, 9, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)


def _timed(occurred_at: datetime, recorded_at: datetime) -> Event:
    data = example("FindingRecorded")
    data["occurred_at"] = occurred_at.isoformat()
    data["recorded_at"] = recorded_at.isoformat()
    return parse_event(data)


def test_recorded_in_the_future_beyond_the_skew_is_refused() -> None:
    event = _timed(NOW, NOW + SKEW + timedelta(seconds=1))
    [error] = check_clock(event, NOW, SKEW)
    assert error.path == "recorded_at"
    assert "is in the future" in error.reason


@pytest.mark.parametrize("ahead", [timedelta(0), timedelta(minutes=2), SKEW])
def test_recorded_ahead_within_the_skew_is_accepted(ahead: timedelta) -> None:
    assert check_clock(_timed(NOW - timedelta(hours=1), NOW + ahead), NOW, SKEW) == []


def test_the_clock_check_compares_instants_not_offsets() -> None:
    beijing = timezone(timedelta(hours=8))
    recorded = (NOW + timedelta(minutes=1)).astimezone(beijing)  # local 17:01, one minute ahead
    assert check_clock(_timed(NOW - timedelta(hours=1), recorded), NOW, SKEW) == []
    late = (NOW + timedelta(hours=1)).astimezone(beijing)
    assert [e.path for e in check_clock(_timed(NOW, late), NOW, SKEW)] == ["recorded_at"]


def test_occurred_after_recorded_is_refused() -> None:
    recorded = NOW - timedelta(hours=2)
    [error] = check_clock(_timed(recorded + timedelta(hours=1), recorded), NOW, SKEW)
    assert error.path == "occurred_at"
    assert "after recorded_at" in error.reason


def test_occurred_slightly_after_recorded_is_within_the_skew() -> None:
    recorded = NOW - timedelta(hours=2)
    assert check_clock(_timed(recorded + timedelta(minutes=1), recorded), NOW, SKEW) == []


def test_both_clock_errors_are_reported() -> None:
    recorded = NOW + timedelta(days=1)
    errors = check_clock(_timed(recorded + timedelta(days=1), recorded), NOW, SKEW)
    assert [e.path for e in errors] == ["recorded_at", "occurred_at"]
