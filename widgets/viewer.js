// The browser side of teachingfiles.widgets.viewer.StackViewer.
//
// Slices travel once, as binary custom messages the browser asks for ("want"),
// nearest to the slice on screen first: an 8-bit JPEG preview of every slice, then
// the lossless 16-bit values. Windowing (a 65,536-entry lookup table), drawing,
// scrolling, zoom and pan happen here and never wait on the kernel.
// Plain ES module: no bundler, nothing fetched from the network.
//
// One file per widget (named after its Python twin), in sections:
//   constants ........ request pacing and link thresholds
//   helpers .......... DOM, payload decoding (inflate, planes, shuffle), labels
//   render()            one viewer, its sections marked "// ----- name":
//     errors, state, model sync, windowing (lookup tables), drawing (canvas, shapes,
//     readout), streaming (requests, decoding, link measurement, remote arrivals),
//     toolbar, input (keys, wheel, pointer), cine, model events, start

/**
 * The synced traits (mirrors StackViewer in teachingfiles/widgets/viewer.py).
 * @typedef {Object} Model
 * @property {number} generation  bumped when the stack changes (view switch)
 * @property {number[]} shape  [slices, rows, columns]
 * @property {number[]} spacing  [slice, row, column] mm
 * @property {"int16"|"uint16"} wire  how full-quality values travel
 * @property {{positions: number[][], orientation: number[], locations: number[]}} geometry
 * @property {number} index  the slice on screen
 * @property {number} window_center
 * @property {number} window_width
 * @property {string} preset  the preset in use, "" when custom
 * @property {{name: string, center: number, width: number, key?: string}[]} presets
 * @property {string} view  axial | coronal | sagittal
 * @property {string[]} views
 * @property {boolean} invert
 * @property {number} zoom
 * @property {number[]} pan  [x, y] image pixels
 * @property {boolean} playing
 * @property {number} fps
 * @property {boolean} show_overlay
 * @property {{slice: number, label: string, color: string, kind: string, points: number[][]}[]} annotations
 * @property {"inspect"|"point"|"box"|"polygon"|"freehand"} mode
 * @property {number} memory_budget_mb
 * @property {number} chunk_mb
 * @property {"auto"|"planes"|"raw"|"deflate"} transfer
 * @property {number} preview_quality
 * @property {string} error
 * @property {string} title
 */

// ================================================================== constants
// How many requests travel at once, how large, and when the link counts as slow or
// fast (see nextRequest and measureLink).

const MAX_INFLIGHT = 6; // requests the kernel has not finished answering
const PREVIEWS_PER_REQUEST = 32;
const FULL_CHUNKS_PER_REQUEST = 2; // fewer round trips; the kernel streams the chunks
const PROBE_INFLIGHT = 2; // full-quality requests while "auto" is measuring the link
const PROBE_CHUNK_BYTES = 2 ** 21; // their chunks: 2 MB of values, ~1 MB as planes
// full-quality requests in flight while previews are still to be asked for, on a link
// measured fast (none otherwise: a full chunk queued ahead of previews delays them)
const FULL_DURING_PREVIEW_FAST = 3;
const SAVE_EVERY_MS = 40;
// "auto" sends "planes" (half the bytes of raw CT for ~0.7 ms of kernel time a slice)
// and would switch to "deflate" below this link throughput (bytes per ms, kernel time
// excluded). Measured under the benchmark's emulated 100 Mbit/s + 20 ms link, the
// switch made things worse (deflate: 54-65 s to full quality; planes: ~10 s), so auto
// never switches; transfer="deflate" still asks for it explicitly.
const SLOW_LINK_BYTES_PER_MS = 0;
// above this the link is "fast": full-quality chunks may travel beside the previews
const FAST_LINK_BYTES_PER_MS = 25e3;

// ================================================================== helpers
// Small pure functions: DOM building, decoding full-quality payloads, labels.

/** @param {string} tag @param {string} cls @param {HTMLElement} [parent] */
function h(tag, cls, parent) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (parent) parent.appendChild(node);
  return node;
}

