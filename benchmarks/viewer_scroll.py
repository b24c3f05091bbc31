"""Scroll benchmark: the stack viewer against the naive kernel-round-trip baseline.

Serves ``tests/browser/notebooks/{viewer,baseline}_bench.ipynb`` with Voila on
loopback, drives Debian's headless Chromium with Playwright, and measures for a
512 x 512 x 300 CT phantom (``--slices``/``--size`` change it):

* scroll: input event -> slice drawn on the canvas (``scroll_*``), and input ->
  the next animation frame after the draw (``scroll_frame_*``, what the eye waits
  for, including the wait for vsync); steps are fired at random phases of the frame;
* the naive baseline (``ipywidgets.Image`` + ``IntSlider``, a PNG per slice encoded
  in the kernel): input -> new image loaded, and -> next frame;
* a held key: 100 presses at 30 per second, and how many of those slices were on
  screen in some animation frame;
* render -> first slice, -> whole series scrollable (preview), -> full fidelity;
  binary payload bytes the viewer received (``ws_bytes``; counted by the viewer:
  hooking Playwright's websocket frames would copy every frame to this process and
  slow the stream it measures); the kernel's encoding time (``kernel_ms``); the CPU
  seconds the kernel, server and Chromium spent from page open to full fidelity
  (``cpu_s``: unlike the times, these hold when the machine is loaded);
  window/level drag latency; kernel RSS and renderer heap (JS heap + array buffers);
* the same first-slice/scrollable/full times under Chromium's network emulation at
  100 Mbit/s and 20 ms latency.

Run ``python benchmarks/viewer_scroll.py [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from serving import chromium, voila  # noqa: E402

SCROLL_JS = """
async ([steps, target]) => {
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const jitter = () => new Promise((r) => setTimeout(r, Math.random() * 16.7));
  const h = globalThis.__tfViewers[0];
  const el = target === "canvas" ? h.el.querySelector("canvas") : h.el;
  h.el.focus();
  const draw = [], toFrame = [];
  let nextFrame = 0, down = true;
  const rect = el.getBoundingClientRect();
  const cx = rect.left + rect.width / 2, cy = rect.top + rect.height / 2;
  if (target === "canvas") el.dispatchEvent(new PointerEvent("pointerdown", {
      bubbles: true, clientX: cx, clientY: cy, button: 0, pointerId: 1 }));
  for (let k = 0; k < steps; k++) {
    await frame();
    await jitter();
    const before = h.paints.length;
    let ev;
    if (target === "canvas") {
      const dx = 4 * (k + 1) * (Math.floor(k / 50) % 2 ? -1 : 1);
      ev = new PointerEvent("pointermove",
        { bubbles: true, clientX: cx + dx, clientY: cy + dx / 2, pointerId: 1 });
    } else {
      if (h.state.index >= h.state.n - 1) down = false;
      if (h.state.index <= 0) down = true;
      const key = down ? "ArrowDown" : "ArrowUp";
      ev = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true });
    }
    el.dispatchEvent(ev);
    for (let wait = 0; h.paints.length === before; wait++) {
      if (wait > 300) throw new Error(`step ${k}: nothing painted`);
      await frame();
    }
    draw.push(h.paints[h.paints.length - 1].t - ev.timeStamp);
    const tf = await frame();
    toFrame.push(tf - ev.timeStamp);
    if (tf >= h.paints[h.paints.length - 1].t) nextFrame++;
  }
  if (target === "canvas") {
    el.dispatchEvent(new PointerEvent("pointerup", { bubbles: true, pointerId: 1, button: 0 }));
  }
  return { draw, toFrame, nextFrame };
}
"""

BURST_JS = """
async ([n, hz]) => {
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const h = globalThis.__tfViewers[0];
  h.el.focus();
  h.el.dispatchEvent(new KeyboardEvent("keydown", { key: "Home", bubbles: true }));
  await frame(); await frame();
  const seen = new Set();
  let running = true;
  const watch = () => { seen.add(h.state.index); if (running) requestAnimationFrame(watch); };
  requestAnimationFrame(watch);
  const start = performance.now();
  for (let k = 0; k < n; k++) {
    const due = start + (k * 1000) / hz;
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    h.el.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
  }
  await frame(); await frame(); await frame();
  running = false;
  let painted = 0;
  for (let i = 1; i <= n; i++) if (seen.has(i)) painted++;
  return painted;
}
"""

BASELINE_SCROLL_JS = """
async (steps) => {
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const jitter = () => new Promise((r) => setTimeout(r, Math.random() * 16.7));
  const handle = document.querySelector(".noUi-handle");
  const img = document.querySelector(".widget-image");
  handle.focus();
  const draw = [], toFrame = [];
  let right = true;
  for (let k = 0; k < steps; k++) {
    await frame();
    await jitter();
    const loaded = new Promise((r, reject) => {
      img.addEventListener("load", () => r(performance.now()), { once: true });
      setTimeout(() => reject(new Error(`step ${k}: no new image within 5 s`)), 5000);
    });
    const now = Number(handle.getAttribute("aria-valuenow"));
    if (now >= Number(handle.getAttribute("aria-valuemax"))) right = false;
    if (now <= Number(handle.getAttribute("aria-valuemin"))) right = true;
    const key = right ? "ArrowRight" : "ArrowLeft";
    const ev = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true });
    handle.dispatchEvent(ev);
    const t1 = await loaded;
    draw.push(t1 - ev.timeStamp);
    toFrame.push((await frame()) - ev.timeStamp);
  }
  return { draw, toFrame };
}
"""

BASELINE_BURST_JS = """
async ([n, hz]) => {
  const handle = document.querySelector(".noUi-handle");
  const img = document.querySelector(".widget-image");
  handle.focus();
  let loads = 0, last = performance.now();
  img.addEventListener("load", () => { loads++; last = performance.now(); });
  const start = performance.now();
  for (let k = 0; k < n; k++) {
    const due = start + (k * 1000) / hz;
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    handle.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
    last = Math.max(last, performance.now());
  }
  // the kernel answers late: count images until none has arrived for a second
  while (performance.now() - last < 1000) await new Promise((r) => setTimeout(r, 50));
  return loads;
}
"""


def p95(values: list[float]) -> float:
    """Return the 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    """Return the resident memory of process ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def kernel_rss_mb(server_pid: int) -> float:
    """Return the resident memory of the kernels Voila started (its children), MB."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == server_pid:
            total += rss_mb(int(stat.parent.name))
    return total


