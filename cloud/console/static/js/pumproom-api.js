/** The inspection API and the pump-room pages' addresses; every call keeps the page's ?site=. */

import { getJSON, post, siteUrl } from "./api.js";
import { pageUrl } from "./duty-api.js";

const enc = encodeURIComponent;
const roomPath = (room) => `inspection/rooms/${enc(room)}`;
const weekPath = (room, monday) => `${roomPath(room)}/weeks/${enc(monday)}`;

export const getRooms = () => getJSON(siteUrl("inspection/rooms"));
export const getCurrent = (room) => getJSON(siteUrl(`${roomPath(room)}/current`));
export const getWeek = (room, monday) => getJSON(siteUrl(weekPath(room, monday)));
export const getHistory = (room, weeks = 12) => getJSON(siteUrl(`${roomPath(room)}/history`, { weeks }));

/** Sign a week: {checklist: {id: {ok, note}}, notes}; the sealed report, or the server's refusal. */
export const signWeek = (room, monday, body) => post(siteUrl(`${weekPath(room, monday)}/sign`), body);

/** A chart (SVG) of a week; `stamp` makes the browser fetch a fresh one as the week builds up. */
export const chartUrl = (room, monday, name, stamp) => siteUrl(`${weekPath(room, monday)}/chart/${name}.svg`, { at: stamp });

/** The print-ready HTML report, shown, or downloaded as a file to keep. */
export const printUrl = (room, monday, download = false) =>
  siteUrl(`${weekPath(room, monday)}/print`, { download: download ? "true" : null });

/** Console pages: the room list, a room (now and this week), one week of a room. */
export const roomsPage = () => pageUrl("/pumproom");
export const roomPage = (room) => pageUrl(`/pumproom/${enc(room)}`);
export const weekPage = (room, monday) => pageUrl(`/pumproom/${enc(room)}/weeks/${enc(monday)}`);

/** What the address asks for: {room, monday} (either may be null). */
export function pageTarget(path = location.pathname) {
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { room: parts[1] ?? null, monday: parts[2] === "weeks" ? (parts[3] ?? null) : null };
}
