"""The regional roll-up adds up across levels, and 区域限批 follows missed targets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.regions import EnterpriseFigures, Level, roll_up

regions = st.sampled_from(["130102", "130110", "130121", "130322", "360603", "360681", "361103"])
figures = st.builds(
    EnterpriseFigures,
    region=regions,
    credit_status=st.sampled_from(["CLEAR", "WATCH", "CREDIT_RESTRICTED", "BLACKLISTED"]),
    open_case=st.booleans(),
    targets=st.integers(0, 3),
    targets_missed=st.integers(0, 1),
    reduction_tonnes=st.floats(0, 1e6),
    reduction_done_tonnes=st.floats(0, 1e6),
    tipoffs_open=st.integers(0, 3),
    tipoffs_overdue=st.integers(0, 2),
)

FIELDS = ("enterprises", "open_cases", "listed", "restricted", "watched", "targets",
          "targets_missed", "tipoffs_open", "tipoffs_overdue")  # fmt: skip


@given(st.lists(figures, max_size=60))
def test_every_level_adds_up_to_the_same_totals(items: list[EnterpriseFigures]) -> None:
    levels = {lv: roll_up(items, lv) for lv in Level}
    for name in FIELDS:
        totals = {lv: sum(getattr(r, name) for r in rows) for lv, rows in levels.items()}
        assert len(set(totals.values())) <= 1, (name, totals)
    assert sum(r.enterprises for r in levels[Level.PROVINCE]) == len(items)
    # A city is the sum of its counties.
    for city in levels[Level.CITY]:
        counties = roll_up(items, Level.COUNTY, city.code[:4])
        assert city.enterprises == sum(c.enterprises for c in counties)
        assert city.regional_restriction == any(c.regional_restriction for c in counties)


def test_a_county_that_missed_a_target_is_flagged_and_its_parents_too() -> None:
    def fig(region: str, missed: int) -> EnterpriseFigures:
        return EnterpriseFigures(region, "CLEAR", False, 1, missed, 100.0, 50.0, 0, 0)

    items = [fig("130110", 1), fig("130121", 0), fig("360681", 0)]
    counties = {r.code: r for r in roll_up(items, Level.COUNTY)}
    assert counties["130110"].regional_restriction
    assert not counties["130121"].regional_restriction
    provinces = {r.code: r for r in roll_up(items, Level.PROVINCE)}
    assert provinces["130000"].regional_restriction
    assert not provinces["360000"].regional_restriction
    assert provinces["130000"].reduction_progress == 0.5
    assert roll_up(items, Level.CITY, "1301")[0].code == "130100"