def cpu_seconds() -> dict[str, float]:
    """Return the CPU seconds used so far by this process's descendants, by kind.

    Kinds: ``kernel`` (ipykernel), ``server`` (Voila/Jupyter), ``chromium``. Unlike
    wall-clock times, these barely change when other work loads the machine.
    """
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        procs[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    mine = {os.getpid()}
    grew = True
    while grew:
        found = {pid for pid, (parent, _) in procs.items() if parent in mine} - mine
        mine |= found
        grew = bool(found)
    out: dict[str, float] = {}
    for pid in mine - {os.getpid()}:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        kind = (
            "kernel"
            if b"ipykernel" in cmd
            else "server"
            if b"voila" in cmd or b"jupyter" in cmd
            else "chromium"
            if b"chrom" in cmd
            else ""
        )
        if kind:
            out[kind] = out.get(kind, 0.0) + procs[pid][1]
    return out


def open_viewer(browser: Any, url: str, net: bool = False) -> Any:
    """Open ``url`` in a new page, optionally on an emulated slow link."""
    page = browser.new_page(viewport={"width": 1000, "height": 1100})
    if net:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 20,
                "downloadThroughput": 100e6 / 8,
                "uploadThroughput": 100e6 / 8,
            },
        )
    page.goto(url, timeout=120_000)
    return page


def wait_full(page: Any, timeout: float) -> dict[str, Any]:
    """Wait until the viewer holds every slice at full quality; return its timings."""
    page.wait_for_function(
        "() => { const s = globalThis.__tfViewers?.[0]?.stats; return s && s.full !== null; }",
        timeout=timeout,
    )
    return dict(page.evaluate("globalThis.__tfViewers[0].stats"))


def log(text: str) -> None:
    """Report progress on stderr (stdout carries the result)."""
    print(text, file=sys.stderr, flush=True)


