// The Documents tab: the folder tree, files with kinds, previews, uploads and file actions.
import {
  api, h, t, $, formatSize, formatDateTime, openDialog, showError, clearError, flash, errorText,
} from "./app.js";
import { uploadAll, droppedFiles, folderOf } from "./upload.js";

const ICONS = { photo: "photo", scan: "scan", video: "video", dicom: "dicom", pdf: "pdf", other: "file", folder: "folder" };
const PREVIEWABLE = new Set(["photo", "video", "pdf"]);

function icon(kind) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", `/static/icons.svg#${ICONS[kind] || "file"}`);
  svg.append(use);
  return svg;
}

/** Asks for one value in the prompt dialog; resolves with it, or null when cancelled. */
export function ask(title, label, value = "", options = null) {
  const dialog = $("#prompt-dialog");
  $("#prompt-title").textContent = title;
  $("#prompt-label").textContent = label;
  const input = $("#prompt-input");
  const select = $("#prompt-select");
  input.hidden = Boolean(options);
  select.hidden = !options;
  $("#prompt-label").htmlFor = options ? "prompt-select" : "prompt-input";
  if (options) select.replaceChildren(...options.map(([v, text]) => h("option", { value: v }, text)));
  input.value = value;
  openDialog(dialog);
  (options ? select : input).focus();
  return new Promise((resolve) => {
    const form = $("form", dialog);
    const done = (result) => {
      form.onsubmit = null;
      dialog.onclose = null;
      resolve(result);
    };
    form.onsubmit = (event) => {
      event.preventDefault();
      const result = options ? select.value : input.value.trim();
      dialog.close();
      done(result);
    };
    dialog.onclose = () => done(null);
  });
}

export class Documents {
  constructor(page, shareDialog) {
    this.page = page;
    this.shareDialog = shareDialog;
    this.folder = new URLSearchParams(location.search).get("folder") || null;
    this.tree = { folders: [], files: [] };
    this.wire();
  }

  base() {
    return `/api/v1/cases/${this.page.caseId}`;
  }

  /** Whether the viewer may change files (owner, group member or edit share). */
  canEdit() {
    return this.page.role === "owner" || this.page.role === "edit";
  }

  async load() {
    const role = this.page.role;
    $("#new-folder").hidden = !this.canEdit();
    $("label[for=upload-input]").hidden = role === "read";
    $("#drop-zone").hidden = role === "read";
    if (role === "drop") {
      // A drop share sees nothing of the folder: uploads only.
      for (const id of ["#documents", "#download-zip", "#share-folder", "#folder-path"]) $(id).hidden = true;
      return;
    }
    this.tree = await api("GET", `${this.base()}/tree`);
    if (this.folder && !this.tree.folders.some((f) => f.id === this.folder)) this.folder = null;
    this.render();
  }

  folderPath() {
    const chain = [];
    let current = this.tree.folders.find((f) => f.id === this.folder);
    while (current) {
      chain.unshift(current);
      current = this.tree.folders.find((f) => f.id === current.parent);
    }
    return chain;
  }

  go(folder) {
    this.folder = folder;
    const url = new URL(location.href);
    if (folder) url.searchParams.set("folder", folder);
    else url.searchParams.delete("folder");
    window.history.replaceState(null, "", url);
    this.render();
  }

  render() {
    const crumbs = [h("button", { type: "button", class: "link-button", onclick: () => this.go(null) }, t("case.root"))];
    for (const folder of this.folderPath()) {
      crumbs.push(" / ", h("button", { type: "button", class: "link-button", onclick: () => this.go(folder.id) }, folder.name));
    }
    $("#folder-path").replaceChildren(...crumbs);
    const zip = $("#download-zip");
    zip.href = this.folder ? `${this.base()}/folders/${this.folder}/zip` : `${this.base()}/zip`;
    $("#share-folder").hidden = !this.folder || this.page.role !== "owner";

    const byName = (a, b) => a.name.localeCompare(b.name, undefined, { numeric: true });
    // A share of one folder shows that folder at the top: parents outside it count as none.
    const known = new Set(this.tree.folders.map((f) => f.id));
    const placed = (id) => (id && known.has(id) ? id : null);
    const folders = this.tree.folders.filter((f) => placed(f.parent) === this.folder).sort(byName);
    const files = this.tree.files.filter((f) => placed(f.folder) === this.folder).sort(byName);
    const rows = [...folders.map((f) => this.folderRow(f)), ...files.map((f) => this.fileRow(f))];
    $("#documents tbody").replaceChildren(...rows);
    $("#documents-empty").hidden = rows.length > 0;
  }

  folderRow(folder) {
    return h("tr", { class: "folder", dataset: { folder: folder.id } },
      h("td", {}, icon("folder"), " ", h("button", { type: "button", class: "link-button name", onclick: () => this.go(folder.id) }, folder.name)),
      h("td", {}, t("case.kind_folder")),
      h("td", {}, ""),
      h("td", {}, formatDateTime(folder.created_at)),
      h("td", { class: "row-actions" }, this.canEdit() ? [
        h("button", { type: "button", onclick: () => this.renameFolder(folder) }, t("case.rename")),
        h("button", { type: "button", onclick: () => this.move(folder, true) }, t("case.move")),
        this.page.role === "owner"
          ? h("button", { type: "button", onclick: () => this.shareDialog.open({ case: this.page.caseId, folder: folder.id }, folder.name) }, t("case.share"))
          : null,
        h("button", { type: "button", class: "danger", onclick: () => this.deleteFolder(folder) }, t("case.delete")),
      ] : null),
    );
  }

