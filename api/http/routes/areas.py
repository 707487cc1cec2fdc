"""The city, district and ward summaries, and the loaded alert rules."""

from __future__ import annotations

from fastapi import APIRouter

from api.http.deps import Config, Conn, Now, Public, Viewer
from api.http.errors import documented
from api.http.routes.sites import status_rules
from api.queries.alerts import loaded_rules
from api.queries.sites import areas
from api.schemas.alerts import RuleOut
from api.schemas.sites import AreasOut

router = APIRouter(prefix="/api/v1", tags=["areas"], responses=documented(401))


@router.get("/areas", response_model=AreasOut)
def city_and_wards(who: Public, conn: Conn, settings: Config, now: Now) -> AreasOut:
    """Sites, open alerts, flood risk within 3 h and device health for the city, each district and ward."""
    return areas(conn, status_rules(settings), now)


@router.get("/rules", response_model=list[RuleOut], tags=["alerts"])
def rules(who: Viewer, conn: Conn) -> list[RuleOut]:
    """The alert rules as the engine last loaded them from its versioned rules file."""
    return loaded_rules(conn)
