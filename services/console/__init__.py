"""The task force's web console (联合调查组工作台), served by the service under `/console/`."""

from services.console.routes import router

__all__ = ["router"]
