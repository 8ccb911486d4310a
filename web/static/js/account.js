// Account: storage used, password, notifications, API tokens, sessions.
import {
  api, guarded, h, t, $, formatDate, quotaText, quotaProgress, showError, clearError, flash, wireCopyButtons,
} from "./app.js";

async function loadQuota() {
  const quotas = await api("GET", "/api/v1/quota");
  $("#quota-text").textContent = quotaText(quotas.user);
  const bar = $("#quota-bar");
  bar.max = Math.max(quotas.user.limit, 1);
  bar.value = Math.min(quotas.user.used, bar.max);
  $("#org-quotas").replaceChildren(...quotas.orgs.map((org) => h("li", {},
    h("span", {}, `${org.name}: ${quotaText(org.quota)}`),
    quotaProgress(org.quota, org.name))));
}

async function loadTokens() {
  const list = await api("GET", "/api/v1/tokens");
  $("#tokens").replaceChildren(...list.map((token) => h("li", {},
    h("strong", {}, token.name), " · ", t("account.token_created", { date: formatDate(token.created_at) }),
    token.last_used ? ` · ${t("account.token_used", { date: formatDate(token.last_used) })}` : "",
    " ",
    h("button", {
      type: "button", class: "danger", onclick: async () => {
        if (!confirm(t("account.revoke_token_confirm", { name: token.name }))) return;
        try {
          await api("DELETE", `/api/v1/tokens/${token.id}`);
          await loadTokens();
        } catch (error) {
          showError(error);
        }
      },
    }, t("account.revoke_token")))));
}

async function loadPreferences() {
  const prefs = await api("GET", "/api/v1/preferences");
  $("#notify-drops").checked = prefs.notify.drops;
  $("#notify-downloads").checked = prefs.notify.downloads;
  $("#notify-expiry").checked = prefs.notify.expiry;
}

$("#password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const errorBox = $(".error", event.target);
  clearError(errorBox);
  const next = $("#new-password").value;
  if (next.length < 12) {
    showError(t("auth.password_hint"), errorBox);
    return;
  }
  try {
    await api("POST", "/api/v1/auth/password", { json: { current: $("#current-password").value, new: next } });
    event.target.reset();
    flash(t("account.password_changed"));
  } catch (error) {
    showError(error, errorBox);
  }
});

$("#notify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const errorBox = $(".error", event.target);
  clearError(errorBox);
  try {
    await api("PATCH", "/api/v1/preferences", {
      json: { notify: { drops: $("#notify-drops").checked, downloads: $("#notify-downloads").checked, expiry: $("#notify-expiry").checked } },
    });
    flash(t("account.saved"));
  } catch (error) {
    showError(error, errorBox);
  }
});

$("#token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const created = await api("POST", "/api/v1/tokens", { json: { name: $("#token-name").value.trim() } });
    $("#token-out").value = created.token;
    $("#token-created").hidden = false;
    event.target.reset();
    await loadTokens();
  } catch (error) {
    showError(error);
  }
});
wireCopyButtons();

$("#sign-out-everywhere").addEventListener("click", async () => {
  if (!confirm(t("account.sign_out_everywhere_confirm"))) return;
  try {
    await api("POST", "/api/v1/auth/logout-all");
  } finally {
    location.assign("/login");
  }
});

guarded(() => Promise.all([loadQuota(), loadTokens(), loadPreferences()]));
