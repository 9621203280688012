/**
 * 开闸 Open a barrier: one control per lane of the site (GET /api/gates/lanes), named as the site
 * file names it, with the reason it needs. A 503 (the broker is not reachable, nothing was sent)
 * shows beside the lane.
 */

import { el, fill } from "./dom.js";
import { label } from "./labels.js";
import { DIRECTIONS } from "./parking-labels.js";
import { parkingPost } from "./parking-api.js";
import { toast } from "./toast.js";

async function open(lane, reasonInput, message) {
  message.hidden = true;
  try {
    const sent = await parkingPost(`gates/${encodeURIComponent(lane.id)}/open`, { reason: reasonInput.value.trim() });
    toast(`已发送开闸 Open sent: ${lane.name ?? sent.lane} (${sent.lane}, ${sent.node})`, "ok");
    reasonInput.value = "";
  } catch (failure) {
    fill(message, failure.message);
    message.hidden = false;
  }
}

function laneForm(lane) {
  const id = `open-reason-${lane.id}`;
  const reason = el("input", { id, name: "reason", required: true, maxlength: 200, placeholder: "原因 Reason (救护车 ambulance…)" });
  const message = el("p", { class: "error", role: "alert", hidden: true });
  const form = el(
    "form",
    { class: "lane-open", dataset: { lane: lane.id, node: lane.node } },
    el(
      "label",
      { for: id, class: "lane-name" },
      lane.name ?? lane.id,
      el("div", { class: "sub" }, [lane.id, lane.direction ? label(DIRECTIONS, lane.direction) : null].filter(Boolean).join(" · ")),
    ),
    reason,
    el("button", { type: "submit" }, "开闸 Open barrier"),
    message,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    open(lane, reason, message);
  });
  return form;
}

/** Built once from the site's lanes; the card forms' lane suggestions come from the same list. */
export function renderLanes(container, lanes) {
  fill(
    container,
    lanes.length ? lanes.map(laneForm) : el("p", { class: "muted" }, "本场地未配置道闸车道 No gate lanes configured (parking.lanes in the site file)"),
  );
  fill(
    document.getElementById("known-lanes"),
    lanes.map((lane) => el("option", { value: lane.id }, lane.name ?? lane.id)),
  );
}
