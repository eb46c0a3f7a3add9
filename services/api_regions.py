"""Regional roll-up (区域汇总) for the task force: cases, listings, reduction progress and
regional restriction (区域限批) by province, city and county."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from projections.regions import NAMES, EnterpriseFigures, Level, roll_up
from services.auth import Principal
from services.http import ERRORS, json_response, pool_of, require

router = APIRouter(prefix="/v1", tags=["regions"], responses=ERRORS)


@router.get("/regions", summary="Roll-up by province, city or county")
async def regions(
    request: Request,
    _: Annotated[Principal, Depends(require("taskforce", "admin"))],
    level: Level = Level.PROVINCE,
    prefix: Annotated[str, Query(pattern=r"^\d{0,6}$", description="code prefix")] = "",
) -> Response:
    rows = await pool_of(request).fetch(
        """
        SELECT region, credit_status, case_state = 'open' AS open_case, targets,
               targets_missed, reduction_tonnes, reduction_done_tonnes, tipoffs_open,
               tipoffs_overdue
        FROM case_file WHERE region LIKE $1 || '%'
        """,
        prefix,
    )
    figures = [EnterpriseFigures(**{**dict(r), "open_case": bool(r["open_case"])}) for r in rows]
    return json_response(
        200,
        {
            "level": level,
            "prefix": prefix,
            "regions": [
                {
                    "code": r.code,
                    "name_zh": NAMES.get(r.code),
                    "enterprises": r.enterprises,
                    "open_cases": r.open_cases,
                    "listed": r.listed,
                    "restricted": r.restricted,
                    "watched": r.watched,
                    "targets": r.targets,
                    "targets_missed": r.targets_missed,
                    "reduction_tonnes": r.reduction_tonnes,
                    "reduction_done_tonnes": r.reduction_done_tonnes,
                    "reduction_progress": r.reduction_progress,
                    "tipoffs_open": r.tipoffs_open,
                    "tipoffs_overdue": r.tipoffs_overdue,
                    "regional_restriction": r.regional_restriction,
                    "restricted_counties": sorted(r.counties_restricted),
                }
                for r in roll_up(figures, level, prefix)
            ],
        },
    )


@router.get("/alerts", summary="Overdue tip-offs and missed reduction targets (预警)")
async def alerts(
    request: Request,
    _: Annotated[Principal, Depends(require("taskforce", "admin"))],
    prefix: Annotated[str, Query(pattern=r"^\d{0,6}$", description="region code prefix")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    rows = await pool_of(request).fetch(
        """
        SELECT uscc, name, region, credit_status, tipoffs_overdue, targets_missed,
               tipoffs_reward
        FROM case_file
        WHERE region LIKE $1 || '%' AND (tipoffs_overdue > 0 OR targets_missed > 0)
        ORDER BY tipoffs_overdue + targets_missed DESC, uscc LIMIT $2
        """,
        prefix,
        limit,
    )
    return json_response(200, {"alerts": [dict(r) for r in rows]})
