"""The blacklist policy: defaults from DESIGN §5 and the seed, loading and validation."""

from __future__ import annotations

import json

import pytest

from events.dimensions import Severity
from events.payloads import PenaltyKind
from projections.blacklist import evaluate
from projections.policy import (
    DEFAULT_POLICY,
    RULES,
    CreditStatus,
    Policy,
    PolicyError,
    RuleId,
    load_policy,
)
from tests.unit.event_strategies import day, finding


def test_default_policy_is_v1_with_the_design_parameters() -> None:
    p = DEFAULT_POLICY
    assert (p.policy_id, p.version, p.label) == ("credit-blacklist", "v1", "credit-blacklist@v1")
    assert p.r3_window_days == 365
    assert p.r3_min_agencies == 3
    assert p.serious_severities == (Severity.SERIOUS, Severity.CRITICAL)
    assert p.publication_years == 3
    assert p.repair_min_years == 1
    assert p.r4_penalty_kinds == (
        PenaltyKind.DISCHARGE_PERMIT_REVOKED,
        PenaltyKind.PRODUCTION_LICENCE_WITHDRAWN,
    )


def test_default_measures_quote_the_seed() -> None:
    restricted = DEFAULT_POLICY.measures.for_status(CreditStatus.CREDIT_RESTRICTED)
    listed = DEFAULT_POLICY.measures.for_status(CreditStatus.BLACKLISTED)
    assert restricted is not None and listed is not None
    assert restricted.zh == "金融机构不得提供任何形式的新增授信支持"
    assert restricted.en == "no new credit of any form"
    assert listed.zh == "严格审查，审慎参考"
    assert listed.en == "strict review, prudential reference"
    assert DEFAULT_POLICY.measures.for_status(CreditStatus.WATCH) is None
    assert DEFAULT_POLICY.measures.for_status(CreditStatus.CLEAR) is None


def test_rules_and_their_effects() -> None:
    effects = {rule: info.effect for rule, info in RULES.items()}
    assert effects == {
        RuleId.R1: CreditStatus.BLACKLISTED,
        RuleId.R2: CreditStatus.CREDIT_RESTRICTED,
        RuleId.R3: CreditStatus.BLACKLISTED,
        RuleId.R4: CreditStatus.CREDIT_RESTRICTED,
        RuleId.R5: CreditStatus.CREDIT_RESTRICTED,
    }


def test_status_order() -> None:
    ranks = [s.rank for s in (CreditStatus.CLEAR, CreditStatus.WATCH)]
    ranks += [s.rank for s in (CreditStatus.CREDIT_RESTRICTED, CreditStatus.BLACKLISTED)]
    assert ranks == sorted(ranks) and len(set(ranks)) == 4


def test_load_from_dict_and_json_round_trip() -> None:
    data = DEFAULT_POLICY.model_dump(mode="json")
    assert load_policy(data) == DEFAULT_POLICY
    assert load_policy(json.dumps(data)) == DEFAULT_POLICY
    assert load_policy(json.dumps(data).encode()) == DEFAULT_POLICY


def test_load_a_custom_version() -> None:
    p = load_policy(
        {
            "version": "v2",
            "r3_min_agencies": 2,
            "publication_years": 1,
            "repair_min_years": 1,
            "serious_severities": ["critical"],
            "r4_penalty_kinds": ["production_licence_withdrawn"],
            "measures": {"blacklisted": {"zh": "禁止授信", "en": "no credit"}},
        }
    )
    assert p.version == "v2"
    assert p.serious_severities == (Severity.CRITICAL,)
    assert p.r4_penalty_kinds == (PenaltyKind.PRODUCTION_LICENCE_WITHDRAWN,)
    assert p.measures.blacklisted.en == "no credit"
    # Unnamed measures keep their defaults.
    assert p.measures.credit_restricted.en == "no new credit of any form"


def test_lists_are_normalised_so_the_dump_is_stable() -> None:
    a = load_policy({"serious_severities": ["critical", "serious", "critical"]})
    b = load_policy({"serious_severities": ["serious", "critical"]})
    assert a.serious_severities == (Severity.SERIOUS, Severity.CRITICAL)
    assert a.model_dump(mode="json") == b.model_dump(mode="json")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"publication_years": 4}, "publication_years"),
        ({"publication_years": 0}, "publication_years"),
        ({"publication_years": 1, "repair_min_years": 2}, "repair_min_years"),
        ({"r3_window_days": 0}, "r3_window_days"),
        ({"serious_severities": []}, "serious_severities"),
        ({"serious_severities": ["grave"]}, "serious_severities"),
        ({"r4_penalty_kinds": ["jail"]}, "r4_penalty_kinds"),
        ({"measures": {"blacklisted": {"zh": "", "en": "x"}}}, "measures.blacklisted.zh"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_policies_are_refused_naming_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(PolicyError) as err:
        load_policy(data)
    assert field in str(err.value)


def test_malformed_json_is_refused() -> None:
    with pytest.raises(PolicyError):
        load_policy("{not json")


def test_policy_is_frozen() -> None:
    with pytest.raises(ValueError):
        DEFAULT_POLICY.r3_min_agencies = 2  # type: ignore[misc]


def test_a_policy_changes_the_outcome_and_is_named_in_the_basis() -> None:
    events = [finding("environment", "serious", day(0)), finding("tax", "critical", day(10))]
    strict = evaluate(events, day(20))
    lenient = evaluate(events, day(20), Policy(version="v2-test", r3_min_agencies=2))
    assert strict.status is CreditStatus.WATCH
    assert lenient.status is CreditStatus.BLACKLISTED
    assert lenient.policy_version == "v2-test"
    assert lenient.listings[0].basis.policy_version == "v2-test"
