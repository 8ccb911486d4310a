// Accepting an invitation to an organisation: the token stays in the URL fragment, so it
// never reaches a server log.
import { api, showError, clearError, t, $ } from "./app.js";

const token = location.hash.replace(/^#/, "");

async function start() {
  try {
    const info = await api("GET", `/api/v1/invitations/${encodeURIComponent(token)}`);
    $("#invite-text").textContent = t("org.invite_text", { org: info.org, email: info.email });
    $("#invite").hidden = false;
    $("#display-name").focus();
  } catch {
    $("#invite-dead").hidden = false;
  }
}

$("#invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const errorBox = $(".error", event.target);
  clearError(errorBox);
  const password = $("#password").value;
  if (password.length < 12) {
    showError(t("auth.password_hint"), errorBox);
    return;
  }
  try {
    await api("POST", `/api/v1/invitations/${encodeURIComponent(token)}`, {
      json: { display_name: $("#display-name").value.trim(), password },
    });
    history.replaceState(null, "", "/invite");
    location.assign("/org");
  } catch (error) {
    showError(error, errorBox);
  }
});

start();
