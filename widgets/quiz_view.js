// The browser side of teachingfiles.widgets.quiz_view.QuizPanel: the question card.
//
// It shows what Python put in the model (the public view of a question, and after
// the answer is committed, the feedback) and sends the learner's actions back as
// custom messages: submit, next, finish, retry, clear_mark. Scoring happens in the
// kernel; this file never sees an answer key. Plain ES module, nothing fetched.
//
// Keys (when the card has focus): 1-9 pick a choice, Enter submits or goes on,
// N goes to the next question after feedback.
//
// Exam time limit: the kernel sends the seconds left (time_left) whenever it
// updates the card; the page counts down from there every second on its own
// (no kernel round trip), says so politely at 5 and 1 minute left, and when it
// reaches zero asks the kernel, whose clock decides ("time_up").

/**
 * The synced traits (mirrors QuizPanel in teachingfiles/widgets/quiz_view.py).
 * @typedef {Object} Model
 * @property {string} title  the teaching set's title
 * @property {"practice"|"exam"} mode
 * @property {"question"|"feedback"|"summary"} stage
 * @property {{id?: string, kind?: string, prompt?: string, choices?: {id: string, text: string}[],
 *   case?: {synthetic: boolean, source: string, history: string}|null}} question
 * @property {{answered?: number, total?: number, index?: number, number?: number, score?: number}} progress
 * @property {boolean} has_image
 * @property {{x?: number, y?: number, slice?: number, width?: number, height?: number}} mark
 * @property {Object<string, any>} feedback
 * @property {string} notice
 * @property {Object<string, any>} summary
 * @property {string} chart  PNG data URL
 * @property {Object<string, any>[]} review
 * @property {boolean} can_retry
 * @property {string} review_open  the reviewed question shown in the viewer
 * @property {number|null} time_limit  exam: seconds allowed
 * @property {number|null} time_left  exam: seconds left when the kernel last said
 * @property {string} error
 */

const CATEGORY_TEXT = {
  typical: "Typical appearance",
  indeterminate: "Indeterminate appearance",
  atypical: "Atypical appearance",
  negative: "Negative for pneumonia",
  mild: "Mild",
  moderate: "Moderate",
  severe: "Severe",
};

const INSTRUCTIONS = {
  single_best: "Choose the single best answer.",
  multiple: "Choose every answer that applies.",
  category: "Choose one of the four RSNA categories.",
  severity: "Grade the airspace disease.",
  free_text: "Type your answer.",
  click: "Scroll to the slice, then click on the finding in the image.",
  box: "Scroll to the slice, then drag a box around the finding in the image.",
};

