"""The control-room console: the live alarm list, the alarm detail page, the patrol board, the
printable patrol report, the parking booth and card page, the printable parking day report, the
duty page (log and handover), the printable handover record, the duty history, the pump-room
inspection pages, the accounts page, the login page and their static assets.

Every page declares the roles it admits in `PAGES` (the one list: the routes, the checks, the
docs and the tests all read it). An anonymous visitor is sent to the login (303) and comes back
afterwards; a logged-in role the page does not admit gets a 403 page naming the roles that may.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from cloud.api.security import PageViewerDep
from cloud.auth.accounts import Principal
from cloud.auth.roles import ALL, CONTROL_ROOM, PARKING_STAFF, Role, allows
from cloud.console import STATIC_DIR

router = APIRouter(include_in_schema=False)

# The pages are plain files; all data comes from the JSON API and the SSE stream, so nothing
# here touches the database but the viewer's session. StaticFiles does the path-traversal
# checks, ETags and 304s.
_assets = StaticFiles(directory=STATIC_DIR)

# Revalidate on every load (cheap with the ETag), so a new release's modules are never mixed
# with an old cached one in the control room's long-running browser.
_REVALIDATE = {"Cache-Control": "no-cache"}
LOGIN = "/login"
ADMINS = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class Page:
    path: str  # a route path; `{name}` and `{name:int}` parameters as FastAPI takes them
    file: str
    roles: frozenset[Role]  # who may open it (an admin always may)
    title: str

    @property
    def admitted(self) -> list[str]:
        return sorted({*self.roles, Role.ADMIN})


PAGES: tuple[Page, ...] = (
    Page("/", "index.html", ALL, "报警 Alarms"),
    Page("/alarms/{alarm_id:int}", "alarm.html", ALL, "报警详情 Alarm"),
    Page("/patrol", "patrol.html", ALL, "巡逻 Patrol"),
    Page("/patrol/report", "patrol-report.html", ALL, "巡逻报告 Patrol report"),
    Page("/parking", "parking.html", PARKING_STAFF, "车库 Parking"),
    Page("/parking/report", "parking-report.html", PARKING_STAFF, "车库日报 Parking report"),
    Page("/duty", "duty.html", CONTROL_ROOM, "值班 Duty"),
    Page("/duty/history", "duty-history.html", CONTROL_ROOM, "值班历史 Duty history"),
    Page("/duty/handovers/{handover_id:int}", "duty-record.html", CONTROL_ROOM, "交接班 Handover"),
    Page("/pumproom", "pumproom.html", CONTROL_ROOM, "泵房 Pump room"),
    Page("/pumproom/{room}", "pumproom.html", CONTROL_ROOM, "泵房 Pump room"),
    Page("/pumproom/{room}/weeks/{monday}", "pumproom.html", CONTROL_ROOM, "泵房 Pump room"),
    Page("/admin", "admin.html", ADMINS, "账户 Accounts"),
)


def _file(name: str, status_code: int = 200) -> FileResponse:
    return FileResponse(
        STATIC_DIR / name, status_code=status_code, media_type="text/html", headers=_REVALIDATE
    )


def login_url(request: Request) -> str:
    """The login page, told to come back to the address asked for."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{LOGIN}?{urlencode({'next': back})}"


def _forbidden(page: Page, viewer: Principal) -> HTMLResponse:
    roles = ", ".join(page.admitted)
    held = ", ".join(sorted(viewer.roles)) or "—"
    body = f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>无权访问 Not allowed — Sitewatch</title>
<link rel="stylesheet" href="/console/console.css">
<script type="module" src="/console/js/user-badge.js"></script>
</head>
<body class="page-forbidden">
<header class="topbar">
  <h1>Sitewatch <span class="sub">无权访问 Not allowed</span></h1>
  <div id="user" class="user"></div>
</header>
<main id="forbidden" class="forbidden" data-roles="{escape(roles)}">
  <h2>此页不对您的角色开放 This page is not open to your role</h2>
  <p>{escape(page.title)}（<code>{escape(page.path)}</code>）仅限这些角色
  Only these roles may see it: <strong id="forbidden-roles">{escape(roles)}</strong>.</p>
  <p>您是 You are {escape(viewer.name)}（{escape(held)}）。如需访问请联系管理员
  Ask an administrator if you need it.</p>
  <p><a href="/">返回报警列表 Back to the alarm list</a></p>
</main>
</body>
</html>
"""
    return HTMLResponse(body, status_code=403, headers=_REVALIDATE)


def _serve(page: Page) -> Any:
    def endpoint(request: Request, viewer: PageViewerDep) -> Response:
        if viewer is None:
            return RedirectResponse(login_url(request), status_code=303)
        if not allows(page.roles, viewer.roles):
            return _forbidden(page, viewer)
        return _file(page.file)

    endpoint.__name__ = f"page_{page.file.removesuffix('.html').replace('-', '_')}"
    return endpoint


for _page in PAGES:
    router.add_api_route(_page.path, _serve(_page), methods=["GET"], response_class=HTMLResponse)


@router.get(LOGIN)
def login_page() -> FileResponse:
    return _file("login.html")


@router.get("/console/roles.json")
def api_roles(request: Request) -> JSONResponse:
    """Which roles each API operation admits (the OpenAPI's `x-roles`), so a page shows only
    the actions its viewer may take; the server checks each call anyway."""
    roles = {
        f"{method.upper()} {path}": operation["x-roles"]
        for path, operations in request.app.openapi()["paths"].items()
        for method, operation in operations.items()
        if "x-roles" in operation
    }
    return JSONResponse(roles, headers=_REVALIDATE)


@router.get("/console/{path:path}")
async def console_asset(path: str, request: Request) -> Response:
    response = await _assets.get_response(path, request.scope)
    response.headers.update(_REVALIDATE)
    return response
