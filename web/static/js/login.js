// Sign-in.
import { api, showError, clearError, t, $ } from "./app.js";

/** Where to go after signing in: a path of this site only. */
function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/cases";
}

const form = $("#login-form");
const errorBox = $("#login-error");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError(errorBox);
  const email = $("#email").value.trim();
  const password = $("#password").value;
  if (!email || !password) {
    showError(t("auth.missing_fields"), errorBox);
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api("POST", "/api/v1/auth/login", { json: { email, password } });
    location.assign(nextPath());
  } catch (error) {
    showError(error, errorBox);
    $("#password").select();
  } finally {
    button.disabled = false;
  }
});
