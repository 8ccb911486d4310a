// What a share link's recipient sees: the password page, then the files to download (read
// and edit links) or the drop page (drop links), and clear pages for links that can no
// longer be used or are locked.
import { api, ApiError, h, t, $, $$, setCsrf, formatSize, formatDate, showError, clearError, errorText } from "./app.js";
import { uploadAll, droppedFiles, folderOf } from "./upload.js";

const token = location.pathname.split("/")[2] || "";
let password = "";

function show(id) {
  for (const section of $$("main > section")) section.hidden = section.id !== id;
}

/** Shows the page that fits a refusal; true when the error was one of those. */
function showRefusal(error) {
  if (!(error instanceof ApiError)) return false;
  if (error.code === "link_locked") {
    show("link-locked");
    return true;
  }
  if (error.code === "link_unavailable" || error.status === 404) {
    show("link-unavailable");
    return true;
  }
  return false;
}

async function unlock(extra = {}) {
  const info = await api("POST", `/api/v1/links/${token}/session`, { json: { password, ...extra } });
  setCsrf(info.csrf_token);
  return info;
}

function fromText(info) {
  const parts = [t("link.from", { name: info.sender })];
  if (info.expires_at) parts.push(t("link.until", { date: formatDate(info.expires_at) }));
  return parts.join(" · ");
}

function showNote(element, note) {
  element.textContent = note;
  element.hidden = !note;
}

async function openDownload(info) {
  show("link-download");
  $("#link-from").textContent = fromText(info);
  showNote($("#link-note"), info.note);
  $("#link-limits").textContent = info.downloads_left === null || info.downloads_left === undefined
    ? ""
    : t("link.downloads_left", { count: info.downloads_left });
  const tree = await api("GET", "/api/v1/link/tree");
  const folders = new Map(tree.folders.map((f) => [f.id, f]));
  const pathOf = (folderId) => {
    const names = [];
    for (let f = folders.get(folderId); f; f = folders.get(f.parent)) names.unshift(f.name);
    return names.length ? `${names.join("/")}/` : "";
  };
  const rows = tree.files
    .map((file) => ({ file, path: pathOf(file.folder) + file.name }))
    .sort((a, b) => a.path.localeCompare(b.path, undefined, { numeric: true }))
    .map(({ file, path }) => h("tr", { dataset: { file: file.id } },
      h("td", { class: "name" }, path),
      h("td", { class: "num" }, formatSize(file.size)),
      h("td", { class: "row-actions" },
        h("a", { class: "button download", href: `/api/v1/link/files/${file.id}/content`, download: file.name }, t("case.download")))));
  $("#link-files tbody").replaceChildren(...rows);
  $("#link-files-empty").hidden = rows.length > 0;
  $("#link-zip").hidden = rows.length === 0;
  $("#link-upload").hidden = info.role !== "edit";
}

/**
 * Before a download starts, checks with HEAD (which never counts as a download) that the
 * link still works, so a revoked or used-up link explains itself instead of failing silently.
 */
document.addEventListener("click", async (event) => {
  const anchor = event.target.closest("a[download]");
  if (!anchor || anchor.dataset.checked === "yes" || !anchor.closest("#link-download")) return;
  event.preventDefault();
  try {
    await api("HEAD", anchor.getAttribute("href"));
    anchor.dataset.checked = "yes";
    anchor.click();
    delete anchor.dataset.checked;
  } catch (error) {
    if (!showRefusal(error)) showError(error);
  }
});

async function openDrop(info) {
  show("link-drop");
  $("#drop-from").textContent = fromText(info);
  showNote($("#drop-note"), info.note);
  const chosen = [];
  const list = $("#drop-list");
  const add = (files) => {
    for (const file of files) {
      chosen.push(file);
      list.append(h("li", { class: "upload queued" }, h("span", { class: "upload-name" }, file.relativePath || file.webkitRelativePath || file.name), " ", h("span", { class: "hint" }, formatSize(file.size))));
    }
  };
  for (const id of ["#drop-files", "#drop-folder"]) {
    const input = $(id);
    input.addEventListener("change", () => {
      add(Array.from(input.files));
      input.value = "";
    });
  }
  const zone = $("#drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    add(await droppedFiles(event.dataTransfer));
  });
  $("#drop-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const errorBox = $(".error", event.target);
    clearError(errorBox);
    const name = $("#drop-name").value.trim();
    const email = $("#drop-email").value.trim();
    if (!name) {
      showError(t("link.name_required"), errorBox);
      return;
    }
    if (chosen.length === 0) {
      showError(t("link.nothing_chosen"), errorBox);
      return;
    }
    $("#drop-send").disabled = true;
    try {
      await unlock(email ? { name, email } : { name });
      list.replaceChildren();
      const files = chosen.splice(0);
      const results = await uploadAll(files, list, (file) => ({ path: folderOf(file) }), $("#drop-overall"));
      const failed = results.filter((r) => r.error);
      if (failed.length) {
        if (failed.some((r) => showRefusal(r.error))) return;
        showError(t("case.uploads_failed", { count: failed.length, reason: errorText(failed[0].error) }), errorBox);
      }
      if (failed.length < results.length) await showReceipt(email);
    } catch (error) {
      if (!showRefusal(error)) showError(error, errorBox);
    } finally {
      $("#drop-send").disabled = false;
    }
  });
}

async function showReceipt(email) {
  const receipt = await api("POST", "/api/v1/link/receipt");
  show("link-receipt");
  $("#receipt-text").textContent = email
    ? t("link.receipt_mailed", { count: receipt.files.length, email })
    : t("link.receipt_text", { count: receipt.files.length });
  $("#receipt-files").replaceChildren(...receipt.files.map((file) => h("li", {},
    h("strong", {}, file.name), ` · ${formatSize(file.size)} · SHA-256 `, h("code", {}, file.sha256))));
}

async function enter() {
  const info = await unlock();
  if (info.role === "drop") await openDrop(info);
  else await openDownload(info);
}

$("#link-password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const errorBox = $(".error", event.target);
  clearError(errorBox);
  password = $("#link-password-input").value;
  try {
    await enter();
  } catch (error) {
    if (error instanceof ApiError && error.code === "invalid_password") {
      showError(t("link.wrong_password"), errorBox);
      $("#link-password-input").select();
    } else if (!showRefusal(error)) {
      showError(error, errorBox);
    }
  }
});

$("#link-leave").addEventListener("click", async () => {
  try {
    await api("POST", "/api/v1/link/logout");
  } catch {
    // Ended already.
  }
  location.reload();
});

$("#link-upload-input").addEventListener("change", async (event) => {
  const files = Array.from(event.target.files);
  event.target.value = "";
  const results = await uploadAll(files, $("#link-upload-list"), (file) => ({ path: folderOf(file) }));
  const failed = results.filter((r) => r.error);
  if (failed.length && !failed.some((r) => showRefusal(r.error))) showError(errorText(failed[0].error));
  if (failed.length < results.length) await enter().catch((error) => showRefusal(error) || showError(error));
});

(async () => {
  try {
    const probe = await api("GET", `/api/v1/links/${token}`);
    if (probe.password_required) {
      show("link-password");
      $("#link-password-input").focus();
    } else {
      await enter();
    }
  } catch (error) {
    if (!showRefusal(error)) {
      show("link-unavailable");
      showError(error);
    }
  }
})();
