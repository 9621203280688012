/**
 * The 24-hour coverage timeline: one track per route from local midnight to midnight, each tour
 * a bar coloured by its outcome (walked green, late amber, missed red, not started grey, in
 * progress blue, due outlined), and a line at the present moment.
 */

import { el, fill } from "./dom.js";
import { label } from "./labels.js";
import { OUTCOMES, hhmm } from "./patrol-labels.js";

const HOURS = [0, 3, 6, 9, 12, 15, 18, 21];
const MIN_WIDTH = 0.35; // percent: a one-minute tour still shows

function placer(timeline) {
  const start = Date.parse(timeline.day_start);
  const span = Date.parse(timeline.day_end) - start;
  const clamp = (v) => Math.min(100, Math.max(0, v));
  return (value) => clamp(((Date.parse(value) - start) / span) * 100);
}

function bar(b, at) {
  const left = at(b.start);
  const width = Math.max(MIN_WIDTH, at(b.end) - left);
  const who = b.guard_name ? ` · ${b.guard_name}` : "";
  const kind = b.scheduled ? "" : " · 计划外 unscheduled";
  const title = `${hhmm(b.start)}–${hhmm(b.end)} ${label(OUTCOMES, b.outcome)}${who}${kind}`;
  return el("div", {
    class: `bar outcome-${b.outcome}${b.scheduled ? "" : " unscheduled"}`,
    style: `left:${left}%;width:${width}%`,
    title,
    "aria-label": title,
    dataset: { outcome: b.outcome, tourId: b.tour_id ?? "", scheduled: String(b.scheduled) },
  });
}

export function renderTimeline(container, legend, timeline) {
  const at = placer(timeline);
  const nowAt = Date.parse(timeline.now);
  const showNow = nowAt >= Date.parse(timeline.day_start) && nowAt < Date.parse(timeline.day_end);
  const ticks = HOURS.map((h) => el("span", { class: "tick", style: `left:${(h / 24) * 100}%` }, `${String(h).padStart(2, "0")}:00`));
  fill(
    container,
    el("div", { class: "timeline-row axis" }, el("span", { class: "route-name" }), el("div", { class: "track axis" }, ticks)),
    timeline.routes.map((route) =>
      el(
        "div",
        { class: "timeline-row", dataset: { route: route.route } },
        el("span", { class: "route-name" }, route.route_name),
        el(
          "div",
          { class: "track" },
          HOURS.map((h) => el("span", { class: "gridline", style: `left:${(h / 24) * 100}%` })),
          route.bars.map((b) => bar(b, at)),
          showNow ? el("span", { class: "now-line", style: `left:${at(timeline.now)}%`, title: "现在 Now" }) : null,
        ),
      ),
    ),
    timeline.routes.length ? null : el("p", { class: "muted" }, "未配置巡逻路线 No routes configured"),
  );
  fill(
    legend,
    Object.entries(OUTCOMES).map(([key, words]) => el("span", { class: "legend-item" }, el("span", { class: `swatch outcome-${key}` }), words)),
  );
}
