/** The KPI strip: alarms in the last 10 minutes per site, flood, chattering points, stale alarms. */

import { el, fill } from "./dom.js";
import { formatAge } from "./labels.js";

export function renderKpis(container, kpis) {
  if (!kpis.length) return fill(container, el("span", { class: "muted" }, "KPI —"));
  return fill(
    container,
    kpis.map((k) =>
      el(
        "div",
        { class: `kpi-site${k.flood ? " flood" : ""}`, dataset: { site: k.site, flood: String(k.flood) } },
        el("span", { class: "site-name" }, k.site),
        el(
          "span",
          { class: "kpi", title: "ISA-18.2: 每10分钟超过10条即为报警泛滥 more than 10 per 10 min is a flood" },
          "近10分钟报警 Last 10 min: ",
          el("strong", { class: "kpi-count" }, String(k.last_10_min)),
        ),
        k.flood ? el("span", { class: "kpi flood-badge" }, "⚠ 报警泛滥 ALARM FLOOD") : null,
        k.chattering?.length
          ? el(
              "span",
              { class: "kpi chattering" },
              "抖动 Chattering: ",
              k.chattering.map((c) =>
                el("span", { class: "chip", title: `${c.node}/${c.device}/${c.point}` }, `${c.device}/${c.point} ×${c.activations}`),
              ),
            )
          : null,
        k.stale?.length
          ? el(
              "span",
              { class: "kpi stale" },
              "长期未处理 Stale: ",
              k.stale.map((s) =>
                el("a", { class: "chip", href: `/alarms/${s.id}`, title: formatAge(s.raised_at) }, s.text),
              ),
            )
          : null,
      ),
    ),
  );
}
