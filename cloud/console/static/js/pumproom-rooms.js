/** The pump rooms of the site: one line each, with whether this and last week are signed. */

import { el, fillWhenChanged } from "./dom.js";
import { roomPage } from "./pumproom-api.js";

const signedWords = (yes) => (yes ? el("span", { class: "pass" }, "已签字 Signed") : el("span", { class: "fail" }, "未签字 Not signed"));

export function renderRooms(tbody, rooms) {
  fillWhenChanged(tbody, rooms, () =>
    rooms.length
      ? rooms.map((r) =>
          el(
            "tr",
            { dataset: { room: r.id } },
            el("td", {}, el("a", { href: roomPage(r.id) }, r.name)),
            el("td", {}, `${r.week} `, signedWords(r.this_week_signed)),
            el("td", {}, `${r.last_week} `, signedWords(r.last_week_signed)),
          ),
        )
      : el("tr", {}, el("td", { colspan: 3 }, "未配置泵房 No pump room in the site file (inspection.rooms)")),
  );
}
