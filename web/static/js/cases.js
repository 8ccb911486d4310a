// The dashboard: the practice's cases with sort, filters, quick categories and search.
import {
  api, guarded, h, t, $, $$, formatDate, dateInputEnd, openDialog, showError, clearError, lang,
} from "./app.js";
import { loadLabels, saveLabels, labelChips, labelCheckboxes, checkedLabels } from "./labels.js";

const DAY = 24 * 60 * 60 * 1000;
const SOON = 91 * DAY; // "expires soon": within three months
const LATER = 182 * DAY; // highlighted: within six months

const state = { cases: [], shares: new Map(), labels: [], category: "all", sort: "created", desc: true };

/** How close a case's expiry is: "", "later" (3–6 months), "soon" (< 3 months) or "expired". */
export function expiryClass(expiresAt, now = Date.now()) {
  if (expiresAt === null || expiresAt === undefined) return "";
  const left = expiresAt - now;
  if (left <= 0) return "expired";
  if (left <= SOON) return "soon";
  if (left <= LATER) return "later";
  return "";
}

function inCategory(item, category) {
  switch (category) {
    case "action":
      return item.status === "active" && ["soon", "expired"].includes(expiryClass(item.expires_at));
    case "progress":
      return item.status === "active";
    case "archive":
      return item.status === "archived";
    default:
      return true;
  }
}

const collator = new Intl.Collator(lang, { numeric: true, sensitivity: "base" });

function sortKey(item, column) {
  switch (column) {
    case "label": {
      const first = state.labels.find((l) => item.labels.includes(l.id));
      return first ? first.name : "";
    }
    case "number": return item.title;
    case "patient": return item.patient_ref;
    case "created": return item.created_at;
    case "status": return t(`cases.status_${item.status}`);
    case "shares": return state.shares.get(item.id) || 0;
    case "expiry": return item.expires_at ?? Number.MAX_SAFE_INTEGER;
    case "comments": return item.comments;
    default: return "";
  }
}

function compare(a, b) {
  const x = sortKey(a, state.sort);
  const y = sortKey(b, state.sort);
  const order = typeof x === "number" && typeof y === "number" ? x - y : collator.compare(String(x), String(y));
  return state.desc ? -order : order;
}

function expiryCell(item) {
  const kind = expiryClass(item.expires_at);
  const cell = h("td", { class: kind ? `expiry expiry-${kind}` : "expiry" });
  if (item.expires_at === null || item.expires_at === undefined) return cell;
  cell.append(h("time", { datetime: new Date(item.expires_at).toISOString() }, formatDate(item.expires_at)));
  if (kind === "soon") cell.append(" ", h("span", { class: "badge warn" }, t("cases.expires_soon")));
  if (kind === "expired") cell.append(" ", h("span", { class: "badge muted" }, t("cases.expired")));
  return cell;
}

function row(item) {
  const href = `/cases/${item.id}`;
  return h("tr", { dataset: { case: item.id } },
    h("td", {}, labelChips(state.labels, item.labels)),
    h("td", { class: "case-number" }, item.title),
    h("td", { class: "patient" }, h("a", { href }, item.patient_ref)),
    h("td", {}, formatDate(item.created_at)),
    h("td", {}, h("span", { class: `status status-${item.status}` }, t(`cases.status_${item.status}`))),
    h("td", { class: "num" }, String(state.shares.get(item.id) || 0)),
    expiryCell(item),
    h("td", { class: "comments" }, item.comments),
  );
}

function render() {
  const query = $("#case-search").value.trim().toLocaleLowerCase(lang);
  const status = $("#status-filter").value;
  for (const category of ["all", "action", "progress", "archive"]) {
    const count = state.cases.filter((c) => inCategory(c, category)).length;
    $(`[data-count="${category}"]`).textContent = `(${count})`;
  }
  const shown = state.cases
    .filter((c) => inCategory(c, state.category))
    .filter((c) => !status || c.status === status)
    .filter((c) => !query || c.patient_ref.toLocaleLowerCase(lang).includes(query)
      || c.title.toLocaleLowerCase(lang).includes(query))
    .sort(compare);
  $("#cases-table tbody").replaceChildren(...shown.map(row));
  $("#cases-empty").hidden = shown.length > 0;
  for (const th of $$("#cases-table th[data-sort]")) {
    if (th.dataset.sort === state.sort) th.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
    else th.removeAttribute("aria-sort");
  }
}

