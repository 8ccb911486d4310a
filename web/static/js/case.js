// One case: its header, the tabs, and editing the case itself.
import {
  api, guarded, t, $, $$, formatDate, dateInputValue, dateInputEnd, openDialog, showError, clearError, flash,
} from "./app.js";
import { loadLabels, labelChips, labelCheckboxes, checkedLabels } from "./labels.js";
import { Documents } from "./documents.js";
import { CaseShares } from "./case-shares.js";
import { History } from "./history.js";
import { ShareDialog } from "./share-dialog.js";

const caseId = location.pathname.split("/")[2] || "";
// role: "owner" for the practitioner's own and group cases, else the colleague's share role.
const page = { caseId, record: null, labels: [], role: "owner" };

const shareDialog = new ShareDialog(() => shares.load());
const documents = new Documents(page, shareDialog);
const shares = new CaseShares(page, shareDialog);
const history = new History(page);

function renderHeader() {
  const record = page.record;
  document.title = `${record.patient_ref} · casevault`;
  $("#case-heading").textContent = record.patient_ref;
  const parts = [];
  if (record.title) parts.push(`${t("cases.case_number")}: ${record.title}`);
  parts.push(t(`cases.status_${record.status}`));
  parts.push(t("case.created_on", { date: formatDate(record.created_at) }));
  if (record.expires_at) parts.push(t("case.expires_on", { date: formatDate(record.expires_at) }));
  const summary = $("#case-summary");
  summary.replaceChildren(parts.join(" · "), " ", ...labelChips(page.labels, record.labels));
  $("#case-archive").textContent = record.status === "archived" ? t("case.reopen") : t("case.archive");
}

// Tabs, keyboard included (arrow keys move between them).
const tabs = $$("[role=tab]");
function selectTab(tab, focus = false) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
  if (focus) tab.focus();
  const name = tab.id.replace("tab-", "");
  if (location.hash !== `#${name}`) window.history.replaceState(null, "", `#${name}`);
  guarded(() => ({ documents, shares, history })[name].load());
}
for (const tab of tabs) {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(tab);
    if (event.key === "ArrowRight") selectTab(tabs[(index + 1) % tabs.length], true);
    if (event.key === "ArrowLeft") selectTab(tabs[(index + tabs.length - 1) % tabs.length], true);
  });
}

// Editing, archiving, deleting the case.
const caseDialog = $("#case-dialog");
$("#case-edit").addEventListener("click", () => {
  const record = page.record;
  $("#case-patient").value = record.patient_ref;
  $("#case-number").value = record.title;
  $("#case-comments").value = record.comments;
  $("#case-expiry").value = record.expires_at ? dateInputValue(record.expires_at) : "";
  labelCheckboxes($("#case-labels"), page.labels, record.labels);
  openDialog(caseDialog);
});
$("#case-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const errorBox = $(".error", caseDialog);
  clearError(errorBox);
  try {
    page.record = await api("PATCH", `/api/v1/cases/${caseId}`, {
      json: {
        patient_ref: $("#case-patient").value.trim(),
        title: $("#case-number").value.trim(),
        comments: $("#case-comments").value,
        labels: checkedLabels($("#case-labels")),
        expires_at: dateInputEnd($("#case-expiry").value),
      },
    });
    caseDialog.close();
    renderHeader();
  } catch (error) {
    showError(error, errorBox);
  }
});
$("#case-delete").addEventListener("click", async () => {
  if (!confirm(t("case.delete_confirm", { name: page.record.patient_ref }))) return;
  try {
    await api("DELETE", `/api/v1/cases/${caseId}`);
    location.assign("/cases");
  } catch (error) {
    showError(error, $(".error", caseDialog));
  }
});
$("#case-archive").addEventListener("click", async () => {
  const status = page.record.status === "archived" ? "active" : "archived";
  try {
    page.record = await api("PATCH", `/api/v1/cases/${caseId}`, { json: { status } });
    renderHeader();
    flash(t(status === "archived" ? "case.archived" : "case.reopened"));
  } catch (error) {
    showError(error);
  }
});
$("#case-share").addEventListener("click", () => shareDialog.open({ case: caseId }, page.record.patient_ref));

/** A colleague's view of a case shared with them: only what their share allows. */
async function applyShareRole() {
  const record = page.record;
  if (record.owner.kind === "org" || record.created_by === document.body.dataset.user) return;
  const shared = await api("GET", "/api/v1/shared-with-me");
  const item = shared.items.find((i) => i.case === caseId);
  page.role = item ? item.role : "read";
  for (const id of ["#case-edit", "#case-archive", "#case-share", "#tab-shares", "#tab-history"]) $(id).hidden = true;
  document.body.dataset.role = page.role;
}

guarded(async () => {
  const [record, labels] = await Promise.all([api("GET", `/api/v1/cases/${caseId}`), loadLabels()]);
  page.record = record;
  page.labels = labels;
  await applyShareRole();
  renderHeader();
  const wanted = tabs.find((tab) => !tab.hidden && `#${tab.id.replace("tab-", "")}` === location.hash) || tabs[0];
  selectTab(wanted);
});
