// The Shares tab: this case's shares, with revoke and unlock.
import { api, h, t, $ } from "./app.js";
import { recipientOf, targetOf, statusBadge, downloadsOf, expiryOf, revoke, unlock, colleagueMap } from "./grants.js";

export class CaseShares {
  constructor(page, shareDialog) {
    this.page = page;
    this.shareDialog = shareDialog;
  }

  async load() {
    const [list, colleagues] = await Promise.all([
      api("GET", `/api/v1/grants?case=${this.page.caseId}`),
      colleagueMap(),
    ]);
    const rows = list.grants.map((grant) => h("tr", { dataset: { grant: grant.id } },
      h("td", {}, recipientOf(grant, colleagues)),
      h("td", {}, targetOf(grant)),
      h("td", {}, t(`share.role_${grant.role}`)),
      h("td", {}, statusBadge(grant)),
      h("td", {}, expiryOf(grant)),
      h("td", { class: "num" }, downloadsOf(grant)),
      h("td", { class: "row-actions" },
        grant.status === "locked"
          ? h("button", { type: "button", onclick: async () => (await unlock(grant)) && this.load() }, t("shares.unlock"))
          : null,
        grant.status !== "revoked"
          ? h("button", { type: "button", class: "danger", onclick: async () => (await revoke(grant)) && this.load() }, t("shares.revoke"))
          : null,
      ),
    ));
    $("#case-shares tbody").replaceChildren(...rows);
    $("#case-shares-empty").hidden = rows.length > 0;
  }
}