async function load() {
  const [cases, grants, labels, shared] = await Promise.all([
    api("GET", "/api/v1/cases"),
    api("GET", "/api/v1/grants?status=active"),
    loadLabels(),
    api("GET", "/api/v1/shared-with-me"),
  ]);
  state.cases = cases.cases;
  state.labels = labels;
  state.shares = new Map();
  for (const grant of grants.grants) state.shares.set(grant.case, (state.shares.get(grant.case) || 0) + 1);
  render();
  renderShared(shared.items);
}

function renderShared(items) {
  const section = $("#shared-with-me");
  section.hidden = items.length === 0;
  $("ul", section).replaceChildren(...items.map((item) => h("li", {},
    h("a", { href: `/cases/${item.case}` }, item.patient_ref),
    item.title ? ` — ${item.title}` : "",
    " · ", t(`share.role_${item.role}`),
    " · ", t("cases.shared_by", { name: item.owner_name }),
    item.expires_at ? ` · ${t("cases.until", { date: formatDate(item.expires_at) })}` : "",
  )));
}

for (const button of $$("[data-category]")) {
  button.addEventListener("click", () => {
    state.category = button.dataset.category;
    for (const other of $$("[data-category]")) other.setAttribute("aria-pressed", String(other === button));
    render();
  });
}
for (const th of $$("#cases-table th[data-sort]")) {
  $("button", th).addEventListener("click", () => {
    const column = th.dataset.sort;
    state.desc = state.sort === column ? !state.desc : false;
    state.sort = column;
    render();
  });
}
$("#case-search").addEventListener("input", render);
$("#status-filter").addEventListener("change", render);

// New case.
const caseDialog = $("#case-dialog");
$("#new-case").addEventListener("click", async () => {
  $("#case-form").reset();
  labelCheckboxes($("#case-labels"), state.labels, []);
  try {
    const quota = await api("GET", "/api/v1/quota");
    const select = $("#case-org");
    select.replaceChildren(select.options[0], ...quota.orgs.map((o) => h("option", { value: o.id }, o.name)));
  } catch {
    // Personal cases only, then.
  }
  openDialog(caseDialog);
});
$("#case-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const errorBox = $(".error", caseDialog);
  clearError(errorBox);
  const patient = $("#case-patient").value.trim();
  if (!patient) {
    showError(t("cases.patient_required"), errorBox);
    return;
  }
  try {
    const created = await api("POST", "/api/v1/cases", {
      json: {
        patient_ref: patient,
        title: $("#case-number").value.trim(),
        comments: $("#case-comments").value,
        labels: checkedLabels($("#case-labels")),
        expires_at: dateInputEnd($("#case-expiry").value),
        org_id: $("#case-org").value || null,
      },
    });
    caseDialog.close();
    location.assign(`/cases/${created.id}`);
  } catch (error) {
    showError(error, errorBox);
  }
});

// Label names and colours.
const labelsDialog = $("#labels-dialog");
function labelRow(label) {
  return h("div", { class: "label-row", dataset: { id: label.id } },
    h("input", { type: "color", value: label.colour, "aria-label": t("cases.label_colour") }),
    h("input", { type: "text", value: label.name, maxlength: 40, "aria-label": t("cases.label_name") }),
    h("button", { type: "button", class: "link-button", onclick: (e) => e.target.closest(".label-row").remove() }, t("common.remove")),
  );
}
$("#edit-labels").addEventListener("click", () => {
  $("#label-rows").replaceChildren(...state.labels.map(labelRow));
  openDialog(labelsDialog);
});
$("#add-label").addEventListener("click", () => {
  const used = $$(".label-row", labelsDialog).map((r) => Number(r.dataset.id));
  const id = Math.max(0, ...used, ...state.labels.map((l) => l.id)) + 1;
  $("#label-rows").append(labelRow({ id, name: "", colour: "#2f6fdf" }));
});
$("#labels-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const errorBox = $(".error", labelsDialog);
  const labels = $$(".label-row", labelsDialog)
    .map((r) => ({ id: Number(r.dataset.id), colour: $("input[type=color]", r).value, name: $("input[type=text]", r).value.trim() }))
    .filter((l) => l.name);
  try {
    state.labels = await saveLabels(labels);
    labelsDialog.close();
    render();
  } catch (error) {
    showError(error, errorBox);
  }
});

guarded(load);