/** @param {DataView|ArrayBuffer|Uint8Array} buf */
function bytesOf(buf) {
  if (buf instanceof Uint8Array) return buf;
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Inflate zlib data (the browser's own inflater, off the main thread). */
async function inflate(bytes, expected) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  const out = new Uint8Array(await new Response(stream).arrayBuffer());
  if (out.length !== expected) throw new Error(`inflated ${out.length} bytes, expected ${expected}`);
  return out;
}

/** Rebuild 16-bit values from a "planes" payload: every low byte, then the deflated high bytes. */
async function unplane(bytes, rawBytes) {
  const half = rawBytes / 2;
  const hi = await inflate(bytes.subarray(half), half);
  return interleave(bytes.subarray(0, half), hi);
}

/**
 * Interleave low and high byte planes into 16-bit values, four at a time: two
 * 32-bit reads and two 32-bit writes instead of twelve byte-wise operations.
 * @param {Uint8Array} lo @param {Uint8Array} hi
 */
function interleave(lo, hi) {
  const n = lo.length;
  const out = new Uint16Array(n);
  const quads = n >> 2;
  if (lo.byteOffset % 4) lo = lo.slice(); // 32-bit views need aligned offsets
  if (hi.byteOffset % 4) hi = hi.slice();
  const lo32 = new Uint32Array(lo.buffer, lo.byteOffset, quads);
  const hi32 = new Uint32Array(hi.buffer, hi.byteOffset, quads);
  const out32 = new Uint32Array(out.buffer, 0, quads * 2);
  for (let j = 0, k = 0; j < quads; j++, k += 2) {
    const l = lo32[j], m = hi32[j];
    out32[k] = (l & 0xff) | ((m & 0xff) << 8) | ((l & 0xff00) << 8) | ((m & 0xff00) << 16);
    out32[k + 1] = ((l >>> 16) & 0xff) | ((m >>> 8) & 0xff00) | ((l >>> 8) & 0xff0000) | (m & 0xff000000);
  }
  for (let i = quads * 4; i < n; i++) out[i] = lo[i] | (hi[i] << 8);
  return new Uint8Array(out.buffer);
}

/** Inflate zlib data and undo the byte shuffle (low bytes, then high bytes). */
async function inflateShuffled(bytes, rawBytes) {
  const shuffled = await inflate(bytes, rawBytes);
  const half = rawBytes / 2;
  // one 16-bit store per value (typed arrays are little-endian on every browser
  // platform, as the Int16Array views of the raw stream already assume)
  const out = new Uint16Array(half);
  const lo = shuffled.subarray(0, half), hi = shuffled.subarray(half);
  for (let i = 0; i < half; i++) out[i] = lo[i] | (hi[i] << 8);
  return new Uint8Array(out.buffer);
}

/**
 * Decode a greyscale JPEG with WebCodecs: its luma (I420, NV12, ...) or the first
 * byte of each RGB pixel, which holds the same grey.
 * @param {Uint8Array} jpeg
 */
async function decodeGrayJpeg(jpeg) {
  const decoder = new ImageDecoder({ data: jpeg, type: "image/jpeg" });
  try {
    const { image } = await decoder.decode();
    try {
      const w = image.visibleRect.width, h = image.visibleRect.height;
      const buf = new Uint8Array(image.allocationSize());
      const [{ offset, stride }] = await image.copyTo(buf);
      const step = /^(RGB|BGR)/.test(image.format || "") ? 4 : 1;
      const gray = new Uint8Array(w * h);
      for (let y = 0; y < h; y++) {
        const row = offset + y * stride;
        for (let x = 0; x < w; x++) gray[y * w + x] = buf[row + x * step];
      }
      return { gray, w, h };
    } finally {
      image.close();
    }
  } finally {
    decoder.close();
  }
}

/**
 * The patient direction of a DICOM (LPS) direction cosine: "L", "AP"-style letters
 * for every axis that contributes more than a quarter, strongest first.
 * @param {number[]} v
 */
function direction(v) {
  const letters = [["L", "R"], ["P", "A"], ["S", "I"]];
  return [0, 1, 2]
    .filter((k) => Math.abs(v[k]) > 0.25)
    .sort((a, b) => Math.abs(v[b]) - Math.abs(v[a]))
    .map((k) => letters[k][v[k] > 0 ? 0 : 1])
    .join("");
}

function fmt(v, digits = 1) {
  return Number.isFinite(v) ? v.toFixed(digits).replace(/\.0+$/, "") : "-";
}

// ================================================================== render
// One viewer: its DOM, its state, and the sections below, all closing over both.

/** @param {{model: any, el: HTMLElement}} ctx */
function render({ model, el }) {
  /** @template {keyof Model} K @param {K} k @returns {Model[K]} */
  const get = (k) => model.get(k);
  const t0 = performance.now();
  const root = h("div", "tfv", el);
  root.tabIndex = 0;
  root.setAttribute("role", "application");
  root.setAttribute("aria-roledescription", "image stack viewer");
  const title = h("div", "tfv-title", root);
  const bar = h("div", "tfv-toolbar", root);
  const stage = h("div", "tfv-stage", root);
  const canvas = /** @type {HTMLCanvasElement} */ (h("canvas", "tfv-canvas", stage));
  const tl = h("div", "tfv-corner tfv-tl", stage);
  const tr = h("div", "tfv-corner tfv-tr", stage);
  const bl = h("div", "tfv-corner tfv-bl", stage);
  const br = h("div", "tfv-corner tfv-br", stage);
  // patient orientation at the edges of the image, as on a workstation (R/L, A/P, S/I)
  const edges = ["left", "right", "top", "bottom"].map((side) => h("div", `tfv-orient tfv-orient-${side}`, stage));
  const legend = h("div", "tfv-legend", root);
  const sliderRow = h("div", "tfv-slider-row", root);
  const slider = /** @type {HTMLInputElement} */ (h("input", "tfv-slider", sliderRow));
  slider.type = "range";
  slider.min = "0";
  slider.setAttribute("aria-label", "slice");
  const counter = h("span", "tfv-counter", sliderRow);
  const errorBox = h("div", "tfv-error", root);
  errorBox.setAttribute("role", "alert");
  errorBox.hidden = true;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  const native = document.createElement("canvas");
  const nctx = /** @type {CanvasRenderingContext2D} */ (native.getContext("2d"));
  const scratch = document.createElement("canvas");
  const sctx = /** @type {CanvasRenderingContext2D} */ (scratch.getContext("2d", { willReadFrequently: true }));

  // ---------------------------------------------------------------- errors
  // Shown inside the widget (role=alert) and reported to Python.
  function showError(err) {
    const text = err && err.message ? err.message : String(err);
    errorBox.textContent = `Viewer error: ${text}`;
    errorBox.hidden = false;
    root.dataset.error = text;
    try {
      model.send({ type: "error", message: text });
    } catch (_) {
      /* the kernel is gone; the message is on screen */
    }
  }
  const guard = (fn) => (...args) => {
    try {
      return fn(...args);
    } catch (err) {
      showError(err);
      return undefined;
    }
  };

  // ---------------------------------------------------------------- state
  // Everything the viewer holds: the slices (full, preview, JPEG), requests, view.
  const S = {
    gen: -1, n: 0, rows: 0, cols: 0, off: 32768, sliceBytes: 0,
    /** @type {(Int16Array|Uint16Array|null)[]} */ full: [],
    /** @type {(Uint8Array|null)[]} */ prev: [],
    /** @type {(number[]|null)[]} */ prevWin: [],
    /** @type {number[][]} */ prevSize: [], // [width, height] of each preview as sent
    /** @type {(Uint8Array|null)[]} */ jpeg: [],
    /** @type {Map<number, {data: Uint8Array, rows: number}>} */ partial: new Map(),
    requested: new Set(),
    /** @type {Map<number, {sent: number, kind: string}>} */ inflight: new Map(),
    nextId: 1, fullCount: 0, prevCount: 0,
    // slices the kernel does not have yet (a remote series still downloading), and
    // those it said have arrived since; download progress {loaded, total}
    missing: new Set(), arrived: new Set(), download: /** @type {any} */ (null),
    encoding: "planes", lastArrival: /** @type {{id: number, t: number}|null} */ (null), bwSamples: [],
    index: 0, center: 0, width: 1, invert: false, zoom: 1, pan: [0, 0],
    lut: new Uint32Array(65536), lutKey: "", lut8: new Map(),
    imageData: /** @type {ImageData|null} */ (null),
    drawn: "", quality: "none", local: false,
    webcodecs: typeof ImageDecoder !== "undefined",
    drag: /** @type {any} */ (null), draft: /** @type {number[][]} */ ([]),
    pointer: /** @type {number[]|null} */ (null),
    /** @type {Map<number, any[]>} */ shapesBySlice: new Map(),
    stats: {
      render: t0, firstPaint: null, scrollable: null, full: null, bytes: 0, messages: 0, maxMessage: 0,
      kernelMs: 0, firstFull: null, browserMs: 0,
    },
    paints: /** @type {{i: number, t: number, q: string}[]} */ ([]),
  };
  const handle = { el: root, stats: S.stats, paints: S.paints, state: S };
  const registry = (globalThis.__tfViewers = globalThis.__tfViewers || []);
  registry.push(handle);

  // ---------------------------------------------------------------- model sync
  // Local changes to traits, saved to Python at most every SAVE_EVERY_MS.
  let saveTimer = 0;
  function save(now = false) {
    if (now) {
      clearTimeout(saveTimer);
      saveTimer = 0;
      model.save_changes();
    } else if (!saveTimer) {
      saveTimer = setTimeout(() => {
        saveTimer = 0;
        model.save_changes();
      }, SAVE_EVERY_MS);
    }
  }
  function setIndex(i, throttled = false) {
    const n = S.n;
    if (!n) return;
    const next = Math.max(0, Math.min(n - 1, Math.round(i)));
    if (next === S.index) return;
    S.index = next;
    model.set("index", next);
    save(!throttled);
    paint();
    pump();
  }
  function setWindow(center, width, preset = "") {
    S.center = center;
    S.width = Math.max(1, width);
    S.local = true; // our own change events must not read back half-set values
    try {
      model.set("window_center", S.center);
      model.set("window_width", S.width);
      model.set("preset", preset);
    } finally {
      S.local = false;
    }
    paint();
  }
  function setZoomPan(zoom, pan) {
    S.zoom = zoom;
    S.pan = pan;
    S.local = true; // the change event of "zoom" would read back the old pan
    try {
      model.set("zoom", zoom);
      model.set("pan", pan);
    } finally {
      S.local = false;
    }
    paint();
  }

  // ---------------------------------------------------------------- windowing
  // Lookup tables from stored values (or preview grey) to screen grey.
  function fullLut() {
    const key = `${S.center}|${S.width}|${S.invert}|${S.off}`;
    if (key === S.lutKey) return S.lut;
    const lo = S.center - S.width / 2;
    const scale = 255 / S.width;
    const lut = S.lut;
    for (let i = 0; i < 65536; i++) {
      let g = ((i - S.off) - lo) * scale;
      g = g < 0 ? 0 : g > 255 ? 255 : g | 0;
      if (S.invert) g = 255 - g;
      lut[i] = 0xff000000 | (g << 16) | (g << 8) | g;
    }
    S.lutKey = key;
    return lut;
  }
  function previewLut(win) {
    const key = `${win[0]}|${win[1]}|${S.center}|${S.width}|${S.invert}`;
    let lut = S.lut8.get(key);
    if (lut) return lut;
    lut = new Uint32Array(256);
    const lo = S.center - S.width / 2;
    for (let v = 0; v < 256; v++) {
      const value = win[0] - win[1] / 2 + (v / 255) * win[1];
      let g = ((value - lo) * 255) / S.width;
      g = g < 0 ? 0 : g > 255 ? 255 : g | 0;
      if (S.invert) g = 255 - g;
      lut[v] = 0xff000000 | (g << 16) | (g << 8) | g;
    }
    if (S.lut8.size > 16) S.lut8.clear();
    S.lut8.set(key, lut);
    return lut;
  }

  // ---------------------------------------------------------------- drawing
  function layout() {
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, stage.clientWidth);
    const [, dy, dx] = get("spacing");
    const aspect = S.cols ? (S.rows * dy) / (S.cols * dx) : 1;
    const height = Math.max(160, Math.min(width * aspect, window.innerHeight * 0.75 || 600));
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.height = `${height}px`;
    }
  }
  /** Canvas (device px) transform: image pixel centre x -> canvas. */
  function transform() {
    const [, dy, dx] = get("spacing");
    const W = canvas.width, H = canvas.height;
    const s = Math.min(W / (S.cols * dx), H / (S.rows * dy)) * S.zoom;
    const sx = s * dx, sy = s * dy;
    const ox = W / 2 + (-S.cols / 2 + S.pan[0]) * sx;
    const oy = H / 2 + (-S.rows / 2 + S.pan[1]) * sy;
    return { sx, sy, ox, oy };
  }
  const toCanvas = (T, x, y) => [T.ox + (x + 0.5) * T.sx, T.oy + (y + 0.5) * T.sy];
  function toImage(clientX, clientY) {
    const r = canvas.getBoundingClientRect();
    const dpr = canvas.width / Math.max(1, r.width);
    const T = transform();
    return [((clientX - r.left) * dpr - T.ox) / T.sx - 0.5, ((clientY - r.top) * dpr - T.oy) / T.sy - 0.5];
  }

  function renderNative() {
    const i = S.index;
    const full = S.full[i];
    const prev = S.prev[i];
    const quality = full ? "full" : prev ? "preview" : "none";
    const key = `${S.gen}|${i}|${quality}|${S.center}|${S.width}|${S.invert}`;
    if (key === S.drawn) return quality;
    S.drawn = key;
    // a preview keeps its own (reduced) size: paint() scales it to the image's place
    const [w, h] = !full && prev ? S.prevSize[i] : [S.cols, S.rows];
    if (!S.imageData || S.imageData.width !== w || S.imageData.height !== h) {
      native.width = w;
      native.height = h;
      S.imageData = nctx.createImageData(w, h);
    }
    const out = new Uint32Array(S.imageData.data.buffer);
    if (full) {
      const lut = fullLut();
      const off = S.off;
      for (let p = 0; p < out.length; p++) out[p] = lut[full[p] + off];
    } else if (prev) {
      const lut = previewLut(/** @type {number[]} */ (S.prevWin[i]));
      for (let p = 0; p < out.length; p++) out[p] = lut[prev[p]];
    } else {
      out.fill(0xff000000);
    }
    nctx.putImageData(S.imageData, 0, 0);
    return quality;
  }

  function drawShapes(T) {
    const dpr = window.devicePixelRatio || 1;
    ctx.lineWidth = 2 * dpr;
    const here = (get("view") === "axial" && get("show_overlay") && S.shapesBySlice.get(S.index)) || [];
    for (const a of here) traceShape(T, a.kind, a.points, a.color, true);
    if (S.draft.length) traceShape(T, get("mode") === "box" ? "box" : "polyline", S.draft, "#ffff00", false);
    root.dataset.shapes = String(here.length);
  }
  function traceShape(T, kind, pts, color, fill) {
    ctx.strokeStyle = color;
    ctx.fillStyle = color + "33";
    ctx.beginPath();
    if (kind === "box") {
      const [a, b] = [toCanvas(T, pts[0][0], pts[0][1]), toCanvas(T, pts[1][0], pts[1][1])];
      ctx.rect(a[0], a[1], b[0] - a[0], b[1] - a[1]);
    } else if (kind === "point") {
      const c = toCanvas(T, pts[0][0], pts[0][1]);
      ctx.arc(c[0], c[1], 6 * (window.devicePixelRatio || 1), 0, 2 * Math.PI);
    } else {
      pts.forEach(([x, y], k) => {
        const c = toCanvas(T, x, y);
        if (k) ctx.lineTo(c[0], c[1]);
        else ctx.moveTo(c[0], c[1]);
      });
      if (kind === "polygon") ctx.closePath();
    }
    if (fill && kind !== "line") ctx.fill();
    ctx.stroke();
  }

  function paint() {
    if (!S.n) return;
    layout();
    const quality = renderNative();
    const T = transform();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.imageSmoothingEnabled = S.zoom < 4;
    ctx.imageSmoothingQuality = "high"; // thick-slice reformats and half-size previews stretch a lot
    ctx.drawImage(native, T.ox, T.oy, S.cols * T.sx, S.rows * T.sy);
    drawShapes(T);
    const now = performance.now();
    S.quality = quality;
    if (quality !== "none" && S.stats.firstPaint === null) S.stats.firstPaint = now - S.stats.render;
    if (S.paints.length > 20000) S.paints.splice(0, 10000);
    S.paints.push({ i: S.index, t: now, q: quality });
    const r = canvas.getBoundingClientRect();
    const dpr = canvas.width / Math.max(1, r.width);
    root.dataset.index = String(S.index);
    root.dataset.quality = quality;
    root.dataset.imageRect = [T.ox / dpr, T.oy / dpr, (S.cols * T.sx) / dpr, (S.rows * T.sy) / dpr]
      .map((v) => v.toFixed(3)).join(",");
    updateText();
  }

  function updateText() {
    const n = S.n;
    const loc = get("geometry").locations?.[S.index];
    counter.textContent = `${S.index + 1} / ${n}`;
    slider.max = String(Math.max(0, n - 1));
    slider.value = String(S.index);
    tl.textContent = `${get("view")} ${S.index + 1} / ${n}` + (Number.isFinite(loc) ? `  ${fmt(loc)} mm` : "");
    const preset = get("preset");
    tr.textContent = `W ${fmt(S.width, 0)} L ${fmt(S.center, 0)}` + (preset ? ` (${preset})` : "") + (S.invert ? " inv" : "");
    const missing = n - S.fullCount;
    let mark = "";
    if (S.quality === "preview") mark = "preview, loading full quality";
    else if (S.quality === "none") mark = "loading…";
    if (missing > 0 && S.quality === "full") mark = `loading ${Math.round((100 * S.fullCount) / n)}%`;
    const dl = S.download;
    if (dl && dl.loaded < dl.total) mark = `downloading ${dl.loaded} / ${dl.total}` + (mark ? `, ${mark}` : "");
    root.dataset.downloaded = dl ? String(dl.loaded) : "";
    br.textContent = mark;
    root.dataset.previews = String(S.prevCount);
    root.dataset.full = String(S.fullCount);
    readout();
  }

  function readout() {
    if (!S.pointer) {
      bl.textContent = "";
      return;
    }
    const [x, y] = S.pointer;
    const c = Math.round(x), r = Math.round(y);
    if (c < 0 || r < 0 || c >= S.cols || r >= S.rows) {
      bl.textContent = "";
      return;
    }
    const full = S.full[S.index], prev = S.prev[S.index];
    let value = "";
    if (full) value = String(full[r * S.cols + c]);
    else if (prev) {
      const win = /** @type {number[]} */ (S.prevWin[S.index]);
      const [w, h] = S.prevSize[S.index];
      const at = Math.min(h - 1, Math.floor((r * h) / S.rows)) * w + Math.min(w - 1, Math.floor((c * w) / S.cols));
      value = "≈" + fmt(win[0] - win[1] / 2 + (prev[at] / 255) * win[1], 0);
    }
    const p = patient(S.index, x, y);
    bl.textContent = `(${c}, ${r}) ${value}${value ? (S.off ? " HU" : "") : ""}  ` + (p ? `[${p.map((v) => fmt(v)).join(", ")}] mm` : "");
    root.dataset.readout = value;
  }
  function patient(i, x, y) {
    const g = get("geometry");
    const pos = g.positions?.[i];
    if (!pos) return null;
    const o = g.orientation;
    const [, dy, dx] = get("spacing");
    return [0, 1, 2].map((k) => pos[k] + x * dx * o[k] + y * dy * o[3 + k]);
  }

  function orientationMarks() {
    const o = get("geometry").orientation || [];
    const ok = o.length === 6 && o.every(Number.isFinite);
    const row = o.slice(0, 3), col = o.slice(3, 6);
    const neg = (v) => v.map((c) => -c);
    const text = ok ? [direction(neg(row)), direction(row), direction(neg(col)), direction(col)] : ["", "", "", ""];
    edges.forEach((node, k) => { node.textContent = text[k]; });
    root.dataset.orientation = text.join(",");
  }

  // ---------------------------------------------------------------- streaming
  // Ask the kernel for slices nearest first, decode what arrives, measure the link,
  // follow a remote series' arrivals ("ready"), keep memory within the budget.
  function resetStack() {
    const [n, rows, cols] = get("shape");
    S.gen = get("generation");
    S.n = n; S.rows = rows; S.cols = cols;
    S.off = get("wire") === "uint16" ? 0 : 32768;
    S.sliceBytes = rows * cols * 2;
    S.full = new Array(n).fill(null);
    S.prev = new Array(n).fill(null);
    S.prevWin = new Array(n).fill(null);
    S.prevSize = new Array(n).fill(null);
    S.jpeg = new Array(n).fill(null);
    S.partial.clear();
    S.requested.clear();
    S.inflight.clear();
    S.missing.clear();
    S.arrived.clear();
    S.fullCount = 0; S.prevCount = 0; S.drawn = ""; S.lutKey = "";
    S.index = Math.max(0, Math.min(n - 1, get("index")));
    S.stats.scrollable = null; S.stats.full = null;
    orientationMarks();
    paint();
    pump();
  }
  /** Slice indices by distance from the current one: i, i+1, i-1, i+2, ... */
  function* around(i, n) {
    yield i;
    for (let d = 1; d < n; d++) {
      if (i + d < n) yield i + d;
      if (i - d >= 0) yield i - d;
      if (i + d >= n && i - d < 0) return;
    }
  }
  function fullCap() {
    return Math.max(3, Math.floor((get("memory_budget_mb") * 2 ** 20) / Math.max(1, S.sliceBytes)));
  }
  function nextRequest() {
    // Full-quality requests wait until every preview has been asked for (the kernel
    // answers in order, so they cannot hold a preview up), except on a link measured
    // fast, where FULL_DURING_PREVIEW_FAST travel beside the previews: the preview
    // pass is bound by JPEG work there and would leave the link idle. (A series
    // re-shown after a view switch keeps the link's measure.)
    const fullInflight = [...S.inflight.values()].filter((r) => r.kind === "full").length;
    const previewInflight = S.inflight.size - fullInflight;
    const speed = linkSpeed(1);
    const during = speed >= FAST_LINK_BYTES_PER_MS ? FULL_DURING_PREVIEW_FAST : 0;
    const overlap = S.prevCount > 0 && previewInflight >= 2 && fullInflight < during;
    const first = overlap ? fullRequest(fullInflight) : null;
    return first || previewRequest() || fullRequest(fullInflight);
  }
  function previewRequest() {
    const limit = S.prevCount === 0 && S.inflight.size === 0 ? 3 : PREVIEWS_PER_REQUEST;
    const take = [];
    for (const i of around(S.index, S.n)) {
      // a slice already asked for at full quality needs no preview (a fast link
      // sends full-quality chunks beside the previews, nearest first)
      if (S.prev[i] || S.full[i] || S.jpeg[i] || S.missing.has(i)) continue;
      if (S.requested.has(`p${i}`) || S.requested.has(`f${i}`)) continue;
      take.push(i);
      if (take.length >= limit) break;
    }
    if (!take.length) return null;
    take.forEach((i) => S.requested.add(`p${i}`));
    return { kind: "preview", slices: take, window: [S.center, S.width] };
  }
  /** @param {number} fullInflight  full-quality requests not yet answered */
  function fullRequest(fullInflight) {
    const chunkBytes = get("chunk_mb") * 2 ** 20;
    const transfer = get("transfer");
    // Until "auto" has measured the link, at most PROBE_INFLIGHT requests: otherwise
    // MAX_INFLIGHT x 2 chunks travel as planes before a slow link is noticed and
    // deflate switched on. Each request asks for two chunks: the gap between their
    // arrivals is what measures the link (see measureLink).
    const probing = transfer === "auto" && S.encoding !== "deflate" && S.bwSamples.length < 2 && chunkBytes > PROBE_CHUNK_BYTES;
    if (probing && fullInflight >= PROBE_INFLIGHT) return null;
    // probes are small: on a slow link they travel ahead of the previews
    const bytesPer = probing ? PROBE_CHUNK_BYTES : chunkBytes;
    const perChunk = FULL_CHUNKS_PER_REQUEST * Math.max(1, Math.floor(bytesPer / S.sliceBytes));
    const cap = fullCap();
    const take = [];
    let seen = 0;
    for (const i of around(S.index, S.n)) {
      if (++seen > cap) break;
      if (S.full[i] || S.requested.has(`f${i}`) || S.missing.has(i)) continue;
      take.push(i);
      if (take.length >= perChunk) break;
    }
    if (!take.length) return null;
    take.forEach((i) => S.requested.add(`f${i}`));
    const encoding = transfer === "auto" ? S.encoding : transfer;
    return { kind: "full", slices: take, encoding, ...(probing ? { chunk_bytes: PROBE_CHUNK_BYTES } : {}) };
  }
  function evict() {
    const cap = fullCap();
    if (S.fullCount <= cap) return;
    const keep = new Set();
    let k = 0;
    for (const i of around(S.index, S.n)) {
      if (k++ >= cap) break;
      keep.add(i);
    }
    for (let i = 0; i < S.n && S.fullCount > cap; i++) {
      if (S.full[i] && !keep.has(i)) {
        S.full[i] = null;
        S.fullCount--;
        S.requested.delete(`f${i}`);
        if (!S.prev[i] && S.jpeg[i]) {
          const gen = S.gen;
          decodePreview(i, /** @type {Uint8Array} */ (S.jpeg[i]))
            .then((gray) => S.gen === gen && storePreview(i, gray, S.prevWin[i]))
            .catch(showError);
        }
      }
    }
  }
  function pump() {
    if (!S.n) return;
    evict();
    while (S.inflight.size < MAX_INFLIGHT) {
      const req = nextRequest();
      if (!req) break;
      const id = S.nextId++;
      S.inflight.set(id, { sent: performance.now(), kind: req.kind });
      model.send({ type: "want", id, generation: S.gen, ...req });
    }
  }

  /**
   * Decode a preview JPEG at the size it was sent (a quarter of the pixels of a
   * large slice; the drawing scales it up). WebCodecs' ImageDecoder where the page
   * offers it (a secure context: https or localhost) takes half the time of a
   * canvas, whose pixel read-back is the costly part. Records the size in S.prevSize.
   */
  async function decodePreview(i, jpeg) {
    if (S.webcodecs) {
      try {
        const { gray, w, h } = await decodeGrayJpeg(jpeg);
        S.prevSize[i] = [w, h];
        return gray;
      } catch (_) {
        S.webcodecs = false; // this browser cannot: the canvas from now on
      }
    }
    const bitmap = await createImageBitmap(new Blob([jpeg], { type: "image/jpeg" }));
    const w = bitmap.width, h = bitmap.height;
    if (scratch.width !== w || scratch.height !== h) {
      scratch.width = w;
      scratch.height = h;
    }
    sctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    S.prevSize[i] = [w, h];
    const rgba = sctx.getImageData(0, 0, w, h).data;
    const gray = new Uint8Array(w * h);
    for (let p = 0; p < gray.length; p++) gray[p] = rgba[4 * p];
    return gray;
  }

  function storePreview(i, gray, win) {
    if (!gray || S.full[i] || !win) return;
    if (!S.prev[i]) S.prevCount++;
    if (S.prev[i] !== gray && i === S.index) S.drawn = ""; // sent again (a reformat filling in): redraw
    S.prev[i] = gray;
    S.prevWin[i] = win;
  }
  function storeFull(i, values) {
    if (!S.full[i]) S.fullCount++;
    S.full[i] = values;
    if (S.prev[i]) {
      S.prev[i] = null; // the preview is replaced by the real values
      S.prevCount--;
    }
  }

  /**
   * Estimate the link's throughput from a full-quality message that just arrived
   * right after another chunk of the same answer: its bytes over the gap between
   * the two arrivals. The kernel sends an answer's chunks back to back (they are
   * made ahead on its thread pool), so the gap is the link's time, not the time the
   * kernel spent on other requests (previews) in between, which the time since the
   * request would count. Two slow samples (median) switch "auto" to deflate.
   */
  function measureLink(msg, bytes, arrived) {
    const prev = S.lastArrival;
    S.lastArrival = { id: msg.id, t: arrived };
    if (msg.kind !== "full" || msg.encoding === "deflate" || bytes.length < 2.5e5) return;
    if (!prev || prev.id !== msg.id) return;
    S.bwSamples.push(bytes.length / Math.max(arrived - prev.t, 1));
    if (S.bwSamples.length >= 2 && get("transfer") === "auto" && S.encoding === "planes") {
      if (linkSpeed() < SLOW_LINK_BYTES_PER_MS) S.encoding = "deflate";
    }
  }
  /** The median measured link throughput, bytes per ms (0 until ``least`` samples). */
  function linkSpeed(least = 2) {
    if (S.bwSamples.length < least) return 0;
    const sorted = [...S.bwSamples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }
  /**
   * A remote series still downloading: the kernel answers only the slices it has
   * and lists the others as ``missing``; a "ready" message names slices that have
   * arrived since. A slice already said to have arrived is never marked missing
   * (the two messages come from different kernel threads, in either order).
   */
  function noteMissing(list) {
    for (const i of list || []) {
      S.requested.delete(`p${i}`);
      S.requested.delete(`f${i}`);
      if (!S.arrived.has(i)) S.missing.add(i);
    }
  }
  function onReady(msg) {
    if (msg.generation !== S.gen) return;
    for (const i of msg.slices || []) {
      S.arrived.add(i);
      S.missing.delete(i);
    }
    S.download = { loaded: msg.loaded, total: msg.total };
    updateText();
    pump();
  }

  async function onChunk(msg, buffers) {
    const gen = S.gen;
    if (msg.generation !== undefined && msg.generation !== gen) return;
    const bytes = buffers.length ? bytesOf(buffers[0]) : new Uint8Array(0);
    S.stats.bytes += bytes.length;
    S.stats.messages++;
    S.stats.maxMessage = Math.max(S.stats.maxMessage, bytes.length);
    S.stats.kernelMs += Number(msg.ms) || 0;
    const began = performance.now();
    if (msg.kind === "full" && S.stats.firstFull === null) S.stats.firstFull = began - S.stats.render;
    noteMissing(msg.missing);
    if (msg.last) {
      S.inflight.delete(msg.id);
      pump(); // the next request travels while this chunk decodes
    }
    const slices = msg.slices || [];
    if (msg.kind === "preview") {
      // decode the chunk's JPEGs in parallel (the browser decodes off the main thread)
      let off = 0;
      const decodes = slices.map((i, k) => {
        const jpeg = bytes.slice(off, off + msg.lengths[k]);
        off += msg.lengths[k];
        S.jpeg[i] = jpeg;
        return S.full[i] ? null : decodePreview(i, jpeg);
      });
      const here = slices.indexOf(S.index);
      if (here >= 0 && decodes[here]) {
        const gray = await decodes[here]; // the slice on screen as soon as it is ready
        if (S.gen !== gen) return;
        storePreview(slices[here], gray, msg.window);
        paint();
      }
      const grays = await Promise.all(decodes);
      if (S.gen !== gen) return;
      slices.forEach((i, k) => storePreview(i, grays[k], msg.window));
      if (slices.includes(S.index)) paint();
    } else if (msg.kind === "full") {
      // Raw values are used where they landed (no copy) when aligned for 16-bit views.
      let plain = bytes;
      if (msg.encoding === "deflate") plain = await inflateShuffled(bytes, msg.raw_bytes);
      else if (msg.encoding === "planes") plain = await unplane(bytes, msg.raw_bytes);
      else if (bytes.byteOffset % 2) plain = bytes.slice();
      if (S.gen !== gen) return;
      const per = msg.rows * S.cols * 2;
      const Typed = S.off ? Int16Array : Uint16Array;
      slices.forEach((i, k) => {
        const part = plain.subarray(k * per, (k + 1) * per);
        if (msg.rows === S.rows) {
          storeFull(i, new Typed(part.buffer, part.byteOffset, per / 2));
          return;
        }
        const acc = S.partial.get(i) || { data: new Uint8Array(S.sliceBytes), rows: 0 };
        acc.data.set(part, msg.row0 * S.cols * 2);
        acc.rows += msg.rows;
        S.partial.set(i, acc);
        if (acc.rows >= S.rows) {
          S.partial.delete(i);
          storeFull(i, new Typed(acc.data.buffer));
        }
      });
      if (slices.includes(S.index)) paint();
    }
    const t = performance.now() - S.stats.render;
    if (S.stats.scrollable === null && S.prevCount + S.fullCount >= S.n) S.stats.scrollable = t;
    if (S.stats.full === null && S.fullCount >= S.n) S.stats.full = t;
    updateText();
    pump();
    S.stats.browserMs += performance.now() - began;
  }

  // Chunks are decoded side by side, not one after another: inflating and JPEG
  // decoding run off the main thread, and every slice stands alone, so a chunk need
  // not wait for the one before. What must follow arrival order (requests answered,
  // slices missing or arrived) happens before the first await of onChunk.
  model.on("msg:custom", (msg, buffers) => {
    if (msg && msg.type === "ready") {
      guard(onReady)(msg);
      return;
    }
    if (!msg || msg.type !== "chunk") return;
    if (msg.generation === undefined || msg.generation === S.gen) {
      const bytes = buffers && buffers.length ? bytesOf(buffers[0]) : new Uint8Array(0);
      measureLink(msg, bytes, performance.now());
    }
    onChunk(msg, buffers || []).catch(showError);
  });

  // ---------------------------------------------------------------- toolbar
  // Buttons, preset menu, cine rate; annotation legend.
  function button(label, titleText, onClick) {
    const b = /** @type {HTMLButtonElement} */ (h("button", "tfv-btn", bar));
    b.type = "button";
    b.textContent = label;
    b.title = titleText;
    b.addEventListener("click", guard(onClick));
    return b;
  }
  const viewButtons = {};
  function buildToolbar() {
    bar.textContent = "";
    for (const v of get("views")) {
      viewButtons[v] = button(v[0].toUpperCase() + v.slice(1, 3), `${v} view (${v[0]})`, () => setView(v));
    }
    const select = /** @type {HTMLSelectElement} */ (h("select", "tfv-select", bar));
    select.title = "window preset (number keys)";
    select.setAttribute("aria-label", "window preset");
    const custom = h("option", "", select);
    custom.textContent = "custom";
    custom.setAttribute("value", "");
    for (const p of get("presets")) {
      const o = /** @type {HTMLOptionElement} */ (h("option", "", select));
      o.value = p.name;
      o.textContent = `${p.key ? p.key + " " : ""}${p.name}`;
    }
    select.value = get("preset");
    select.addEventListener("change", guard(() => select.value && applyPreset(select.value)));
    button("Invert", "invert (i)", () => toggle("invert"));
    button("Overlay", "annotations on/off (o)", () => toggle("show_overlay"));
    const play = button(get("playing") ? "Pause" : "Play", "cine (space)", () => toggle("playing"));
    play.classList.add("tfv-play");
    const fps = /** @type {HTMLInputElement} */ (h("input", "tfv-fps", bar));
    fps.type = "number";
    fps.min = "1";
    fps.max = "60";
    fps.value = String(get("fps"));
    fps.title = "cine frames per second";
    fps.setAttribute("aria-label", "frames per second");
    fps.addEventListener("change", guard(() => {
      model.set("fps", Math.max(1, Math.min(60, Number(fps.value) || 10)));
      save(true);
    }));
    button("Reset", "reset zoom, pan and window (r)", reset);
    syncToolbar();
  }
  function syncToolbar() {
    for (const [v, b] of Object.entries(viewButtons)) b.setAttribute("aria-pressed", String(v === get("view")));
    const select = bar.querySelector("select");
    if (select) select.value = get("preset");
    const play = bar.querySelector(".tfv-play");
    if (play) play.textContent = get("playing") ? "Pause" : "Play";
    title.textContent = get("title");
    title.hidden = !get("title");
    legendUpdate();
  }
  /** Group the annotations by slice (for drawing) and count them by label (legend). */
  function indexShapes() {
    S.shapesBySlice.clear();
    legend.textContent = "";
    const byLabel = new Map();
    for (const a of get("annotations")) {
      const onSlice = S.shapesBySlice.get(a.slice);
      if (onSlice) onSlice.push(a);
      else S.shapesBySlice.set(a.slice, [a]);
      const seen = byLabel.get(a.label);
      if (seen) seen.n++;
      else byLabel.set(a.label, { color: a.color, n: 1 });
    }
    for (const [label, { color, n }] of byLabel) {
      const item = h("span", "tfv-legend-item", legend);
      const sw = h("span", "tfv-swatch", item);
      sw.style.background = color;
      h("span", "", item).textContent = `${label || "annotation"} (${n})`;
    }
  }
  function legendUpdate() {
    legend.hidden = !get("annotations").length || get("view") !== "axial";
    legend.classList.toggle("tfv-off", !get("show_overlay"));
  }
  function toggle(name) {
    model.set(name, !get(name));
    save(true);
  }
  function setView(v) {
    if (get("views").includes(v) && v !== get("view")) {
      model.set("view", v);
      save(true);
    }
  }
  function applyPreset(name) {
    const p = get("presets").find((q) => q.name === name);
    if (!p) return;
    setWindow(p.center, p.width, p.name);
    save(true);
  }
  function reset() {
    setZoomPan(1, [0, 0]);
    const p = get("presets")[0];
    if (p) setWindow(p.center, p.width, p.name);
    save(true);
  }
  function zoomBy(factor, cx, cy) {
    const before = cx === undefined ? null : toImage(cx, cy);
    S.zoom = Math.max(0.25, Math.min(32, S.zoom * factor));
    let pan = S.pan;
    if (before) {
      const after = toImage(cx, cy);
      pan = [pan[0] + after[0] - before[0], pan[1] + after[1] - before[1]];
    }
    setZoomPan(S.zoom, pan);
    save();
  }

  // ---------------------------------------------------------------- input
  // Keyboard, wheel (scroll, ctrl+wheel zoom), pointer (window/level, pan, draw).
  const onKey = guard((e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) {
      if (e.target !== slider) return;
    }
    const n = S.n;
    const page = Math.max(1, Math.round(n / 10));
    const k = e.key;
    const go = (i) => setIndex(i, e.repeat); // a held key syncs Python at most every SAVE_EVERY_MS
    let handled = true;
    if (k === "ArrowDown" || k === "ArrowRight") go(S.index + 1);
    else if (k === "ArrowUp" || k === "ArrowLeft") go(S.index - 1);
    else if (k === "PageDown") go(S.index + page);
    else if (k === "PageUp") go(S.index - page);
    else if (k === "Home") go(0);
    else if (k === "End") go(n - 1);
    else if (k === "+" || k === "=") zoomBy(1.25);
    else if (k === "-" || k === "_") zoomBy(0.8);
    else if (k === "r" || k === "0") reset();
    else if (k === " ") toggle("playing");
    else if (k === "i") toggle("invert");
    else if (k === "o") toggle("show_overlay");
    else if (k === "a") setView("axial");
    else if (k === "c") setView("coronal");
    else if (k === "s") setView("sagittal");
    else if (k === "Escape") { S.draft = []; paint(); }
    else if (k === "Enter" && get("mode") === "polygon") finishPolygon();
    else if (/^[1-9]$/.test(k)) {
      const p = get("presets").find((q) => q.key === k);
      if (p) applyPreset(p.name);
      else handled = false;
    } else handled = false;
    if (handled) e.preventDefault();
  });
  root.addEventListener("keydown", onKey);
  // dragging the slider fires an input per pixel: sync Python throttled, and at the end
  slider.addEventListener("input", guard(() => setIndex(Number(slider.value), true)));
  slider.addEventListener("change", guard(() => save(true)));

  let wheelAcc = 0;
  stage.addEventListener("wheel", guard((e) => {
    e.preventDefault();
    if (e.ctrlKey || e.metaKey) {
      // 1.1 per notch (100 px or a line), in proportion: a trackpad's small deltas
      // zoom smoothly, and notches the browser merges under load are all counted
      const notches = e.deltaMode === 0 ? e.deltaY / 100 : e.deltaY / 3; // 3 lines a notch
      zoomBy(1.1 ** -notches, e.clientX, e.clientY);
      return;
    }
    // A mouse notch (deltaY ~100 px, or 1-3 lines) moves one slice per notch;
    // a trackpad's small deltas add up until they make a whole slice.
    const step = e.deltaMode === 0 ? e.deltaY / 100 : Math.sign(e.deltaY);
    if (Math.abs(step) >= 1) {
      wheelAcc = 0;
      setIndex(S.index + Math.round(step), true);
      return;
    }
    wheelAcc += step;
    if (Math.abs(wheelAcc) >= 1) {
      const whole = Math.trunc(wheelAcc);
      wheelAcc -= whole;
      setIndex(S.index + whole, true);
    }
  }), { passive: false });

  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("pointerdown", guard((e) => {
    root.focus({ preventScroll: true });
    try {
      canvas.setPointerCapture(e.pointerId);
    } catch (_) {
      /* synthetic pointers (tests, benchmarks) cannot be captured */
    }
    const mode = get("mode");
    const [x, y] = toImage(e.clientX, e.clientY);
    let kind = "wl";
    if (e.button === 1 || e.button === 2 || e.shiftKey) kind = "pan";
    else if (mode === "box") kind = "box";
    else if (mode === "freehand") kind = "free";
    S.drag = { kind, sx: e.clientX, sy: e.clientY, c: S.center, w: S.width, pan: [...S.pan], x, y, moved: false };
    if (kind === "box") S.draft = [[x, y], [x, y]];
    else if (kind === "free") S.draft = [[x, y]];
  }));
  canvas.addEventListener("pointermove", guard((e) => {
    S.pointer = toImage(e.clientX, e.clientY);
    const d = S.drag;
    if (!d) {
      readout();
      return;
    }
    const dx = e.clientX - d.sx, dy = e.clientY - d.sy;
    if (Math.abs(dx) + Math.abs(dy) > 3) d.moved = true;
    if (!d.moved) return;
    if (d.kind === "wl") {
      const k = Math.max(d.w / 256, 0.05);
      setWindow(d.c + dy * k, Math.max(1, d.w + dx * 2 * k));
      save();
    } else if (d.kind === "pan") {
      const r = canvas.getBoundingClientRect();
      const T = transform();
      const dpr = canvas.width / Math.max(1, r.width);
      setZoomPan(S.zoom, [d.pan[0] + (dx * dpr) / T.sx, d.pan[1] + (dy * dpr) / T.sy]);
      save();
    } else if (d.kind === "box") {
      S.draft[1] = S.pointer;
      paint();
    } else if (d.kind === "free") {
      const last = S.draft[S.draft.length - 1];
      if (Math.hypot(S.pointer[0] - last[0], S.pointer[1] - last[1]) >= 0.5) S.draft.push(S.pointer);
      paint();
    }
  }));
  canvas.addEventListener("pointerleave", () => {
    S.pointer = null;
    readout();
  });
  canvas.addEventListener("pointerup", guard((e) => {
    const d = S.drag;
    S.drag = null;
    if (!d) return;
    const mode = get("mode");
    if (d.kind === "free") {
      const pts = simplifyPath(S.draft, 0.75);
      S.draft = [];
      if (d.moved && pts.length >= 3) model.send({ type: "shape", kind: "freehand", index: S.index, points: pts });
      paint();
    } else if (d.kind === "box" && d.moved) {
      const [[x0, y0], [x1, y1]] = S.draft;
      S.draft = [];
      model.send({ type: "shape", kind: "box", index: S.index, points: [[Math.min(x0, x1), Math.min(y0, y1)], [Math.max(x0, x1), Math.max(y0, y1)]] });
      paint();
    } else if (!d.moved && e.button === 0) {
      const [x, y] = toImage(e.clientX, e.clientY);
      if (mode === "polygon") {
        S.draft.push([x, y]);
        paint();
      } else {
        S.draft = [];
        model.send({ type: "click", index: S.index, x, y });
      }
    } else if (d.kind === "wl" || d.kind === "pan") {
      save(true);
    }
  }));
  canvas.addEventListener("dblclick", guard(() => get("mode") === "polygon" && finishPolygon()));
  /**
   * Ramer-Douglas-Peucker: drop the path's points within `eps` image pixels of the
   * line through their neighbours kept (a drag gives one point per pointer event).
   * @param {number[][]} pts @param {number} eps @returns {number[][]}
   */
  function simplifyPath(pts, eps) {
    if (pts.length < 3) return pts.slice();
    const keep = new Uint8Array(pts.length);
    keep[0] = keep[pts.length - 1] = 1;
    const stack = [[0, pts.length - 1]];
    while (stack.length) {
      const [a, b] = /** @type {number[]} */ (stack.pop());
      const [ax, ay] = pts[a], [bx, by] = pts[b];
      const len = Math.hypot(bx - ax, by - ay);
      let far = -1, best = eps;
      for (let k = a + 1; k < b; k++) {
        const [px, py] = pts[k];
        const dist = len > 0 ? Math.abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / len : Math.hypot(px - ax, py - ay);
        if (dist > best) { best = dist; far = k; }
      }
      if (far >= 0) {
        keep[far] = 1;
        stack.push([a, far], [far, b]);
      }
    }
    const out = pts.filter((_, k) => keep[k]);
    // a closed outline: the release point near the start is the start
    const [f, l] = [out[0], out[out.length - 1]];
    if (out.length > 3 && Math.hypot(f[0] - l[0], f[1] - l[1]) <= eps * 2) out.pop();
    return out;
  }
  function finishPolygon() {
    // a double click also delivered two single clicks: drop the duplicate vertex
    const pts = S.draft.filter((p, k, all) => !k || Math.hypot(p[0] - all[k - 1][0], p[1] - all[k - 1][1]) > 0.5);
    S.draft = [];
    if (pts.length >= 3) model.send({ type: "shape", kind: "polygon", index: S.index, points: pts });
    paint();
  }

  // ---------------------------------------------------------------- cine
  // Play the stack at the chosen frame rate.
  let cineFrame = 0, cineLast = 0;
  function cine(now) {
    cineFrame = 0;
    if (!get("playing") || !S.n) return;
    if (now - cineLast >= 1000 / Math.max(1, get("fps"))) {
      cineLast = now;
      const next = S.index + 1 >= S.n ? 0 : S.index + 1;
      setIndex(next, true);
    }
    cineFrame = requestAnimationFrame(cine);
  }
  function cineState() {
    if (get("playing") && !cineFrame) cineFrame = requestAnimationFrame(cine);
    syncToolbar();
  }

  // ---------------------------------------------------------------- model events
  // Changes from Python (or another view of the same model).
  const on = (names, fn) => {
    const g = guard(fn);
    for (const name of names.split(" ")) model.on(`change:${name}`, g);
    return () => names.split(" ").forEach((name) => model.off(`change:${name}`, g));
  };
  const offs = [
    on("generation", () => { buildToolbar(); resetStack(); }),
    on("index", () => {
      const i = get("index");
      if (i !== S.index) { S.index = Math.max(0, Math.min(S.n - 1, i)); paint(); pump(); }
    }),
    on("window_center window_width invert", () => {
      if (S.local) return;
      S.center = get("window_center");
      S.width = Math.max(1, get("window_width"));
      S.invert = get("invert");
      paint();
      syncToolbar();
    }),
    on("preset", syncToolbar),
    on("zoom pan", () => {
      if (S.local) return;
      S.zoom = get("zoom");
      S.pan = [...get("pan")];
      paint();
    }),
    on("annotations", indexShapes),
    on("show_overlay annotations view title", () => { syncToolbar(); paint(); }),
    on("presets views", buildToolbar),
    on("playing fps", cineState),
    on("mode", () => { S.draft = []; paint(); }),
    on("error", () => {
      const text = get("error");
      errorBox.hidden = !text;
      errorBox.textContent = text ? `Viewer error: ${text}` : "";
    }),
  ];

  // ---------------------------------------------------------------- start
  // Initial state, first requests, and the clean-up anywidget calls.
  guard(() => {
    S.center = get("window_center");
    S.width = Math.max(1, get("window_width"));
    S.invert = get("invert");
    S.zoom = get("zoom");
    S.pan = [...get("pan")];
    indexShapes();
    buildToolbar();
    if (get("error")) { errorBox.hidden = false; errorBox.textContent = `Viewer error: ${get("error")}`; }
    resetStack();
    cineState();
  })();
  const resize = new ResizeObserver(guard(paint));
  resize.observe(stage);
  // the whole state again (and the slices that landed), or a new model if this one
  // cannot hear the kernel (_resync.js)
  const stopGreeting = greet(model);

  return () => {
    stopGreeting();
    resize.disconnect();
    offs.forEach((off) => off());
    if (cineFrame) cancelAnimationFrame(cineFrame);
    const k = registry.indexOf(handle);
    if (k >= 0) registry.splice(k, 1);
  };
}

export default { render };
