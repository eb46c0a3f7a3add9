"""Deadlines become events (逾期即事件): a reduction target whose deadline passed unmet gets one
`CapacityReductionOverdue`, so the status change is in the history with its cause.

Pure: the notice's event id is derived from the target, so however many workers or scheduler
runs decide it, the event store's unique `event_id` keeps exactly one.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from events import Stream
from events.envelope import CapacityReductionOverdue
from events.payloads import CapacityReductionOverduePayload
from projections.casefile import CaseFile

_NAMESPACE = uuid.UUID("6f1c2a52-8d0e-5b7a-9a43-3c1e7d0f2b91")
SCHEDULER_ACTOR = "deadline scheduler (逾期检查)"


def overdue_notice_id(uscc: str, target_id: str, deadline: datetime) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"overdue|{uscc}|{target_id}|{deadline.isoformat()}")


def overdue_notices(case_file: CaseFile, now: datetime) -> list[CapacityReductionOverdue]:
    """The notices still to be emitted at `now`: deadline passed, target unmet by the deadline,
    and no notice recorded yet for this target."""
    notices = []
    for t in case_file.capacity.targets:
        if t.deadline > now or t.met_by_deadline or t.overdue_notice_ids:
            continue
        notices.append(
            CapacityReductionOverdue(
                event_id=overdue_notice_id(case_file.uscc, t.target_id, t.deadline),
                stream=Stream.TASKFORCE,
                enterprise=case_file.uscc,
                occurred_at=t.deadline,
                recorded_at=max(now, t.deadline),
                actor=SCHEDULER_ACTOR,
                causation_id=t.set_event_ids[-1],
                payload=CapacityReductionOverduePayload(
                    target_id=t.target_id,
                    deadline=t.deadline,
                    iron_tonnes_missing=max(0.0, t.iron_tonnes - t.iron_dismantled_tonnes),
                    steel_tonnes_missing=max(0.0, t.steel_tonnes - t.steel_dismantled_tonnes),
                ),
            )
        )
    return notices
