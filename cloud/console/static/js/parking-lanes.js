/**
 * 开闸 Open a barrier: one control per lane with the reason it needs. The lanes are those the
 * page has seen (gate passes, cards' lanes); another lane can be typed. A 503 (the broker is not
 * reachable, nothing was sent) shows beside the lane.
 */

import { el, fill } from "./dom.js";
import { parkingPost } from "./parking-api.js";
import { toast } from "./toast.js";

async function open(lane, reasonInput, message) {
  message.hidden = true;
  try {
    const sent = await parkingPost(`gates/${encodeURIComponent(lane)}/open`, { reason: reasonInput.value.trim() });
    toast(`已发送开闸 Open sent: ${sent.lane} (${sent.node})`, "ok");
    reasonInput.value = "";
  } catch (failure) {
    fill(message, failure.message);
    message.hidden = false;
  }
}

function laneForm(lane) {
  const id = `open-reason-${lane}`;
  const laneInput = lane ? null : el("input", { name: "lane", required: true, maxlength: 64, list: "known-lanes", placeholder: "车道 lane", class: "lane-name" });
  const reason = el("input", { id, name: "reason", required: true, maxlength: 200, placeholder: "原因 Reason (救护车 ambulance…)" });
  const message = el("p", { class: "error", role: "alert", hidden: true });
  const form = el(
    "form",
    { class: "lane-open", dataset: { lane: lane ?? "" } },
    lane ? el("label", { for: id, class: "lane-name" }, lane) : laneInput,
    reason,
    el("button", { type: "submit" }, "开闸 Open barrier"),
    message,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    open(lane ?? laneInput.value.trim(), reason, message);
  });
  return form;
}

/** Rebuilt only when a lane appears, so a reason being typed survives the refresh. */
export function renderLanes(container, lanes) {
  const known = [...lanes].sort();
  if (container.dataset.lanes === known.join(" ")) return;
  container.dataset.lanes = known.join(" ");
  fill(container, known.map(laneForm), laneForm(null));
  fill(document.getElementById("known-lanes"), known.map((lane) => el("option", { value: lane })));
}
