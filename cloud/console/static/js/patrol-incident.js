/**
 * The incident form (发现重大情况必须立即上报): where it was found, what, on which tour. A major
 * incident raises an alarm; the server's refusal (unknown checkpoint, not on the tour's route)
 * shows under the form as sent.
 */

import { $, el, fill, fillWhenChanged } from "./dom.js";
import { label } from "./labels.js";
import { INCIDENT_CATEGORIES, hhmm, slotWords, today } from "./patrol-labels.js";
import { reportIncident } from "./patrol-api.js";
import { offer } from "./permissions.js";
import { toast } from "./toast.js";

export function setUpIncidentForm({ checkpoints, onReported }) {
  offer($("#incident-form"), "POST", "/api/patrol/incidents", { zh: "上报情况", en: "report incidents" });
  fill(
    $("#incident-checkpoint"),
    el("option", { value: "" }, "— 选择 choose —"),
    checkpoints.map((c) => el("option", { value: c.id }, c.location ? `${c.name} · ${c.location}` : c.name)),
  );
  fill(
    $("#incident-category"),
    Object.entries(INCIDENT_CATEGORIES).map(([value, words]) => el("option", { value }, words)),
  );
  const form = $("#incident-form");
  const error = $("#incident-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const data = new FormData(form);
    const body = {
      checkpoint: data.get("checkpoint"),
      category: data.get("category"),
      notes: String(data.get("notes") ?? "").trim(),
    };
    if (data.get("tour")) body.tour_id = Number(data.get("tour"));
    if (data.get("major")) body.major = data.get("major") === "true";
    $("#incident-submit").disabled = true;
    try {
      const made = await reportIncident(body);
      const alarmed = made.alarm_id ? ` · 已报警 alarm raised #${made.alarm_id}` : "";
      toast(`已上报 Reported: ${label(INCIDENT_CATEGORIES, made.category)} @ ${made.checkpoint_name}${alarmed}`, "ok");
      $("#incident-notes").value = "";
      onReported(made);
    } catch (failure) {
      fill(error, failure.message);
      error.hidden = false;
    } finally {
      $("#incident-submit").disabled = false;
    }
  });
}

/**
 * The tours a guard is walking now, to tie the incident to. The options are rebuilt only when
 * their words change (not on every tap of a tour), so a refresh leaves an open list open; when
 * rebuilt, the choice survives.
 */
export function offerTours(tours) {
  const select = $("#incident-tour");
  const chosen = select.value;
  const offered = tours.map((t) => [String(t.id), `${t.route_name} · ${slotWords(t)} · ${t.guard_name ?? ""}`]);
  fillWhenChanged(select, offered, () => [
    el("option", { value: "" }, "无 None"),
    offered.map(([value, words]) => el("option", { value, selected: value === chosen }, words)),
  ]);
}

/** Rebuilt only when the incidents change: a refresh must not swap an alarm link under a click. */
export function renderIncidents(tbody, incidents) {
  fillWhenChanged(tbody, [incidents, today()], () =>
    incidents.length
      ? incidents.map((i) =>
          el(
            "tr",
            { dataset: { incidentId: i.id, category: i.category } },
            el("td", {}, hhmm(i.reported_at)),
            el("td", {}, i.checkpoint_name),
            el("td", {}, label(INCIDENT_CATEGORIES, i.category)),
            el("td", { class: "notes" }, i.notes),
            el("td", {}, i.reported_by),
            el("td", { class: "alarm" }, i.alarm_id ? el("a", { href: `/alarms/${i.alarm_id}` }, `#${i.alarm_id}`) : "—"),
          ),
        )
      : el("tr", {}, el("td", { colspan: 6, class: "muted" }, "今日无上报 None today")),
  );
}