def measure(slices: int, size: int, steps: int) -> dict[str, Any]:
    """Run every measurement; return the figures (see the module docstring)."""
    from playwright.sync_api import sync_playwright

    cache = tempfile.mkdtemp(prefix="tf-bench-")
    env = {"TF_BENCH_SLICES": str(slices), "TF_BENCH_SIZE": str(size), "TF_BENCH_CACHE": cache}
    out: dict[str, Any] = {"slices": slices, "size": size}
    with voila(env=env, timeout=120) as base, sync_playwright() as pw, chromium(pw) as browser:
        log("warming")
        # warm the phantom cache and the server (not measured)
        page = open_viewer(browser, f"{base}/voila/render/viewer_bench.ipynb")
        wait_full(page, 120_000)
        page.close()

        log("viewer on loopback")
        before = cpu_seconds()
        page = open_viewer(browser, f"{base}/voila/render/viewer_bench.ipynb")
        stats = wait_full(page, 120_000)
        after = cpu_seconds()
        # CPU seconds from opening the page to full fidelity (chromium: its busiest
        # processes; a page closed earlier may make the sum slightly low)
        out["cpu_s"] = {k: round(after[k] - before.get(k, 0.0), 2) for k in sorted(after)}
        out["first_slice_ms"] = round(stats["firstPaint"], 1)
        out["scrollable_ms"] = round(stats["scrollable"], 1)
        out["full_series_ms"] = round(stats["full"], 1)
        out["ws_bytes"] = stats["bytes"]
        out["kernel_ms"] = round(stats["kernelMs"], 1)
        out["encoding"] = page.evaluate("globalThis.__tfViewers[0].state.encoding")
        out["max_message_bytes"] = stats["maxMessage"]
        out["messages"] = stats["messages"]
        log("scroll")
        scroll = page.evaluate(SCROLL_JS, [steps, "root"])
        out["scroll_median_ms"] = round(median(scroll["draw"]), 2)
        out["scroll_p95_ms"] = round(p95(scroll["draw"]), 2)
        out["scroll_frame_median_ms"] = round(median(scroll["toFrame"]), 2)
        out["scroll_frame_p95_ms"] = round(p95(scroll["toFrame"]), 2)
        out["scroll_next_frame_fraction"] = round(scroll["nextFrame"] / steps, 3)
        out["burst_keys"] = 100
        log("burst")
        out["burst_frames_painted"] = page.evaluate(BURST_JS, [100, 30])
        log("window/level")
        wl = page.evaluate(SCROLL_JS, [100, "canvas"])
        out["wl_median_ms"] = round(median(wl["draw"]), 2)
        out["wl_p95_ms"] = round(p95(wl["draw"]), 2)
        out["wl_frame_p95_ms"] = round(p95(wl["toFrame"]), 2)
        cdp = page.context.new_cdp_session(page)
        heap = cdp.send("Runtime.getHeapUsage")
        out["renderer_mb"] = round(
            (heap.get("usedSize", 0) + heap.get("backingStorageSize", 0)) / 2**20, 1
        )
        out["kernel_mb"] = round(kernel_rss_mb(base.pid), 1)
        page.close()

        log("baseline")
        page = browser.new_page(viewport={"width": 1000, "height": 1100})
        page.goto(f"{base}/voila/render/baseline_bench.ipynb", timeout=120_000)
        page.wait_for_selector(".noUi-handle", timeout=120_000)
        page.wait_for_function("() => document.querySelector('.widget-image')?.complete")
        base_scroll = page.evaluate(BASELINE_SCROLL_JS, min(steps, 100))
        out["baseline_scroll_median_ms"] = round(median(base_scroll["draw"]), 2)
        out["baseline_scroll_p95_ms"] = round(p95(base_scroll["draw"]), 2)
        out["baseline_scroll_frame_median_ms"] = round(median(base_scroll["toFrame"]), 2)
        out["baseline_burst_frames_painted"] = page.evaluate(BASELINE_BURST_JS, [100, 30])
        page.close()
        out["speedup"] = round(
            out["baseline_scroll_frame_median_ms"] / out["scroll_frame_median_ms"], 1
        )

        log("emulated network")
        page = open_viewer(browser, f"{base}/voila/render/viewer_bench.ipynb", net=True)
        stats = wait_full(page, 180_000)
        out["net"] = {
            "first_slice_ms": round(stats["firstPaint"], 1),
            "scrollable_ms": round(stats["scrollable"], 1),
            "full_series_ms": round(stats["full"], 1),
            "ws_bytes": stats["bytes"],
            "kernel_ms": round(stats["kernelMs"], 1),
            "encoding": page.evaluate("globalThis.__tfViewers[0].state.encoding"),
        }
        page.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=200, help="scroll steps measured")
    args = parser.parse_args(argv)
    result = measure(args.slices, args.size, args.steps)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:32s} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
