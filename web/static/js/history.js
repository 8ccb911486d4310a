// The History tab: every access to the case, newest first.
import { api, h, t, $, formatDateTime } from "./app.js";

function actorOf(entry) {
  if (entry.actor_name) return entry.actor_name;
  if (entry.actor.kind === "system") return t("history.system");
  if (entry.actor.kind === "grant") return t("history.via_link");
  return t("history.someone");
}

export class History {
  constructor(page) {
    this.page = page;
  }

  async load() {
    const history = await api("GET", `/api/v1/cases/${this.page.caseId}/history`);
    const items = history.entries.slice().reverse().map((entry) => {
      const action = t(`history.${entry.action}`);
      return h("li", { class: `event outcome-${entry.outcome}`, dataset: { action: entry.action } },
        h("time", { datetime: new Date(entry.at).toISOString() }, formatDateTime(entry.at)),
        " ",
        h("span", { class: "what" }, action),
        entry.file_name ? h("span", { class: "file" }, ` — ${entry.file_name}`) : null,
        h("span", { class: "who" }, ` · ${actorOf(entry)}`),
        entry.ip ? h("span", { class: "where hint" }, ` · ${t("history.from", { ip: entry.ip })}`) : null,
        entry.outcome !== "success" ? h("span", { class: "badge warn" }, t(`history.outcome_${entry.outcome}`)) : null,
      );
    });
    $("#history").replaceChildren(...items);
    $("#history-empty").hidden = items.length > 0;
  }
}