  fileRow(file) {
    const content = `${this.base()}/files/${file.id}/content`;
    const name = h("span", { class: "name" }, file.name);
    const first = file.kind === "photo"
      ? h("img", { class: "thumb", src: `${content}?inline=true`, alt: "", loading: "lazy" })
      : icon(file.kind);
    return h("tr", { class: "file", dataset: { file: file.id } },
      h("td", {}, first, " ", name),
      h("td", {}, t(`case.kind_${file.kind}`)),
      h("td", { class: "num" }, formatSize(file.size)),
      h("td", {}, formatDateTime(file.created_at)),
      h("td", { class: "row-actions" },
        h("a", { class: "button", href: content, download: file.name }, t("case.download")),
        PREVIEWABLE.has(file.kind)
          ? h("button", { type: "button", onclick: () => this.preview(file, content) }, t("case.preview"))
          : null,
        this.canEdit() ? [
          h("button", { type: "button", onclick: () => this.renameFile(file) }, t("case.rename")),
          h("button", { type: "button", onclick: () => this.move(file, false) }, t("case.move")),
          this.page.role === "owner"
            ? h("button", { type: "button", onclick: () => this.shareDialog.open({ case: this.page.caseId, file: file.id }, file.name) }, t("case.share"))
            : null,
          h("button", { type: "button", class: "danger", onclick: () => this.deleteFile(file) }, t("case.delete")),
        ] : null,
      ),
    );
  }

  preview(file, content) {
    const dialog = $("#preview-dialog");
    $("#preview-title").textContent = file.name;
    const src = `${content}?inline=true`;
    let view;
    if (file.kind === "photo") view = h("img", { src, alt: file.name, class: "preview" });
    else if (file.kind === "video") view = h("video", { src, controls: true, preload: "metadata", class: "preview" });
    else view = h("p", {}, h("a", { href: src, target: "_blank", rel: "noopener" }, t("case.open_pdf")));
    $("#preview-body").replaceChildren(view);
    dialog.onclose = () => $("#preview-body").replaceChildren();
    openDialog(dialog);
  }

  async act(request, done) {
    try {
      await request();
      if (done) flash(done);
      await this.load();
    } catch (error) {
      showError(error);
    }
  }

  async renameFile(file) {
    const name = await ask(t("case.rename"), t("case.new_name"), file.name);
    if (name && name !== file.name) {
      await this.act(() => api("PATCH", `${this.base()}/files/${file.id}`, { json: { name } }));
    }
  }

  async renameFolder(folder) {
    const name = await ask(t("case.rename"), t("case.new_name"), folder.name);
    if (name && name !== folder.name) {
      await this.act(() => api("PATCH", `${this.base()}/folders/${folder.id}`, { json: { name } }));
    }
  }

  async move(item, isFolder) {
    const paths = new Map(this.tree.folders.map((f) => [f.id, f]));
    const pathOf = (folder) => {
      const names = [];
      for (let f = folder; f; f = paths.get(f.parent)) names.unshift(f.name);
      return `/${names.join("/")}`;
    };
    const inside = (folder, ancestor) => {
      for (let f = folder; f; f = paths.get(f.parent)) if (f.id === ancestor) return true;
      return false;
    };
    const choices = [["", "/"], ...this.tree.folders
      .filter((f) => !isFolder || !inside(f, item.id))
      .map((f) => [f.id, pathOf(f)])
      .sort((a, b) => a[1].localeCompare(b[1]))];
    const target = await ask(t("case.move"), t("case.move_to"), "", choices);
    if (target === null) return;
    const to = target || null;
    const url = isFolder ? `${this.base()}/folders/${item.id}` : `${this.base()}/files/${item.id}`;
    await this.act(() => api("PATCH", url, { json: isFolder ? { parent: to } : { folder: to } }));
  }

  async deleteFile(file) {
    if (!confirm(t("case.delete_file_confirm", { name: file.name }))) return;
    await this.act(() => api("DELETE", `${this.base()}/files/${file.id}`), t("case.deleted"));
  }

  async deleteFolder(folder) {
    if (!confirm(t("case.delete_folder_confirm", { name: folder.name }))) return;
    await this.act(() => api("DELETE", `${this.base()}/folders/${folder.id}`), t("case.deleted"));
  }

  async upload(files) {
    if (files.length === 0) return;
    const folder = this.folder;
    const results = await uploadAll(files, $("#upload-list"),
      (file) => ({ caseId: this.page.caseId, folder, path: folderOf(file) }));
    const failed = results.filter((r) => r.error);
    if (failed.length) showError(t("case.uploads_failed", { count: failed.length, reason: errorText(failed[0].error) }));
    await this.load();
  }

  wire() {
    const input = $("#upload-input");
    input.addEventListener("change", () => {
      const files = Array.from(input.files);
      input.value = "";
      this.upload(files);
    });
    const zone = $("#drop-zone");
    for (const target of [zone, document.body]) {
      target.addEventListener("dragover", (event) => {
        event.preventDefault();
        zone.classList.add("over");
      });
      target.addEventListener("dragleave", () => zone.classList.remove("over"));
      target.addEventListener("drop", async (event) => {
        event.preventDefault();
        zone.classList.remove("over");
        this.upload(await droppedFiles(event.dataTransfer));
      });
    }
    $("#new-folder").addEventListener("click", async () => {
      const name = await ask(t("case.new_folder"), t("case.folder_name"));
      if (!name) return;
      await this.act(() => api("POST", `${this.base()}/folders`, { json: { name, parent: this.folder } }));
    });
    $("#share-folder").addEventListener("click", () => {
      const folder = this.tree.folders.find((f) => f.id === this.folder);
      if (folder) this.shareDialog.open({ case: this.page.caseId, folder: folder.id }, folder.name);
    });
    clearError(null);
  }
}
