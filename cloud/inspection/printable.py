"""The weekly report as one print-ready HTML file, charts inline: what the engineer files.

It is rendered from the report as compiled (or as sealed, once signed), needs no script and no
other file, and prints on A4 with the browser's own print.
"""

from __future__ import annotations

from html import escape
from typing import Any

PERCENT = "{:.1%}"
STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#111}
h1{font-size:1.4em}h2{font-size:1.1em;border-bottom:1px solid #999;margin-top:1.5em}
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #bbb;padding:3px 6px;
text-align:left;font-size:.9em}.high{color:#b00;font-weight:bold}.medium{color:#a60}.low{color:#555}
.pass{color:#070;font-weight:bold}.fail{color:#b00;font-weight:bold}.seal{font-family:monospace;
font-size:.8em;word-break:break-all}.chart{width:100%;max-width:720px}
@page{size:A4;margin:15mm}@media print{body{margin:0}}
"""


def _e(value: Any) -> str:
    return escape("—" if value is None else str(value))


def _share(value: float | None) -> str:
    return "无数据 no data" if value is None else PERCENT.format(value)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pump(pump: dict[str, Any]) -> str:
    test = pump["test_run"]
    if test is None:
        verdict = '<span class="fail">无自动试验 No automatic test run</span>'
    elif test["passed"]:
        verdict = f'<span class="pass">合格 Passed</span>: {_e(test["run_min"])} min, started in {_e(test["start_s"])} s'
    else:
        verdict = '<span class="fail">不合格 Failed</span>: ' + _e("; ".join(test["reasons"]))
    rows = [["自动 In AUTO", _share(pump["auto_share"])], ["周试验 Weekly test", verdict]]
    if "power_share" in pump:
        rows.append(["电源 Power available", _share(pump["power_share"])])
        rows.append(["缺相 Phase failures", _e(len(pump["phase_failures"]))])
    starts = "; ".join(
        f"{s['at'][:16]} {s['cause']} {s['run_s'] / 60:.1f} min" for s in pump["starts"]
    )
    rows.append(["启动 Starts", _e(starts or "none")])
    diesel = pump.get("diesel")
    if diesel:
        volts = ", ".join(
            f"{k}: {v if v is None else round(v, 1)} V" for k, v in diesel["battery_min_v"].items()
        )
        rows += [
            ["电池最低 Battery minimum", _e(volts)],
            ["燃油最低 Fuel minimum %", _e(diesel["fuel_min_pct"])],
            ["盘车失败 Crank failures", _e(len(diesel["crank_failures"]))],
        ]
    return f"<h3>{_e(pump['name'])} ({_e(pump['kind'])})</h3>" + _table(["", ""], rows)


def render(report: dict[str, Any], charts: list[str], signed: dict[str, Any] | None) -> str:
    site, title = report["site"]["name"], f"{report['room_name']} 周检 Weekly inspection"
    week = f"{report['week_start']} – {report['week_end']}"
    parts = [
        f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{_e(title)} {week}</title>"
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{_e(site)}<br>{_e(title)}</h1>",
        f"<p>周 Week: <b>{week}</b> · 编制 Compiled {_e(report['compiled_at'][:16])}"
        + ("" if report["complete"] else " · <b>周未结束 week in progress</b>")
        + "</p>",
    ]
    findings = [
        [
            f'<span class="{f["severity"]}">{_e(f["severity"])}</span>',
            _e(f["text"]),
            _e("; ".join(f"{a[:16]}–{b[11:16]}" for a, b in f["ranges"])),
            _e(", ".join(f"#{i}" for i in f["alarm_ids"])),
        ]
        for f in report["findings"]
    ]
    parts.append(
        "<h2>发现 Findings</h2>"
        + (
            _table(["Severity", "Finding", "When", "Alarms"], findings)
            if findings
            else "<p class='pass'>无 None</p>"
        )
    )
    parts.append("<h2>消防泵 Fire pumps</h2>" + "".join(_pump(p) for p in report["pumps"]))
    parts.append("<h2>趋势 Charts</h2>" + "".join(charts))
    supply = [
        [
            _e(s["device"]),
            _e(s["min"]),
            _e(None if s["avg"] is None else round(s["avg"], 3)),
            _e(s["max"]),
            _e(None if s["below_s"] is None else f"{s['below_s'] / 60:.0f} min"),
        ]
        for s in report["supply"]
    ]
    parts.append(
        "<h2>供水管网 Supply lines</h2>"
        + _table(["Line", "Min", "Avg", "Max", "Below low"], supply)
    )
    valves = [[_e(v["device"]), _e(len(v["off_normal"]))] for v in report["valves"]]
    parts.append("<h2>阀门 Valves</h2>" + _table(["Valve", "Times off normal"], valves))
    leaks = [
        [_e(leak["device"]), _e(leak["zone"]), _e(leak["at"][:16])] for leak in report["leaks"]
    ]
    parts.append(
        "<h2>漏水 Leaks</h2>"
        + (_table(["Device", "Zone", "At"], leaks) if leaks else "<p>无 None</p>")
    )
    heard = [
        [_e(a["device"]), _share(a["share"]), _e(len(a["gaps"]))] for a in report["availability"]
    ]
    parts.append(
        "<h2>数据完整性 Data availability</h2>" + _table(["Device", "Heard", "Gaps"], heard)
    )
    if signed is not None:
        checks = [
            [
                _e(c["text"]),
                "✔ 正常 OK" if c["ok"] else '<span class="fail">✘ 异常 Not OK</span>',
                _e(c["note"]),
            ]
            for c in signed["checklist"]
        ]
        parts.append("<h2>现场检查 Checklist</h2>" + _table(["Item", "Result", "Note"], checks))
        parts.append(
            f"<h2>签字 Sign-off</h2><p>工程师 Engineer: <b>{_e(signed['engineer'])}</b> · "
            f"{_e(signed['signed_at'][:16])}</p><p>备注 Notes: {_e(signed['notes'])}</p>"
            f"<p class='seal'>封存 Sealed record #{_e(signed['seal']['seq'])} · sha256 {_e(signed['seal']['hash'])}"
            " · 已封存，不可更改 sealed, never changes</p>"
        )
    else:
        parts.append("<h2>签字 Sign-off</h2><p class='fail'>未签字 Not signed yet</p>")
    parts.append("</body></html>")
    return "".join(parts)
