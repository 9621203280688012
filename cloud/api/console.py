"""The control-room page: active alarms, rendered on the server (a live console replaces it later)."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from cloud.alarms.states import OPEN_STATES
from cloud.api.alarm_views import sort_key
from cloud.api.deps import SessionDep
from cloud.models import AlarmRecord, NodeRecord

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="3">
<title>Sitewatch 控制室 Control room</title>
<style>
body {{ font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 1.5rem; background: #111; color: #eee; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #333; }}
tr.fire td {{ background: #5a0000; }} tr.supervisory td {{ background: #4a3b00; }}
tr.trouble td {{ background: #1d2a4a; }} tr.cleared td {{ opacity: .6; }}
.nodes span {{ margin-right: 1rem; }} .off {{ color: #f66; }} .on {{ color: #6f6; }}
</style></head>
<body>
<h1>{site_names} — 报警 Active alarms ({count})</h1>
<p class="nodes">{nodes}</p>
<table id="alarms">
<thead><tr><th>Category</th><th>Priority</th><th>Alarm</th><th>Device</th><th>Location</th>
<th>Value</th><th>State</th><th>Raised (UTC)</th></tr></thead>
<tbody>{rows}</tbody></table>
<p><a href="/docs">API docs</a></p>
</body></html>"""


@router.get("/", response_class=HTMLResponse)
def console(request: Request, session: SessionDep) -> str:
    alarms = sorted(
        session.scalars(
            select(AlarmRecord).where(AlarmRecord.state.in_([s.value for s in OPEN_STATES]))
        ),
        key=sort_key,
    )
    rows = "".join(
        f'<tr class="{escape(a.category)}{"" if a.active else " cleared"}" data-alarm-id="{a.id}">'
        f"<td>{escape(a.category)}</td><td>{escape(a.priority)}</td><td>{escape(a.text)}</td>"
        f"<td>{escape(a.device_name or a.device)}</td><td>{escape(a.location or '')}</td>"
        f"<td>{escape(str(a.value))}</td>"
        f"<td>{'active' if a.active else 'cleared'}, {escape(a.state)}</td>"
        f"<td>{a.raised_at:%Y-%m-%d %H:%M:%S}</td></tr>"
        for a in alarms
    )
    nodes = "".join(
        f'<span class="{"on" if n.online else "off"}">{escape(n.node)}: '
        f"{'online' if n.online else 'offline'}</span>"
        for n in session.scalars(select(NodeRecord).order_by(NodeRecord.node))
    )
    site_names = ", ".join(escape(s.name) for s in request.app.state.sites.values())
    return _PAGE.format(
        site_names=site_names,
        count=sum(1 for a in alarms if a.active),
        nodes=nodes,
        rows=rows or '<tr><td colspan="8">No open alarms 无报警</td></tr>',
    )
