// How a share is shown (recipient, target, status) and what its owner can do with it; shared
// by the case's Shares tab and the All shares page.
import { api, h, t, formatDate, showError, flash } from "./app.js";

/** Who the share is for. */
export function recipientOf(grant, colleagues) {
  if (grant.audience === "colleague") {
    const colleague = colleagues?.get(grant.colleague);
    return colleague ? `${colleague.display_name} <${colleague.email}>` : t("shares.a_colleague");
  }
  return grant.recipient_email || t("shares.link_no_email");
}

/** What the share covers. */
export function targetOf(grant) {
  if (grant.file) return t("shares.target_file");
  if (grant.folder) return t("shares.target_folder");
  return t("shares.target_case");
}

/** The status as a badge. */
export function statusBadge(grant) {
  const kind = grant.status === "active" ? "ok" : grant.status === "locked" ? "warn" : "muted";
  return h("span", { class: `badge ${kind}`, dataset: { status: grant.status } }, t(`shares.status_${grant.status}`));
}

/** Downloads used, of the limit. */
export function downloadsOf(grant) {
  return grant.download_limit ? `${grant.downloads} / ${grant.download_limit}` : String(grant.downloads);
}

/** Revokes one share after confirmation; resolves true when revoked. */
export async function revoke(grant) {
  if (!confirm(t("shares.revoke_confirm"))) return false;
  try {
    await api("DELETE", `/api/v1/grants/${grant.id}`);
    flash(t("shares.revoked"));
    return true;
  } catch (error) {
    showError(error);
    return false;
  }
}

/** Unlocks a share locked after wrong passwords. */
export async function unlock(grant) {
  try {
    await api("PATCH", `/api/v1/grants/${grant.id}`, { json: { unlock: true } });
    flash(t("shares.unlocked"));
    return true;
  } catch (error) {
    showError(error);
    return false;
  }
}

/** The expiry cell. */
export function expiryOf(grant) {
  return grant.expires_at ? formatDate(grant.expires_at) : "";
}

/** The known colleagues by user id. */
export async function colleagueMap() {
  try {
    const list = await api("GET", "/api/v1/colleagues");
    return new Map(list.colleagues.map((c) => [c.id, c]));
  } catch {
    return new Map();
  }
}
