"""Regional roll-up (区域汇总) by province, city and county from the administrative code in each
enterprise's USCC (positions 3–8, GB/T 2260). A county that missed a capacity-reduction target
is flagged for regional restriction of new approvals (区域限批). Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Level(StrEnum):
    PROVINCE = "province"  # 省
    CITY = "city"  # 市
    COUNTY = "county"  # 县

    @property
    def digits(self) -> int:
        return {Level.PROVINCE: 2, Level.CITY: 4, Level.COUNTY: 6}[self]


@dataclass(frozen=True, slots=True)
class EnterpriseFigures:
    """What one enterprise contributes to its regions."""

    region: str  # 6 digits
    credit_status: str
    open_case: bool
    targets: int
    targets_missed: int
    reduction_tonnes: float
    reduction_done_tonnes: float
    tipoffs_open: int
    tipoffs_overdue: int


@dataclass(slots=True)
class RegionFigures:
    code: str  # 6 digits, zero-padded: 130000 province, 130100 city, 130102 county
    level: Level
    enterprises: int = 0
    open_cases: int = 0
    listed: int = 0  # BLACKLISTED
    restricted: int = 0  # CREDIT_RESTRICTED
    watched: int = 0
    targets: int = 0
    targets_missed: int = 0
    reduction_tonnes: float = 0.0
    reduction_done_tonnes: float = 0.0
    tipoffs_open: int = 0
    tipoffs_overdue: int = 0
    counties_restricted: set[str] = field(default_factory=set)

    @property
    def reduction_progress(self) -> float | None:
        """Share of the reduction tonnage dismantled; None where no target was set."""
        if not self.reduction_tonnes:
            return None
        return min(1.0, self.reduction_done_tonnes / self.reduction_tonnes)

    @property
    def regional_restriction(self) -> bool:
        """区域限批: a county that missed a target; a city or province containing one."""
        return bool(self.counties_restricted)


def code_at(region: str, level: Level) -> str:
    return region[: level.digits].ljust(6, "0")


def roll_up(
    figures: Iterable[EnterpriseFigures], level: Level, prefix: str = ""
) -> list[RegionFigures]:
    """One row per region of `level` whose code starts with `prefix`, ordered by code."""
    out: dict[str, RegionFigures] = {}
    for f in figures:
        if not f.region.startswith(prefix):
            continue
        code = code_at(f.region, level)
        r = out.setdefault(code, RegionFigures(code, level))
        r.enterprises += 1
        r.open_cases += f.open_case
        r.listed += f.credit_status == "BLACKLISTED"
        r.restricted += f.credit_status == "CREDIT_RESTRICTED"
        r.watched += f.credit_status == "WATCH"
        r.targets += f.targets
        r.targets_missed += f.targets_missed
        r.reduction_tonnes += f.reduction_tonnes
        r.reduction_done_tonnes += f.reduction_done_tonnes
        r.tipoffs_open += f.tipoffs_open
        r.tipoffs_overdue += f.tipoffs_overdue
        if f.targets_missed:
            r.counties_restricted.add(f.region)
    return [out[c] for c in sorted(out)]


# Names of the provinces and of the cities and counties that appear in the demonstration
# scenario (GB/T 2260). Other codes are shown by number.
NAMES: dict[str, str] = {
    "110000": "北京市", "120000": "天津市", "130000": "河北省", "140000": "山西省",
    "150000": "内蒙古自治区", "210000": "辽宁省", "220000": "吉林省", "230000": "黑龙江省",
    "310000": "上海市", "320000": "江苏省", "330000": "浙江省", "340000": "安徽省",
    "350000": "福建省", "360000": "江西省", "370000": "山东省", "410000": "河南省",
    "420000": "湖北省", "430000": "湖南省", "440000": "广东省", "450000": "广西壮族自治区",
    "460000": "海南省", "500000": "重庆市", "510000": "四川省", "520000": "贵州省",
    "530000": "云南省", "540000": "西藏自治区", "610000": "陕西省", "620000": "甘肃省",
    "630000": "青海省", "640000": "宁夏回族自治区", "650000": "新疆维吾尔自治区",
    "130100": "石家庄市", "130102": "长安区", "130110": "鹿泉区", "130121": "井陉县",
    "130131": "平山县", "130300": "秦皇岛市", "130322": "昌黎县", "320300": "徐州市",
    "320381": "新沂市", "360600": "鹰潭市", "360603": "余江区", "360681": "贵溪市",
    "360800": "吉安市", "360826": "泰和县", "361100": "上饶市", "361103": "广丰区",
}  # fmt: skip
