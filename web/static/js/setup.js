// First-administrator setup: the token comes in the URL fragment of the console link, so it
// never reaches a server log.
import { api, showError, clearError, t, $ } from "./app.js";

const form = $("#setup-form");
const errorBox = $("#setup-error");
const token = location.hash.replace(/^#/, "");
if (!token) showError(t("auth.setup_no_token"), errorBox);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError(errorBox);
  const password = $("#password").value;
  if (password.length < 12) {
    showError(t("auth.password_hint"), errorBox);
    return;
  }
  try {
    await api("POST", "/api/v1/setup", {
      json: {
        token,
        email: $("#email").value.trim(),
        display_name: $("#display-name").value.trim(),
        password,
      },
    });
    history.replaceState(null, "", "/setup");
    location.assign("/cases");
  } catch (error) {
    showError(error, errorBox);
  }
});
