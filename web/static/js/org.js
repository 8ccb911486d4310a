// Organisations: the clinics the user belongs to, their shared storage and group cases.
import { api, guarded, h, t, $, formatSize } from "./app.js";

guarded(async () => {
  const [quotas, cases] = await Promise.all([api("GET", "/api/v1/quota"), api("GET", "/api/v1/cases")]);
  const sections = quotas.orgs.map((org) => {
    const group = cases.cases.filter((c) => c.owner.kind === "org" && c.owner.id === org.id);
    return h("section", { class: "panel", dataset: { org: org.id } },
      h("h2", {}, org.name),
      h("p", {}, t("account.quota_used", { used: formatSize(org.quota.used), limit: formatSize(org.quota.limit) })),
      h("progress", { max: Math.max(org.quota.limit, 1), value: Math.min(org.quota.used, Math.max(org.quota.limit, 1)), "aria-label": org.name }),
      h("h3", {}, t("org.group_cases", { count: group.length })),
      h("ul", { class: "plain-list" }, group.map((c) => h("li", {}, h("a", { href: `/cases/${c.id}` }, c.patient_ref), c.title ? ` — ${c.title}` : ""))),
    );
  });
  $("#orgs").replaceChildren(...sections);
  $("#orgs-empty").hidden = sections.length > 0;
});
