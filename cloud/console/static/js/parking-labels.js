/** Bilingual words of parking: why a gate decided as it did, card types and statuses, purposes. */

import { formatTime } from "./labels.js";

export const REASONS = {
  valid: "有效卡 Valid card",
  emergency: "紧急/公务车辆 Emergency or official",
  override: "人工开闸 Opened by an operator",
  registered: "登记放行 Registered and let through",
  unknown: "未知卡 Unknown card",
  lost: "已挂失 Card reported lost",
  suspended: "已停用 Card suspended",
  expired: "已过期 Card expired",
  outside_validity: "不在有效期内 Outside its validity window",
  no_permission: "无此车道权限 No permission for this lane",
  anti_passback: "防反传（一卡一车）Anti-passback: already in / out",
};

/** Denials that are a vehicle the garage does not know: the booth registers it (陌生车辆登记). */
export const STRANGER_REASONS = new Set(["unknown", "no_permission"]);

export const CARD_TYPES = {
  resident: "业主 Resident",
  staff: "员工 Staff",
  temporary: "临时出入证 Temporary pass",
  visitor: "访客 Visitor",
  emergency: "紧急/公务 Emergency / official",
};

export const CARD_STATUSES = {
  active: "有效 Active",
  suspended: "已停用 Suspended",
  lost: "已挂失 Lost",
  expired: "已失效 Expired",
};

export const PURPOSES = {
  visit: "访客 Visit",
  unloading: "卸货 Unloading",
  delivery: "送货 Delivery",
  contractor: "施工 Contractor",
  other: "其他 Other",
};

export const DIRECTIONS = { in: "进 In", out: "出 Out" };

export const VERDICTS = {
  free: "免费 Free",
  over_free: "超出免费时间 Over the free time",
  charged: "收费 Charged",
};

export const CARD_EVENTS = {
  issued: "发卡 Issued",
  imported: "导入 Imported",
  edited: "修改 Edited",
  reported_lost: "挂失 Reported lost",
  suspended: "停用 Suspended",
  reactivated: "恢复 Reactivated",
  expired_by_extension: "续期后失效 Expired by an extension",
  issued_as_extension: "续期新证 Issued as an extension",
};

/** `YYYY-MM-DD HH:MM` in the control room's zone; "—" when empty. */
export const minute = (value) => (value ? formatTime(value).slice(0, 16) : "—");

/** A validity window in words: "2026-12-01 → 2027-02-28", open ends shown as such. */
export function windowWords(card) {
  if (!card.valid_from && !card.valid_until) return "长期 No end date";
  const from = card.valid_from ? formatTime(card.valid_from).slice(0, 10) : "…";
  const until = card.valid_until ? formatTime(card.valid_until).slice(0, 10) : "…";
  return `${from} → ${until}`;
}
