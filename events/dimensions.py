"""The eleven check dimensions of a joint investigation (联合调查核查事项) and finding severity."""

from __future__ import annotations

from enum import StrEnum


class Dimension(StrEnum):
    """What a finding is about; the seed's twelve-department team checks these eleven."""

    PROJECT_COMPLIANCE = "project_compliance"  # 项目合规
    CAPACITY_REPLACEMENT = "capacity_replacement"  # 产能置换
    PRODUCT_QUALITY = "product_quality"  # 产品质量
    LAND_APPROVAL = "land_approval"  # 用地审批
    ENVIRONMENTAL_PROTECTION = "environmental_protection"  # 环境保护
    CONSTRUCTION_PERMIT = "construction_permit"  # 施工许可
    WORK_SAFETY = "work_safety"  # 安全生产
    EXPORT_SUPERVISION = "export_supervision"  # 出口监管
    TAX_COMPLIANCE = "tax_compliance"  # 纳税情况
    REGISTRATION = "registration"  # 注册登记
    BANK_CREDIT = "bank_credit"  # 银行信贷


DIMENSION_NAMES: dict[Dimension, tuple[str, str]] = {
    Dimension.PROJECT_COMPLIANCE: ("项目合规", "Project compliance"),
    Dimension.CAPACITY_REPLACEMENT: ("产能置换", "Capacity replacement"),
    Dimension.PRODUCT_QUALITY: ("产品质量", "Product quality"),
    Dimension.LAND_APPROVAL: ("用地审批", "Land-use approval"),
    Dimension.ENVIRONMENTAL_PROTECTION: ("环境保护", "Environmental protection"),
    Dimension.CONSTRUCTION_PERMIT: ("施工许可", "Construction permit"),
    Dimension.WORK_SAFETY: ("安全生产", "Work safety"),
    Dimension.EXPORT_SUPERVISION: ("出口监管", "Export supervision"),
    Dimension.TAX_COMPLIANCE: ("纳税情况", "Tax compliance"),
    Dimension.REGISTRATION: ("注册登记", "Registration"),
    Dimension.BANK_CREDIT: ("银行信贷", "Bank credit"),
}


class Severity(StrEnum):
    """Ordered: info < minor < serious < critical."""

    INFO = "info"
    MINOR = "minor"
    SERIOUS = "serious"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}

SEVERITY_NAMES: dict[Severity, tuple[str, str]] = {
    Severity.INFO: ("提示", "Info"),
    Severity.MINOR: ("一般", "Minor"),
    Severity.SERIOUS: ("严重", "Serious"),
    Severity.CRITICAL: ("特别严重", "Critical"),
}
