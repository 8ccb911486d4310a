// Shared by every page: messages, the API client, readable errors, formatting and small DOM
// helpers. Every user-provided string reaches the page through textContent, never as HTML.

const body = document.body;
const messages = JSON.parse(body.dataset.messages || "{}");
export const lang = body.dataset.lang || "en";
let csrf = body.dataset.csrf || "";

/** Uses `token` as the X-CSRF-Token from now on (after a sign-in or a link unlock). */
export function setCsrf(token) {
  csrf = token || "";
}

/** The message `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars) {
  let text = messages[key] ?? key;
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
  }
  return text;
}

/** An API refusal: the HTTP status, the stable error code and a sentence for the user. */
export class ApiError extends Error {
  constructor(status, code, serverMessage) {
    super(serverMessage || code || String(status));
    this.status = status;
    this.code = code;
    this.serverMessage = serverMessage;
  }
}

/** A sentence for the user about `error` (an ApiError, a network failure or anything else). */
export function errorText(error) {
  if (error instanceof ApiError) {
    const key = `errors.${error.code}`;
    if (error.code && key in messages) {
      // These codes carry a specific sentence from the server (in English) worth adding.
      const detailed = ["bad_request", "conflict", "precondition_failed", "unsupported_media_type"];
      return detailed.includes(error.code) && error.serverMessage
        ? `${t(key)} ${error.serverMessage}`
        : t(key);
    }
    if (error.status === 429) return t("errors.too_many_requests");
    if (error.status >= 500) return t("errors.server");
    // An English sentence from the server is better than nothing.
    if (error.serverMessage) return error.serverMessage;
    return t("errors.unknown", { status: error.status });
  }
  if (error && error.name === "AbortError") return t("errors.cancelled");
  return t("errors.network");
}

async function refusal(response) {
  let code = "";
  let message = "";
  try {
    const json = await response.json();
    code = json?.error?.code || "";
    message = json?.error?.message || "";
  } catch {
    // Not JSON: the status alone says what happened.
  }
  return new ApiError(response.status, code, message);
}

/**
 * Calls the API: `api("POST", "/api/v1/cases", { json: {...} })`. Returns the parsed JSON
 * (or null for 204), throws an ApiError for any refusal.
 */
export async function api(method, path, options = {}) {
  const headers = new Headers(options.headers || {});
  let requestBody = options.body;
  if (options.json !== undefined) {
    headers.set("content-type", "application/json");
    requestBody = JSON.stringify(options.json);
  }
  if (method !== "GET" && method !== "HEAD" && csrf) headers.set("x-csrf-token", csrf);
  const response = await fetch(path, {
    method,
    headers,
    body: requestBody,
    credentials: "same-origin",
    signal: options.signal,
  });
  if (!response.ok) throw await refusal(response);
  if (response.status === 204 || method === "HEAD") return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** The CSRF header for a request made without `api` (XMLHttpRequest uploads). */
export function csrfToken() {
  return csrf;
}

/** Creates an element: `h("a", { href: "/x", class: "button" }, "text", child)`. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** `document.querySelector`. */
export const $ = (selector, root = document) => root.querySelector(selector);
/** `document.querySelectorAll` as an array. */
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

const flashBox = document.getElementById("flash");
let flashTimer = 0;

/** Shows a message at the top of the page (`kind`: "error" or "info"). */
export function flash(text, kind = "info") {
  if (!flashBox) return;
  flashBox.textContent = text;
  flashBox.dataset.kind = kind;
  flashBox.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => (flashBox.hidden = true), kind === "error" ? 12000 : 6000);
}

/** Shows `error` as a sentence in `box` (or at the top of the page). */
export function showError(error, box) {
  const text = typeof error === "string" ? error : errorText(error);
  if (box) {
    box.textContent = text;
    box.hidden = false;
  } else {
    flash(text, "error");
  }
}

/** Hides the error box of a form. */
export function clearError(box) {
  if (box) {
    box.textContent = "";
    box.hidden = true;
  }
}

const units = ["B", "KB", "MB", "GB", "TB"];

/** A byte count for people: "1.5 MB". */
export function formatSize(bytes) {
  let value = Number(bytes) || 0;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toLocaleString(lang, { maximumFractionDigits: digits })} ${units[unit]}`;
}

/** "1.2 GB of 50 GB used" for a quota from the API. */
export function quotaText(quota) {
  return t("account.quota_used", { used: formatSize(quota.used), limit: formatSize(quota.limit) });
}

/** A `<progress>` of a quota's use, labelled `label`. */
export function quotaProgress(quota, label) {
  const limit = Math.max(quota.limit, 1);
  return h("progress", { max: limit, value: Math.min(quota.used, limit), "aria-label": label });
}

/** A date (milliseconds since the epoch) in the page's language. */
export function formatDate(ms) {
  if (ms === null || ms === undefined) return "";
  return new Date(ms).toLocaleDateString(lang, { year: "numeric", month: "short", day: "numeric" });
}

/** A date and time in the page's language. */
export function formatDateTime(ms) {
  if (ms === null || ms === undefined) return "";
  return new Date(ms).toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
}

/** The value of an `<input type=date>` for `ms`, in local time. */
export function dateInputValue(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The end of the local day an `<input type=date>` names, in milliseconds; null if empty. */
export function dateInputEnd(value) {
  if (!value) return null;
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d, 23, 59, 59).getTime();
}

/** Opens a `<dialog>`; its `[data-close]` buttons close it. */
export function openDialog(dialog) {
  for (const button of $$("[data-close]", dialog)) {
    button.onclick = () => dialog.close();
  }
  for (const box of $$(".error", dialog)) clearError(box);
  dialog.showModal();
}

/** Wires `[data-copy=<input id>]` buttons to copy their input's value. */
export function wireCopyButtons(root = document) {
  for (const button of $$("[data-copy]", root)) {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
        flash(t("common.copied"));
      } catch {
        // Clipboard refused (insecure context, permissions): the text stays selected.
      }
    });
  }
}

/** Sends the user to the sign-in page, coming back here afterwards. */
export function toSignIn() {
  const next = location.pathname + location.search + location.hash;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

/** Runs `load` and turns a lost session (401) into the sign-in page. */
export async function guarded(load) {
  try {
    await load();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) toSignIn();
    else showError(error);
  }
}

function wireSignOut() {
  const button = document.getElementById("sign-out");
  if (!button) return;
  button.addEventListener("click", async () => {
    try {
      await api("POST", "/api/v1/auth/logout");
    } catch {
      // Signed out already, or the server is unreachable: the sign-in page says which.
    }
    location.assign("/login");
  });
}

wireSignOut();
