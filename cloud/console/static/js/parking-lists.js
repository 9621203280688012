/** Which card list version each gate decides from; a gate behind the newest is flagged. */

import { $, el, fill } from "./dom.js";
import { minute } from "./parking-labels.js";

export function renderLists(lists) {
  fill($("#list-version"), `v${lists.version}`);
  fill(
    $("#lists tbody"),
    lists.gates.length
      ? lists.gates.map((gate) =>
          el(
            "tr",
            { class: gate.current ? "" : "behind", dataset: { node: gate.node, current: String(gate.current) } },
            el("td", {}, gate.node),
            el("td", { class: "version" }, gate.version === null ? "—" : `v${gate.version}`),
            el("td", {}, gate.count ?? "—"),
            el("td", {}, minute(gate.loaded_at)),
            el(
              "td",
              { class: "state" },
              gate.current
                ? el("span", { class: "pill pass-allowed" }, "最新 Current")
                : el("span", { class: "pill pass-denied" }, gate.version === null ? "未载入 Never loaded" : `落后 Behind (newest v${lists.version})`),
            ),
          ),
        )
      : el("tr", {}, el("td", { colspan: 5, class: "muted" }, "无道闸节点 No gate nodes configured")),
  );
}
