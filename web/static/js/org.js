// Organisations: each clinic the user belongs to, its storage, members and group cases;
// administrators add members or invite them, change roles, remove members and withdraw
// invitations.
import {
  api, guarded, h, t, $, formatDate, quotaText, quotaProgress, showError, clearError, flash, wireCopyButtons,
} from "./app.js";

function quotaBlock(org) {
  return [h("p", { class: "quota-text" }, quotaText(org.quota)), quotaProgress(org.quota, t("account.storage"))];
}

function memberRow(org, member, isAdmin) {
  const role = isAdmin
    ? h("select", {
      "aria-label": t("org.role_of", { name: member.display_name }),
      onchange: async (event) => {
        try {
          await api("PATCH", `/api/v1/orgs/${org.id}/members/${member.id}`, { json: { role: event.target.value } });
          flash(t("org.role_changed"));
        } catch (error) {
          showError(error);
        }
        await load();
      },
    },
    h("option", { value: "member", selected: member.role === "member" }, t("org.role_member")),
    h("option", { value: "admin", selected: member.role === "admin" }, t("org.role_admin")))
    : t(`org.role_${member.role}`);
  return h("tr", { dataset: { member: member.id } },
    h("td", {}, member.display_name),
    h("td", {}, member.email),
    h("td", {}, role),
    h("td", { class: "row-actions" }, isAdmin
      ? h("button", {
        type: "button",
        class: "danger",
        onclick: async () => {
          if (!confirm(t("org.remove_confirm", { name: member.display_name }))) return;
          try {
            await api("DELETE", `/api/v1/orgs/${org.id}/members/${member.id}`);
            await load();
          } catch (error) {
            showError(error);
          }
        },
      }, t("org.remove"))
      : null),
  );
}

function invitations(org, detail) {
  if (detail.invitations.length === 0) return null;
  return h("div", {},
    h("h3", {}, t("org.pending")),
    h("ul", { class: "plain-list invitations" }, detail.invitations.map((invitation) => h("li", {},
      invitation.email, ` · ${t(`org.role_${invitation.role}`)} · ${t("org.invite_until", { date: formatDate(invitation.expires_at) })} `,
      h("button", {
        type: "button",
        class: "danger",
        onclick: async () => {
          try {
            await api("DELETE", `/api/v1/orgs/${org.id}/invitations/${invitation.id}`);
            await load();
          } catch (error) {
            showError(error);
          }
        },
      }, t("org.withdraw"))))));
}

function addForm(org) {
  const email = h("input", { type: "email", id: `add-${org.id}`, required: true, autocomplete: "off" });
  const role = h("select", { id: `add-role-${org.id}` },
    h("option", { value: "member" }, t("org.role_member")),
    h("option", { value: "admin" }, t("org.role_admin")));
  const errorBox = h("p", { class: "error", role: "alert", hidden: true });
  const result = h("div", { class: "invite-result", hidden: true });
  const form = h("form", { class: "add-member", novalidate: true },
    h("h3", {}, t("org.add_title")),
    h("p", { class: "hint" }, t("org.add_hint")),
    h("label", { for: email.id }, t("org.email")), email,
    h("label", { for: role.id }, t("org.role")), role,
    errorBox,
    h("button", { type: "submit", class: "primary" }, t("org.add")),
    result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError(errorBox);
    try {
      const added = await api("POST", `/api/v1/orgs/${org.id}/members`, { json: { email: email.value.trim(), role: role.value } });
      if (added.member) {
        flash(t("org.added", { name: added.member.display_name }));
        await load();
        return;
      }
      if (added.link) {
        const out = h("input", { id: `invite-link-${org.id}`, readonly: true, value: added.link });
        result.replaceChildren(h("p", {}, t("org.invite_mail_off")),
          h("div", { class: "copy-row" }, out, h("button", { type: "button", "data-copy": out.id }, t("common.copy"))));
        result.hidden = false;
        wireCopyButtons(result);
      } else {
        flash(t("org.invited", { email: email.value.trim() }));
        await load();
      }
    } catch (error) {
      showError(error, errorBox);
    }
  });
  return form;
}

async function section(org, cases) {
  const detail = await api("GET", `/api/v1/orgs/${org.id}`);
  const isAdmin = org.role === "admin";
  const group = cases.filter((c) => c.owner.kind === "org" && c.owner.id === org.id);
  return h("section", { class: "panel", dataset: { org: org.id } },
    h("h2", {}, org.name, " ", h("span", { class: "badge" }, t(`org.role_${org.role}`))),
    ...quotaBlock(org),
    h("h3", {}, t("org.members", { count: detail.members.length })),
    h("div", { class: "table-wrap" }, h("table", { class: "data members" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("org.name")), h("th", { scope: "col" }, t("org.email")),
        h("th", { scope: "col" }, t("org.role")), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("case.col_actions"))))),
      h("tbody", {}, detail.members.map((m) => memberRow(org, m, isAdmin))))),
    isAdmin ? invitations(org, detail) : null,
    isAdmin ? addForm(org) : null,
    h("h3", {}, t("org.group_cases", { count: group.length })),
    h("p", { class: "hint" }, t("org.group_hint")),
    h("ul", { class: "plain-list" }, group.map((c) => h("li", {}, h("a", { href: `/cases/${c.id}` }, c.patient_ref), c.title ? ` — ${c.title}` : ""))),
  );
}

async function load() {
  const [list, cases] = await Promise.all([api("GET", "/api/v1/orgs"), api("GET", "/api/v1/cases")]);
  const sections = [];
  for (const org of list.orgs) sections.push(await section(org, cases.cases));
  $("#orgs").replaceChildren(...sections);
  $("#orgs-empty").hidden = sections.length > 0;
}

guarded(load);
