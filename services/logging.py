"""structlog, configured once: JSON lines in production, coloured key=value in a terminal."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_configured = False


def configure(fmt: str = "console", level: str = "INFO") -> None:
    global _configured
    if _configured:
        return
    _configured = True
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries (aiokafka, faust, uvicorn) log through the standard library: same format.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(processor=renderer, foreign_pre_chain=shared)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


def event_logger(log: Any, event_id: object, enterprise: str, stream: str) -> Any:
    """A logger bound to one event: every line names the event, its enterprise and its stream."""
    return log.bind(event_id=str(event_id), enterprise=enterprise, stream=stream)
