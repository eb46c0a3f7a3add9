"""The publishing streams: twelve agencies (the seed's joint team), the grid, the task force.

Each stream is one Kafka topic; an agency's token may write only its own stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from events.dimensions import Dimension


class Stream(StrEnum):
    NDRC = "ndrc"
    MIIT = "miit"
    QUALITY = "quality"
    LAND = "land"
    ENVIRONMENT = "environment"
    HOUSING = "housing"
    SAFETY = "safety"
    CUSTOMS = "customs"
    TAX = "tax"
    MARKET = "market"
    CREDIT = "credit"
    STEEL_ASSOCIATION = "steel_association"
    POWER = "power"
    TASKFORCE = "taskforce"


@dataclass(frozen=True, slots=True)
class StreamInfo:
    stream: Stream
    name_zh: str
    name_en: str
    dimensions: tuple[Dimension, ...]
    is_agency: bool = True


STREAMS: dict[Stream, StreamInfo] = {
    info.stream: info
    for info in (
        StreamInfo(Stream.NDRC, "国家发展改革委", "NDRC", (Dimension.PROJECT_COMPLIANCE,)),
        StreamInfo(Stream.MIIT, "工业和信息化部", "MIIT", (Dimension.CAPACITY_REPLACEMENT,)),
        StreamInfo(Stream.QUALITY, "质检总局", "Quality inspection", (Dimension.PRODUCT_QUALITY,)),
        StreamInfo(Stream.LAND, "国土资源部", "Land and resources", (Dimension.LAND_APPROVAL,)),
        StreamInfo(
            Stream.ENVIRONMENT,
            "环境保护部",
            "Environmental protection",
            (Dimension.ENVIRONMENTAL_PROTECTION,),
        ),
        StreamInfo(
            Stream.HOUSING,
            "住房城乡建设部",
            "Housing and construction",
            (Dimension.CONSTRUCTION_PERMIT,),
        ),
        StreamInfo(Stream.SAFETY, "安全监管总局", "Work safety", (Dimension.WORK_SAFETY,)),
        StreamInfo(Stream.CUSTOMS, "海关总署", "Customs", (Dimension.EXPORT_SUPERVISION,)),
        StreamInfo(Stream.TAX, "税务总局", "Taxation", (Dimension.TAX_COMPLIANCE,)),
        StreamInfo(Stream.MARKET, "工商总局", "Market regulation", (Dimension.REGISTRATION,)),
        StreamInfo(Stream.CREDIT, "银监会", "Banking regulator", (Dimension.BANK_CREDIT,)),
        StreamInfo(
            Stream.STEEL_ASSOCIATION, "中国钢铁工业协会", "China Iron and Steel Association", ()
        ),
        StreamInfo(Stream.POWER, "电网用电监测", "Power grid meter feed", (), is_agency=False),
        StreamInfo(Stream.TASKFORCE, "联合调查组", "Joint task force", (), is_agency=False),
    )
}

AGENCY_STREAMS: frozenset[Stream] = frozenset(s for s, i in STREAMS.items() if i.is_agency)
