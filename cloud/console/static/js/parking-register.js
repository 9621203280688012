/** 陌生车辆登记: the booth registers a stranger vehicle and lets it through (one recorded answer). */

import { formDialog } from "./dialogs.js";
import { label } from "./labels.js";
import { PURPOSES, REASONS } from "./parking-labels.js";
import { parkingPost } from "./parking-api.js";
import { toast } from "./toast.js";

/** Resolves with the registration, or null if cancelled; the server's refusal shows in the dialog. */
export function registerDialog(pass) {
  return formDialog({
    id: "dialog-register",
    title: "登记放行 Register & let through",
    subtitle: `${pass.lane} · ${pass.card ?? "无卡 no card"} · ${label(REASONS, pass.reason)}`,
    fields: [
      { name: "plate", label: "车牌 Plate", required: true },
      { name: "driver", label: "司机 Driver" },
      { name: "purpose", label: "事由 Purpose", kind: "select", options: Object.entries(PURPOSES), value: "visit" },
      { name: "notes", label: "备注 Notes", kind: "textarea" },
    ],
    submitLabel: "登记并开闸 Register and open",
    onSubmit: async (values) => {
      const body = { lane: pass.lane, plate: values.plate.trim(), purpose: values.purpose, pass_id: pass.id };
      if (values.driver.trim()) body.driver = values.driver.trim();
      if (values.notes.trim()) body.notes = values.notes.trim();
      const made = await parkingPost("gates/registrations", body);
      const opened = made.sent ? "已开闸 barrier opened" : "未能开闸：消息服务不可达 NOT opened: the broker is unreachable";
      toast(`已登记 Registered ${made.plate} · ${opened}`, made.sent ? "ok" : "error");
      return made;
    },
  });
}
