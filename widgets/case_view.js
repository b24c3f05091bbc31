// The browser side of teachingfiles.widgets.case_view.CasePanel: the case card.
//
// Unknown mode shows the history and a Reveal button; the findings, category and
// reasoning, readers' calls, teaching points and references arrive from the
// kernel only when the learner reveals. Plain ES module, nothing fetched.

/**
 * The synced traits (mirrors CasePanel in teachingfiles/widgets/case_view.py).
 * @typedef {Object} Model
 * @property {Object<string, any>} case  unknown_view() before the reveal, revealed_view() after
 * @property {boolean} revealed
 * @property {number} key_count
 * @property {number} key_index
 * @property {string} error
 */

/** @param {string} tag @param {string} [cls] @param {HTMLElement} [parent] @param {string} [text] */
function h(tag, cls, parent, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

const CATEGORY_TEXT = {
  typical: "Typical appearance",
  indeterminate: "Indeterminate appearance",
  atypical: "Atypical appearance",
  negative: "Negative for pneumonia",
};

/**
 * The readers' calls: "Reader 1: typical" ..., the adjudicator marked, the MD.ai
 * id on hover, and the agreement in words ("2 of 3 readers said typical").
 * (Mirrors readersBlock in quiz_view.js: each widget's module stands alone.)
 * @param {HTMLElement} parent @param {{agreement?: string, calls?: any[], adjudication?: any}} reads
 */
function readersBlock(parent, reads) {
  const box = h("div", "tfq-readers", parent);
  const agreement = reads.agreement || "";
  h("div", "tfq-agreement", box, agreement.charAt(0).toUpperCase() + agreement.slice(1));
  const list = h("ul", "tfq-reader-list", box);
  const item = (c, adjudicator) => {
    const li = h("li", `tfq-reader${adjudicator ? " tfq-adjudicator" : ""}`, list);
    h("span", "tfq-reader-name", li, adjudicator ? "Adjudicator" : c.reader);
    h("span", "tfq-reader-call", li, [c.appearance, c.severity].filter(Boolean).join(", ") || "no call");
    if (c.reader_id) li.title = `MD.ai user ${c.reader_id}`;
  };
  for (const c of reads.calls || []) item(c, false);
  if (reads.adjudication) item(reads.adjudication, true);
  return box;
}

/** @param {HTMLElement} parent @param {string} label @param {string|undefined} text */
function section(parent, label, text) {
  if (!text) return null;
  const box = h("div", "tfc-section", parent);
  h("div", "tfq-label", box, label);
  h("p", "", box, text);
  return box;
}

/** @param {{model: any, el: HTMLElement}} ctx */
function render({ model, el }) {
  /** @template {keyof Model} K @param {K} k @returns {Model[K]} */
  const get = (k) => model.get(k);
  const root = h("div", "tfc", el);
  root.tabIndex = -1;
  root.setAttribute("role", "region");
  root.setAttribute("aria-label", "teaching case");

  function keyButtons(parent) {
    const n = get("key_count");
    if (n < 2) return;
    const row = h("div", "tfc-keys", parent);
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", "key images");
    for (let k = 0; k < n; k++) {
      const b = /** @type {HTMLButtonElement} */ (h("button", "tfq-btn tfq-secondary", row, `Image ${k + 1}`));
      b.type = "button";
      b.setAttribute("aria-pressed", String(k === get("key_index")));
      b.addEventListener("click", () => model.send({ type: "key", index: k }));
    }
  }

  function revealedPart(parent, c) {
    h("div", "tfc-title", parent, c.title || "");
    const key = (c.key_images || [])[get("key_index")];
    if (key && key.caption) section(parent, get("key_count") > 1 ? `Key image ${get("key_index") + 1}` : "Key image", key.caption);
    section(parent, "Findings", c.findings);
    if (c.category || c.diagnosis) {
      const box = h("div", "tfc-section", parent);
      h("div", "tfq-label", box, "Diagnosis");
      const p = h("p", "tfc-category", box, c.diagnosis || CATEGORY_TEXT[c.category] || c.category);
      if (c.severity) p.textContent += ` (${c.severity})`;
      if (c.reasoning) h("p", "", box, c.reasoning);
    }
    if (c.reads && (c.reads.calls || []).length) {
      const box = h("div", "tfc-section", parent);
      h("div", "tfq-label", box, "Readers' calls");
      readersBlock(box, c.reads);
    } else if (c.reads_text) section(parent, "Readers' calls", c.reads_text);
    if (c.differential && c.differential.length) section(parent, "Differential", c.differential.join("; "));
    section(parent, "Discussion", c.discussion);
    if (c.teaching_points && c.teaching_points.length) {
      const box = h("div", "tfc-section", parent);
      h("div", "tfq-label", box, "Teaching points");
      const ul = h("ul", "tfq-points", box);
      for (const t of c.teaching_points) h("li", "", ul, t);
    }
    if (c.references && c.references.length) {
      const box = h("div", "tfc-section", parent);
      h("div", "tfq-label", box, "References");
      const ol = h("ol", "tfc-refs", box);
      for (const r of c.references) {
        const li = h("li", "", ol, r.citation);
        if (r.doi) li.textContent += ` doi:${r.doi}`;
      }
    }
  }

  function draw() {
    const c = get("case");
    const hadFocus = root.contains(document.activeElement);
    root.replaceChildren();
    root.dataset.revealed = String(get("revealed"));
    if (c.synthetic) h("span", "tfq-badge tfq-synthetic", root, "Synthetic case");
    section(root, "Clinical history", c.history || "No history is given with this image.");
    if (c.source) h("p", "tfq-source", root, c.source);
    keyButtons(root);
    if (get("revealed")) {
      revealedPart(h("div", "tfc-answer", root), c);
    } else {
      h("div", "tfc-hidden", root, "Look at the images and make your call, then reveal the answer.");
      const actions = h("div", "tfq-actions", root);
      const b = /** @type {HTMLButtonElement} */ (h("button", "tfq-btn tfq-primary tfc-reveal", actions, "Reveal the answer"));
      b.type = "button";
      b.addEventListener("click", () => {
        b.disabled = true;
        model.send({ type: "reveal" });
      });
    }
    if (get("error")) h("div", "tfq-error", root, get("error")).setAttribute("role", "alert");
    if (hadFocus) root.focus({ preventScroll: true });
  }

  const names = ["case", "revealed", "key_count", "key_index", "error"];
  for (const name of names) model.on(`change:${name}`, draw);
  draw();
  const stopGreeting = greet(model); // the whole state again (_resync.js)
  return () => {
    stopGreeting();
    for (const name of names) model.off(`change:${name}`, draw);
  };
}

export default { render };