/** @param {string} tag @param {string} [cls] @param {HTMLElement} [parent] @param {string} [text] */
function h(tag, cls, parent, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

/** @param {HTMLElement} parent @param {string} text @param {string} cls @param {() => void} onClick */
function button(parent, text, cls, onClick) {
  const b = /** @type {HTMLButtonElement} */ (h("button", `tfq-btn ${cls}`, parent, text));
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

/** Seconds as m:ss (or h:mm:ss). @param {number} seconds */
function clock(seconds) {
  const t = Math.max(0, Math.ceil(seconds));
  const hh = Math.floor(t / 3600);
  const mm = Math.floor((t % 3600) / 60);
  const ss = String(t % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

const capital = (text) => (text ? text.charAt(0).toUpperCase() + text.slice(1) : "");

/** The call of one reader: "typical, moderate". */
function callText(c) {
  return [c.appearance, c.severity].filter(Boolean).join(", ") || "no call";
}

/**
 * The readers' calls: "Reader 1: typical" ..., the adjudicator marked, the MD.ai
 * id on hover, and the agreement in words ("2 of 3 readers said typical").
 * @param {HTMLElement} parent @param {{agreement?: string, calls?: any[], adjudication?: any}} reads
 */
function readersBlock(parent, reads) {
  const box = h("div", "tfq-readers", parent);
  h("div", "tfq-agreement", box, capital(reads.agreement || ""));
  const list = h("ul", "tfq-reader-list", box);
  const item = (c, adjudicator) => {
    const li = h("li", `tfq-reader${adjudicator ? " tfq-adjudicator" : ""}`, list);
    h("span", "tfq-reader-name", li, adjudicator ? "Adjudicator" : c.reader);
    h("span", "tfq-reader-call", li, callText(c));
    if (c.reader_id) li.title = `MD.ai user ${c.reader_id}`;
  };
  for (const c of reads.calls || []) item(c, false);
  if (reads.adjudication) item(reads.adjudication, true);
  return box;
}

const num = (v) => (Number.isFinite(v) ? String(Math.round(v * 10) / 10) : "-");

/** Describe an answer as sent back in the feedback (text, letters, a mark). */
function describe(answer) {
  if (answer === null || answer === undefined || answer === "") return "(none)";
  if (Array.isArray(answer)) return answer.length ? answer.map(describe).join("; ") : "(none)";
  if (typeof answer === "object") {
    const where = `slice ${Math.round(answer.slice) + 1}`;
    if (answer.width !== undefined) {
      return `box on ${where}, ${num(answer.width)} x ${num(answer.height)} px`;
    }
    return `click on ${where} at (${num(answer.x)}, ${num(answer.y)})`;
  }
  return CATEGORY_TEXT[String(answer)] || String(answer);
}

/** @param {{model: any, el: HTMLElement}} ctx */
function render({ model, el }) {
  /** @template {keyof Model} K @param {K} k @returns {Model[K]} */
  const get = (k) => model.get(k);
  const root = h("div", "tfq", el);
  root.tabIndex = -1;
  root.setAttribute("role", "region");
  root.setAttribute("aria-label", "quiz question");
  /** the learner's unsent choices, per question id (kept across re-renders) */
  const drafts = new Map();
  let busy = false;
  let confirmFinish = false;
  let lastKey = "";

  const send = (content) => {
    busy = true;
    draw();
    model.send(content);
  };
  const draft = () => {
    const id = get("question").id || "";
    if (!drafts.has(id)) drafts.set(id, get("question").kind === "multiple" ? [] : "");
    return drafts.get(id);
  };
  const setDraft = (value) => drafts.set(get("question").id || "", value);

  function ready() {
    const q = get("question");
    if (q.kind === "click" || q.kind === "box") return get("mark").slice !== undefined;
    const d = draft();
    return Array.isArray(d) ? d.length > 0 : String(d).trim() !== "";
  }

  function submit() {
    if (busy || !ready()) return;
    const q = get("question");
    const d = draft();
    const answer = q.kind === "click" || q.kind === "box" ? null : q.kind === "free_text" ? String(d).trim() : d;
    send({ type: "submit", answer });
  }

  // ------------------------------------------------------------------ parts
  function header(parent) {
    const p = get("progress");
    const top = h("div", "tfq-header", parent);
    const left = h("div", "tfq-heading", top);
    h("div", "tfq-title", left, get("title"));
    const total = p.total || 0;
    const shown = p.number || Math.min((p.index || 0) + 1, total);
    const counter = h("div", "tfq-counter", left,
      get("stage") === "summary" ? `${p.answered || 0} of ${total} answered` : `Question ${shown} of ${total}`);
    counter.setAttribute("aria-live", "polite");
    const right = h("div", "tfq-header-right", top);
    const badge = h("span", `tfq-badge tfq-${get("mode")}`, right, get("mode") === "exam" ? "Exam" : "Practice");
    badge.title = get("mode") === "exam" ? "Feedback at the end" : "Feedback after each answer";
    if (get("time_left") !== null && get("time_left") !== undefined && get("stage") !== "summary") {
      const timer = h("div", "tfq-timer", right);
      timer.setAttribute("role", "timer");
      timer.setAttribute("aria-label", "time left");
      paintTimer(timer);
    }
    const bar = /** @type {HTMLProgressElement} */ (h("progress", "tfq-progress", parent));
    bar.max = Math.max(total, 1);
    bar.value = p.answered || 0;
    bar.setAttribute("aria-label", `${p.answered || 0} of ${total} answered`);
    if (get("mode") === "practice" && get("stage") !== "summary" && p.score !== undefined && (p.answered || 0) > 0) {
      const n = p.answered;
      h("div", "tfq-score-line", parent, `Score so far: ${num(p.score)} point${p.score === 1 ? "" : "s"} from ${n} answer${n === 1 ? "" : "s"}`);
    }
  }

  function caseBlock(parent, c) {
    if (!c) return;
    const box = h("div", "tfq-case", parent);
    if (c.synthetic) h("span", "tfq-badge tfq-synthetic", box, "Synthetic case");
    if (c.history) {
      h("div", "tfq-label", box, "Clinical history");
      h("p", "tfq-history", box, c.history);
    }
    if (c.source && !c.history) h("p", "tfq-source", box, c.source);
  }

  function choices(parent, q) {
    const list = h("div", "tfq-choices", parent);
    list.setAttribute("role", q.kind === "multiple" ? "group" : "radiogroup");
    list.setAttribute("aria-label", "answers");
    const multiple = q.kind === "multiple";
    const d = draft();
    (q.choices || []).forEach((c, k) => {
      const label = h("label", "tfq-choice", list);
      const input = /** @type {HTMLInputElement} */ (h("input", "", label));
      input.type = multiple ? "checkbox" : "radio";
      input.name = `tfq-${q.id}`;
      input.value = c.id;
      input.dataset.focus = `choice-${k}`;
      input.checked = multiple ? d.includes(c.id) : d === c.id;
      label.classList.toggle("tfq-picked", input.checked);
      input.disabled = busy;
      const key = h("span", "tfq-key", label, q.kind === "single_best" || multiple ? c.id : String(k + 1));
      key.setAttribute("aria-hidden", "true");
      h("span", "tfq-choice-text", label, CATEGORY_TEXT[c.text] && q.kind !== "single_best" && !multiple ? CATEGORY_TEXT[c.text] : c.text);
      input.addEventListener("change", () => {
        if (multiple) {
          const now = new Set(draft());
          if (input.checked) now.add(c.id);
          else now.delete(c.id);
          setDraft((q.choices || []).map((x) => x.id).filter((id) => now.has(id)));
        } else setDraft(c.id);
        lastKey = `choice-${k}`;
        draw();
      });
    });
  }

  function answerArea(parent, q) {
    if (q.kind === "free_text") {
      const input = /** @type {HTMLInputElement} */ (h("input", "tfq-text", parent));
      input.type = "text";
      input.placeholder = "Your answer";
      input.setAttribute("aria-label", "your answer");
      input.dataset.focus = "text";
      input.value = String(draft());
      input.disabled = busy;
      input.addEventListener("input", () => {
        setDraft(input.value);
        root.querySelector(".tfq-submit")?.toggleAttribute("disabled", !ready() || busy);
      });
      input.addEventListener("keydown", (e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          submit();
        }
      });
    } else if (q.kind === "click" || q.kind === "box") {
      const m = get("mark");
      const line = h("div", "tfq-mark", parent);
      if (m.slice === undefined) {
        line.textContent = get("has_image") ? "No mark yet." : "This question needs its image, which could not be shown.";
      } else {
        line.textContent = `Your mark: ${describe(m)}. Click or draw again to move it.`;
        button(line, "Clear", "tfq-link", () => model.send({ type: "clear_mark" }));
      }
    } else {
      choices(parent, q);
    }
  }

  function questionCard(parent) {
    const q = get("question");
    caseBlock(parent, q.case);
    const prompt = h("h3", "tfq-prompt", parent, q.prompt || "");
    prompt.id = `tfq-prompt-${q.id}`;
    h("div", "tfq-instructions", parent, INSTRUCTIONS[q.kind] || "");
    answerArea(parent, q);
    const actions = h("div", "tfq-actions", parent);
    const go = button(actions, "Submit answer", "tfq-primary tfq-submit", submit);
    go.disabled = busy || !ready();
    go.dataset.focus = "submit";
    const skip = button(actions, "Skip for now", "tfq-secondary tfq-skip", () => send({ type: "next" }));
    skip.disabled = busy || (get("progress").total || 0) - (get("progress").answered || 0) <= 1;
    finishControl(actions);
  }

  function finishControl(parent) {
    const p = get("progress");
    if (!confirmFinish) {
      button(parent, get("mode") === "exam" ? "Finish exam" : "End quiz", "tfq-secondary tfq-finish", () => {
        confirmFinish = true;
        draw();
      });
      return;
    }
    const left = (p.total || 0) - (p.answered || 0);
    const ask = h("div", "tfq-confirm", parent, `Finish now? ${left} unanswered question${left === 1 ? "" : "s"} will score zero. `);
    button(ask, "Finish", "tfq-primary tfq-finish-now", () => {
      confirmFinish = false;
      send({ type: "finish" });
    });
    button(ask, "Keep going", "tfq-secondary", () => {
      confirmFinish = false;
      draw();
    });
  }

  function verdict(parent, f) {
    const cls = f.correct ? "tfq-right" : f.partial ? "tfq-partial" : "tfq-wrong";
    const head = f.correct ? "Correct" : f.partial ? "Partly right" : "Not quite";
    const box = h("div", `tfq-verdict ${cls}`, parent);
    box.setAttribute("role", "status");
    h("strong", "", box, `${head}. `);
    // the kernel's sentence often starts with the same word: say it once
    const message = String(f.message || "").replace(/^(correct|incorrect|wrong|partly right)[:.]?\s*/i, "");
    h("span", "", box, message.charAt(0).toUpperCase() + message.slice(1));
  }

  function answers(parent, f) {
    const table = h("div", "tfq-answers", parent);
    const row = (label, text, cls = "") => {
      const r = h("div", `tfq-row ${cls}`, table);
      h("span", "tfq-row-label", r, label);
      h("span", "tfq-row-value", r, text);
    };
    row("Your answer", describe(f.answer));
    if (!f.correct) row("Answer", describe(f.correct_answer), "tfq-correct-answer");
    if (f.readers && (f.readers.calls || []).length) {
      const r = h("div", "tfq-row", table);
      h("span", "tfq-row-label", r, "Readers");
      readersBlock(h("span", "tfq-row-value", r), f.readers);
    } else if (f.reads) row("Readers", f.reads);
  }

  function teaching(parent, f) {
    if (f.explanation) h("p", "tfq-explanation", parent, f.explanation);
    if (f.teaching_points && f.teaching_points.length) {
      h("div", "tfq-label", parent, "Teaching points");
      const ul = h("ul", "tfq-points", parent);
      for (const t of f.teaching_points) h("li", "", ul, t);
    }
  }

  function feedbackCard(parent) {
    const q = get("question");
    const f = get("feedback");
    h("h3", "tfq-prompt", parent, q.prompt || "");
    verdict(parent, f);
    answers(parent, f);
    if (get("has_image")) {
      // name only what the image shows (older kernels send no count: assume drawn)
      const drawn = f.outlines === undefined ? 1 : f.outlines;
      if (drawn || f.mark) {
        const legend = h("div", "tfq-legend", parent);
        if (drawn) {
          h("span", "tfq-swatch tfq-swatch-ref", legend);
          h("span", "", legend, (f.reference || []).length ? "reference outline  " : "the case's annotations  ");
        }
        if (f.mark) {
          h("span", "tfq-swatch tfq-swatch-mark", legend);
          h("span", "", legend, "your mark");
        }
      }
      if (f.outline_held) {
        h("div", "tfq-muted tfq-held", parent, "The outlines on this image come with a later question that asks you to find them.");
      }
    }
    teaching(parent, f);
    const p = get("progress");
    const actions = h("div", "tfq-actions", parent);
    const last = (p.answered || 0) >= (p.total || 0);
    const next = button(actions, last ? "See your results" : "Next question", "tfq-primary tfq-next", () => send({ type: "next" }));
    next.disabled = busy;
    next.dataset.focus = "next";
    h("span", "tfq-hint", actions, "Enter or N");
  }

  function summaryCard(parent) {
    const s = get("summary");
    if (s.timed_out) {
      const limit = s.time_limit ? ` (${clock(s.time_limit)} allowed)` : "";
      h("div", "tfq-timed-out", parent, `Time ran out${limit}: ${s.answered} of ${s.total} questions answered; the rest count as unanswered.`)
        .setAttribute("role", "status");
    }
    const score = h("div", "tfq-total", parent);
    h("span", "tfq-total-value", score, `${num(s.percent)}%`);
    h("span", "tfq-total-detail", score,
      ` ${num(s.earned)} of ${num(s.possible)} points, ${s.answered} of ${s.total} answered` +
      (s.seconds ? `, ${s.seconds < 60 ? "under a minute" : `${Math.round(s.seconds / 60)} min`}` : ""));
    if (get("chart")) {
      const img = /** @type {HTMLImageElement} */ (h("img", "tfq-chart", parent));
      img.src = get("chart");
      img.alt = "Score by category: " + Object.entries(s.topics || {})
        .map(([t, v]) => `${t} ${num((100 * v.earned) / (v.possible || 1))}%`).join(", ");
    }
    const review = get("review").filter((r) => !r.unanswered);
    const skipped = get("review").length - review.length;
    if (review.length) {
      h("h3", "tfq-subhead", parent, `Answers to review (${review.length})`);
      const list = h("ol", "tfq-review", parent);
      for (const r of review) {
        const li = h("li", "tfq-review-item", list);
        li.dataset.question = r.question_id;
        const head = h("div", "tfq-review-prompt", li);
        if (r.number) h("span", "tfq-review-number", head, `Question ${r.number}. `);
        h("span", "", head, r.prompt || r.question_id);
        const body = h("div", "tfq-review-body", li);
        if (r.image) {
          const open = get("review_open") === r.question_id;
          const thumb = /** @type {HTMLButtonElement} */ (h("button", `tfq-thumb${open ? " tfq-thumb-open" : ""}`, body));
          thumb.type = "button";
          thumb.title = open ? "Shown in the viewer" : "Open this image in the viewer (scroll, window, zoom)";
          thumb.setAttribute("aria-pressed", String(open));
          const img = /** @type {HTMLImageElement} */ (h("img", "", thumb));
          img.src = r.image;
          img.alt = `Image of question ${r.number || ""}: the reference outlines` + (r.mark ? " and your mark" : "");
          h("span", "tfq-thumb-caption", thumb, open ? "In the viewer" : `Slice ${(r.image_slice || 0) + 1} \u00b7 open in viewer`);
          thumb.addEventListener("click", () => send({ type: "review_image", question_id: r.question_id }));
        }
        const text = h("div", "tfq-review-text", body);
        answers(text, r);
        if (r.message) h("div", "tfq-muted", text, r.message);
        teaching(text, r);
      }
    } else if (!skipped) {
      h("p", "tfq-all-right", parent, "Every question answered right. Well done.");
    }
    if (skipped) {
      h("p", "tfq-muted tfq-skipped", parent, `${skipped} question${skipped === 1 ? "" : "s"} not answered (scored zero).`);
    }
    const actions = h("div", "tfq-actions", parent);
    if (get("can_retry")) {
      const again = button(actions, "Again, only the ones I got wrong", "tfq-primary tfq-retry", () => send({ type: "retry" }));
      again.disabled = busy;
      again.dataset.focus = "retry";
    }
  }

  // ------------------------------------------------------------------ drawing
  function draw() {
    const active = /** @type {HTMLElement|null} */ (document.activeElement);
    const hadFocus = root.contains(active);
    const focusKey = (active && active.dataset && active.dataset.focus) || lastKey;
    const stage = get("stage");
    root.replaceChildren();
    root.dataset.stage = stage;
    root.dataset.question = get("question").id || "";
    root.dataset.busy = String(busy);
    header(root);
    if (get("notice")) h("div", "tfq-notice", root, get("notice")).setAttribute("role", "status");
    const body = h("div", "tfq-body", root);
    if (stage === "summary") summaryCard(body);
    else if (stage === "feedback") feedbackCard(body);
    else questionCard(body);
    if (get("error")) {
      const err = h("div", "tfq-error", root, get("error"));
      err.setAttribute("role", "alert");
    }
    if (hadFocus) {
      const again = /** @type {HTMLElement|null} */ (root.querySelector(`[data-focus="${focusKey}"]`));
      (again && !(/** @type {any} */ (again).disabled) ? again : root).focus({ preventScroll: true });
    }
    lastKey = "";
  }

  root.addEventListener("keydown", (e) => {
    const target = /** @type {HTMLElement} */ (e.target);
    if (target instanceof HTMLInputElement && target.type === "text") return;
    const stage = get("stage");
    if (stage === "question") {
      const q = get("question");
      if (/^[1-9]$/.test(e.key) && q.choices) {
        const k = Number(e.key) - 1;
        const c = q.choices[k];
        if (!c) return;
        if (q.kind === "multiple") {
          const now = new Set(draft());
          if (now.has(c.id)) now.delete(c.id);
          else now.add(c.id);
          setDraft(q.choices.map((x) => x.id).filter((id) => now.has(id)));
        } else setDraft(c.id);
        lastKey = `choice-${k}`;
        e.preventDefault();
        draw();
        root.focus({ preventScroll: true });
      } else if (e.key === "Enter" && !(target instanceof HTMLButtonElement)) {
        e.preventDefault();
        submit();
      }
    } else if (stage === "feedback" && (e.key === "n" || e.key === "N" || (e.key === "Enter" && !(target instanceof HTMLButtonElement)))) {
      e.preventDefault();
      if (!busy) send({ type: "next" });
    }
  });

  const redraw = () => {
    busy = false;
    draw();
  };
  // ------------------------------------------------------------------ the clock
  // The countdown is cosmetic: it starts from what the kernel said (time_left) and
  // runs on the page's own monotonic clock; at zero it asks the kernel to decide.
  const live = h("div", "tfq-sr-only", el);
  live.setAttribute("aria-live", "polite");
  let clockFrom = { left: /** @type {number|null} */ (get("time_left")), at: performance.now() };
  const announced = new Set();
  let askedAtZero = false;
  const left = () => (clockFrom.left === null || clockFrom.left === undefined
    ? null : clockFrom.left - (performance.now() - clockFrom.at) / 1000);

  function paintTimer(timer) {
    const t = left();
    if (t === null) return;
    const limit = get("time_limit") || t;
    timer.textContent = clock(t);
    timer.classList.toggle("tfq-timer-amber", t <= Math.min(300, 0.25 * limit) && t > Math.min(60, 0.1 * limit));
    timer.classList.toggle("tfq-timer-red", t <= Math.min(60, 0.1 * limit));
    root.dataset.timeLeft = String(Math.max(0, Math.ceil(t)));
  }

  const onTimeLeft = () => {
    clockFrom = { left: get("time_left"), at: performance.now() };
    askedAtZero = false;
  };
  const tick = () => {
    const t = left();
    if (t === null || get("stage") === "summary") return;
    const timer = root.querySelector(".tfq-timer");
    if (timer) paintTimer(timer);
    for (const [mark, text] of [[300, "5 minutes left"], [60, "1 minute left"]]) {
      if (t <= mark && (get("time_limit") || 0) > mark && !announced.has(mark)) {
        announced.add(mark);
        live.textContent = text;
      }
    }
    if (t <= 0 && !askedAtZero) {
      askedAtZero = true; // once per word from the kernel; it answers with time_left or the summary
      model.send({ type: "time_up" });
    }
  };
  const ticker = setInterval(tick, 1000);

  const names = ["stage", "question", "progress", "feedback", "mark", "notice", "summary", "chart", "review", "can_retry", "has_image", "error", "mode", "title", "review_open", "time_left"];
  model.on("change:time_left", onTimeLeft); // before the redraw, which paints the timer
  for (const name of names) model.on(`change:${name}`, redraw);
  const onStage = () => {
    // a new question or the feedback: take the keyboard to the card
    if (document.activeElement === document.body || root.contains(document.activeElement)) {
      const target = /** @type {HTMLElement|null} */ (root.querySelector('[data-focus="next"], [data-focus="retry"], [data-focus="choice-0"], [data-focus="text"]'));
      (target || root).focus({ preventScroll: true });
    }
  };
  model.on("change:stage", onStage);
  model.on("change:question", onStage);
  draw();
  // the whole state again, and a new model if this one cannot hear (_resync.js)
  const stopGreeting = greet(model);
  return () => {
    stopGreeting();
    clearInterval(ticker);
    model.off("change:time_left", onTimeLeft);
    for (const name of names) model.off(`change:${name}`, redraw);
    model.off("change:stage", onStage);
    model.off("change:question", onStage);
  };
}

export default { render };
