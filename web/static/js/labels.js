// The owner's label names and colours (their preferences), and how labels are shown.
import { api, h, t } from "./app.js";

/** The signed-in user's labels: [{ id, name, colour }]. */
export async function loadLabels() {
  const prefs = await api("GET", "/api/v1/preferences");
  return prefs.labels;
}

/** Saves `labels` and returns them as stored. */
export async function saveLabels(labels) {
  const prefs = await api("PATCH", "/api/v1/preferences", { json: { labels } });
  return prefs.labels;
}

/** Coloured chips for the label ids `ids`. */
export function labelChips(labels, ids) {
  return labels
    .filter((label) => ids.includes(label.id))
    .map((label) => {
      const chip = h("span", { class: "label-chip" }, label.name);
      // A CSSOM property, which the style-src policy allows (an inline style attribute it would not).
      chip.style.setProperty("--label-colour", label.colour);
      return chip;
    });
}

/** Fills `fieldset` with one checkbox per label, `checked` ids ticked. */
export function labelCheckboxes(fieldset, labels, checked) {
  const legend = fieldset.querySelector("legend");
  const boxes = labels.map((label) => h("label", { class: "choice" },
    h("input", { type: "checkbox", value: label.id, checked: checked.includes(label.id) }),
    " ", labelChips(labels, [label.id])));
  fieldset.replaceChildren(legend, ...(boxes.length ? boxes : [h("p", { class: "hint" }, t("cases.no_labels"))]));
}

/** The label ids ticked in `fieldset`. */
export function checkedLabels(fieldset) {
  return Array.from(fieldset.querySelectorAll("input[type=checkbox]:checked")).map((box) => Number(box.value));
}
