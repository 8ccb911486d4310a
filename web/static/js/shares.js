// All shares: every share the owner made, with status filters, revoke one or many, extend
// expiry and unlock.
import {
  api, guarded, h, t, $, $$, lang, dateInputValue, dateInputEnd, openDialog, showError, clearError, flash,
} from "./app.js";
import { recipientOf, targetOf, statusBadge, downloadsOf, expiryOf, revoke, unlock, colleagueMap } from "./grants.js";

const state = { grants: [], cases: new Map(), colleagues: new Map() };

function caseLabel(grant) {
  const record = state.cases.get(grant.case);
  if (!record) return "";
  return record.title ? `${record.patient_ref} (${record.title})` : record.patient_ref;
}

function row(grant) {
  const open = grant.status !== "revoked";
  return h("tr", { dataset: { grant: grant.id, status: grant.status } },
    h("td", {}, open ? h("input", { type: "checkbox", class: "pick", value: grant.id, "aria-label": t("shares.select") }) : null),
    h("td", {}, h("a", { href: `/cases/${grant.case}#shares` }, caseLabel(grant))),
    h("td", { class: "recipient" }, recipientOf(grant, state.colleagues)),
    h("td", {}, targetOf(grant)),
    h("td", {}, t(`share.role_${grant.role}`)),
    h("td", {}, statusBadge(grant)),
    h("td", {}, expiryOf(grant)),
    h("td", { class: "num" }, downloadsOf(grant)),
    h("td", { class: "row-actions" },
      open ? h("button", { type: "button", onclick: () => extend(grant) }, t("shares.extend")) : null,
      grant.status === "locked"
        ? h("button", { type: "button", onclick: async () => (await unlock(grant)) && load() }, t("shares.unlock"))
        : null,
      open ? h("button", { type: "button", class: "danger", onclick: async () => (await revoke(grant)) && load() }, t("shares.revoke")) : null,
    ),
  );
}

function render() {
  const status = $("#share-status").value;
  const query = $("#share-search").value.trim().toLocaleLowerCase(lang);
  const shown = state.grants
    .filter((g) => !status || g.status === status)
    .filter((g) => !query || `${caseLabel(g)} ${recipientOf(g, state.colleagues)}`.toLocaleLowerCase(lang).includes(query));
  $("#shares-table tbody").replaceChildren(...shown.map(row));
  $("#shares-empty").hidden = shown.length > 0;
  $("#select-all").checked = false;
  syncSelection();
}

function syncSelection() {
  $("#revoke-selected").disabled = $$(".pick:checked").length === 0;
}

async function load() {
  const [grants, cases, colleagues] = await Promise.all([
    api("GET", "/api/v1/grants"),
    api("GET", "/api/v1/cases"),
    colleagueMap(),
  ]);
  state.grants = grants.grants;
  state.cases = new Map(cases.cases.map((c) => [c.id, c]));
  state.colleagues = colleagues;
  render();
}

const extendDialog = $("#extend-dialog");
function extend(grant) {
  const input = $("#extend-date");
  input.value = dateInputValue(Math.max(grant.expires_at || 0, Date.now()) + 7 * 24 * 3600 * 1000);
  input.min = dateInputValue(Date.now());
  openDialog(extendDialog);
  $("form", extendDialog).onsubmit = async (event) => {
    event.preventDefault();
    const errorBox = $(".error", extendDialog);
    clearError(errorBox);
    try {
      await api("PATCH", `/api/v1/grants/${grant.id}`, { json: { expires_at: dateInputEnd(input.value) } });
      extendDialog.close();
      flash(t("shares.extended"));
      await load();
    } catch (error) {
      showError(error, errorBox);
    }
  };
}

$("#share-status").addEventListener("change", render);
$("#share-search").addEventListener("input", render);
$("#shares-table").addEventListener("change", (event) => {
  if (event.target.id === "select-all") {
    for (const box of $$(".pick")) box.checked = event.target.checked;
  }
  syncSelection();
});
$("#revoke-selected").addEventListener("click", async () => {
  const ids = $$(".pick:checked").map((box) => box.value);
  if (ids.length === 0 || !confirm(t("shares.revoke_many_confirm", { count: ids.length }))) return;
  try {
    const result = await api("POST", "/api/v1/grants/revoke", { json: { ids } });
    flash(t("shares.revoked_many", { count: result.revoked }));
    await load();
  } catch (error) {
    showError(error);
  }
});

guarded(load);
