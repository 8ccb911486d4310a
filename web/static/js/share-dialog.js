// The share dialog: role, recipient (external e-mail or colleague), password, expiry,
// limits and note; afterwards the link and password, shown once, with copy buttons.
import {
  api, h, t, $, $$, dateInputValue, dateInputEnd, openDialog, showError, clearError, wireCopyButtons,
} from "./app.js";

const WEEK = 7 * 24 * 60 * 60 * 1000;

export class ShareDialog {
  constructor(onCreated) {
    this.onCreated = onCreated;
    this.dialog = $("#share-dialog");
    this.form = $("#share-form");
    this.target = null;
    this.colleagues = null;
    wireCopyButtons(this.dialog);
    for (const radio of $$("input[name=role], input[name=kind]", this.form)) {
      radio.addEventListener("change", () => this.sync());
    }
    $("#share-patient").addEventListener("change", () => {
      $("#share-limit").value = $("#share-patient").checked ? "1" : "";
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  value(name) {
    return $(`input[name=${name}]:checked`, this.form).value;
  }

  /** Shows only the fields that apply to the chosen role and recipient. */
  sync() {
    const role = this.value("role");
    const kind = this.value("kind");
    for (const part of $$("[data-for]", this.form)) part.hidden = part.dataset.for !== kind;
    const uploads = role !== "read";
        $("#share-cap").hidden = !uploads;
    $("label[for=share-cap]").hidden = !uploads;
    $("#share-cap-hint").hidden = !uploads;
    const downloads = role !== "drop" && kind === "external";
    for (const id of ["share-limit", "share-limit-hint"]) $(`#${id}`).hidden = !downloads;
    $("label[for=share-limit]").hidden = !downloads;
    $("#share-patient").closest("label").hidden = !downloads;
  }

  async loadColleagues() {
    if (this.colleagues) return;
    try {
      const list = await api("GET", "/api/v1/colleagues");
      this.colleagues = list.colleagues;
      $("#share-colleagues").replaceChildren(...this.colleagues.map((c) =>
        h("option", { value: c.email }, c.display_name)));
    } catch {
      this.colleagues = null; // typing an address still works
    }
  }

  /** Opens the dialog for `target` ({ case, folder?, file? }), described by `label`. */
  open(target, label) {
    this.target = target;
    this.form.reset();
    this.form.hidden = false;
    $("#share-created").hidden = true;
    $("#share-target").textContent = label;
    $("#share-expiry").value = dateInputValue(Date.now() + WEEK);
    $("#share-expiry").min = dateInputValue(Date.now());
    $("#share-patient").checked = true;
    $("#share-limit").value = "1";
    this.sync();
    this.loadColleagues();
    openDialog(this.dialog);
  }

  async submit() {
    const errorBox = $(".error", this.form);
    clearError(errorBox);
    const role = this.value("role");
    const kind = this.value("kind");
    const request = {
      ...this.target,
      role,
      expires_at: dateInputEnd($("#share-expiry").value),
      note: $("#share-note").value,
    };
    const cap = Number($("#share-cap").value);
    if (role !== "read" && cap > 0) request.upload_cap = Math.round(cap * 1_000_000);
    if (kind === "colleague") {
      request.colleague = $("#share-colleague").value.trim();
      if (!request.colleague) {
        showError(t("share.colleague_required"), errorBox);
        return;
      }
    } else {
      const email = $("#share-email").value.trim();
      if (email) request.recipient_email = email;
      const password = $("#share-password").value;
      if (password) request.password = password;
      const limit = Number($("#share-limit").value);
      if (role !== "drop" && limit > 0) request.download_limit = limit;
    }
    const button = $("button[type=submit]", this.form);
    button.disabled = true;
    try {
      const created = await api("POST", "/api/v1/grants", { json: request });
      this.showCreated(created, request.password);
      this.onCreated?.();
    } catch (error) {
      showError(error, errorBox);
    } finally {
      button.disabled = false;
    }
  }

  showCreated(created, typedPassword) {
    this.form.hidden = true;
    $("#share-created").hidden = false;
    const text = {
      queued: created.grant.audience === "colleague" ? "share.sent_colleague" : "share.sent_mail",
      off: "share.mail_off",
      no_recipient: "share.no_recipient",
    }[created.mail] || "share.mail_off";
    $("#share-created-text").textContent = t(text);
    const secret = $("#share-secret");
    secret.hidden = !created.link;
    if (created.link) {
      $("#share-link-out").value = created.link;
      $("#share-password-out").value = created.password || typedPassword || "";
    }
    $("[data-close].primary", this.dialog).focus();
  }
}
