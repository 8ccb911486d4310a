// Uploads with progress: small files in one request, large ones with tus so that a dropped
// connection (or a reloaded page, when the same file is chosen again) resumes where it
// stopped instead of starting over.
import { ApiError, csrfToken, errorText, h, t, formatSize } from "./app.js";

/** Files above this size go through tus. */
const RESUMABLE_FROM = 32 * 1024 * 1024;
/** The size of one tus PATCH. */
const CHUNK = 16 * 1024 * 1024;
/** Attempts per chunk before giving up. */
const ATTEMPTS = 6;

function encodeName(text) {
  return encodeURIComponent(text);
}

function base64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Sends one request with upload progress; resolves with the XMLHttpRequest when it answers. */
function send(method, url, headers, body, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (csrfToken()) xhr.setRequestHeader("x-csrf-token", csrfToken());
    xhr.upload.onprogress = (event) => onProgress && onProgress(event.loaded);
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new TypeError("network"));
    xhr.onabort = () => reject(new DOMException("cancelled", "AbortError"));
    if (signal) signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

function refusal(xhr) {
  let code = "";
  let message = "";
  try {
    const json = JSON.parse(xhr.responseText);
    code = json?.error?.code || "";
    message = json?.error?.message || "";
  } catch {
    // Not JSON.
  }
  return new ApiError(xhr.status, code, message);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function resumeKey(file, target) {
  const text = [target.caseId || "link", target.folder || "", target.path || "", file.name, file.size, file.lastModified].join("\n");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return `cv-upload-${Array.from(new Uint8Array(digest).slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

async function headOffset(url) {
  const xhr = await send("HEAD", url, { "tus-resumable": "1.0.0" }, null);
  if (xhr.status !== 200) return null;
  return Number(xhr.getResponseHeader("upload-offset"));
}

async function tusUpload(file, target, onProgress, signal) {
  const key = await resumeKey(file, target);
  let url = localStorage.getItem(key);
  let offset = url ? await headOffset(url).catch(() => null) : null;
  if (offset === null) {
    const metadata = [["filename", file.name]];
    if (target.caseId) metadata.push(["case", target.caseId]);
    if (target.folder) metadata.push(["folder", target.folder]);
    if (target.path) metadata.push(["path", target.path]);
    const xhr = await send("POST", "/api/v1/uploads", {
      "tus-resumable": "1.0.0",
      "upload-length": String(file.size),
      "upload-metadata": metadata.map(([k, v]) => `${k} ${base64(v)}`).join(","),
    }, null, null, signal);
    if (xhr.status !== 201) throw refusal(xhr);
    url = new URL(xhr.getResponseHeader("location"), location.href).pathname;
    localStorage.setItem(key, url);
    offset = 0;
  }
  let failures = 0;
  while (offset < file.size) {
    const end = Math.min(offset + CHUNK, file.size);
    const start = offset;
    try {
      const xhr = await send("PATCH", url, {
        "tus-resumable": "1.0.0",
        "upload-offset": String(start),
        "content-type": "application/offset+octet-stream",
      }, file.slice(start, end), (loaded) => onProgress(start + loaded), signal);
      if (xhr.status === 204) {
        offset = Number(xhr.getResponseHeader("upload-offset"));
        failures = 0;
        if (offset >= file.size) {
          localStorage.removeItem(key);
          return { id: xhr.getResponseHeader("x-file-id"), name: file.name, size: file.size };
        }
        continue;
      }
      if (xhr.status === 409 || xhr.status >= 500) {
        throw new TypeError("retry"); // out of step or a hiccup: ask where we are
      }
      localStorage.removeItem(key);
      throw refusal(xhr);
    } catch (error) {
      if (error instanceof ApiError || (error && error.name === "AbortError")) throw error;
      failures += 1;
      if (failures >= ATTEMPTS) throw error;
      await sleep(500 * 2 ** failures);
      const now = await headOffset(url).catch(() => null);
      if (now === null) {
        localStorage.removeItem(key);
        throw error;
      }
      offset = now;
      onProgress(offset);
    }
  }
  localStorage.removeItem(key);
  return { name: file.name, size: file.size };
}

async function simpleUpload(file, target, onProgress, signal) {
  const url = target.caseId
    ? `/api/v1/cases/${target.caseId}/files${target.folder ? `?folder=${target.folder}` : ""}`
    : "/api/v1/link/files";
  const headers = { "x-file-name": encodeName(file.name), "content-type": "application/octet-stream" };
  if (target.path) headers["x-folder-path"] = encodeName(target.path);
  const xhr = await send("POST", url, headers, file, onProgress, signal);
  if (xhr.status !== 201) throw refusal(xhr);
  return JSON.parse(xhr.responseText);
}

/**
 * Uploads `file` to `target` ({ caseId, folder, path } for a case; { path } through a link)
 * reporting bytes sent to `onProgress`. Resolves with what the server stored.
 */
export function uploadFile(file, target, onProgress = () => {}, signal = undefined) {
  return file.size >= RESUMABLE_FROM
    ? tusUpload(file, target, onProgress, signal)
    : simpleUpload(file, target, onProgress, signal);
}

/** The folder part of a file's path inside a chosen or dropped folder ("" for a plain file). */
export function folderOf(file) {
  const relative = file.relativePath || file.webkitRelativePath || "";
  const slash = relative.lastIndexOf("/");
  return slash > 0 ? relative.slice(0, slash) : "";
}

/** The files of a drop event, folders walked, each with its `relativePath`. */
export async function droppedFiles(dataTransfer) {
  const entries = Array.from(dataTransfer.items || [])
    .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null))
    .filter(Boolean);
  if (entries.length === 0) return Array.from(dataTransfer.files || []);
  const files = [];
  async function walk(entry, prefix) {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      file.relativePath = prefix + file.name;
      files.push(file);
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
      }
    }
  }
  for (const entry of entries) await walk(entry, "");
  return files;
}

/**
 * Uploads `files` one after another into `list` (a <ul>), each with its own progress bar,
 * `overall` (a <progress>, optional) showing the total. `targetOf(file)` gives each file's
 * target. Resolves with [{ file, result } | { file, error }].
 */
export async function uploadAll(files, list, targetOf, overall) {
  const total = files.reduce((sum, f) => sum + f.size, 0) || 1;
  let done = 0;
  const rows = files.map((file) => {
    const bar = h("progress", { max: file.size || 1, value: 0 });
    const status = h("span", { class: "upload-status" }, t("case.upload_waiting"));
    const label = (file.relativePath || file.webkitRelativePath || file.name);
    const item = h("li", { class: "upload" }, h("span", { class: "upload-name" }, label), " ",
      h("span", { class: "hint" }, formatSize(file.size)), bar, status);
    list.append(item);
    return { file, bar, status, item };
  });
  const results = [];
  for (const row of rows) {
    row.status.textContent = "0%";
    const show = (sent) => {
      row.bar.value = sent;
      row.status.textContent = `${Math.floor((sent / (row.file.size || 1)) * 100)}%`;
      if (overall) overall.value = (done + sent) / total;
    };
    try {
      const result = await uploadFile(row.file, targetOf(row.file), show);
      show(row.file.size);
      row.status.textContent = "100%";
      row.item.classList.add("done");
      results.push({ file: row.file, result });
    } catch (error) {
      row.item.classList.add("failed");
      row.status.textContent = errorText(error);
      results.push({ file: row.file, error });
    }
    done += row.file.size;
    if (overall) overall.value = done / total;
  }
  return results;
}
