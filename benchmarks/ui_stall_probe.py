"""Where the UI thread's stalls come from: a probe for benchmarks/window_responsiveness.py (--profile).

`StallProbe` runs, beside the window, while training goes on:
- a 10 ms heartbeat timer on the UI thread (as the self-test's StallWatch) that also reads the UI thread's
  scheduler counters (/proc/self/task/<tid>/schedstat: nanoseconds on a CPU, nanoseconds runnable but
  waiting for a CPU), so a gap splits into: on CPU (work), waiting for a core (the machine is busy), and
  the rest: blocked (waiting for the interpreter lock, or the X server);
- a sampling thread that every 2 ms reads the UI thread's Python stack (sys._current_frames) and, when the
  heartbeat is late, the training thread's stack too: what the UI thread does while stalled, and what held
  the interpreter meanwhile;
- gc.callbacks timing every garbage collection, with its thread and generation.
`report()` turns that into plain lines: the stall-cause table (ms per cause, summed over stalls > 50 ms)
and the UI thread's busiest stacks over the whole run.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

STALL_MS = 50.0
LATE_MS = 25.0  # the heartbeat is this late: sample stacks as part of a (possible) stall
IDLE_FUNCTIONS = {"wait_until", "exec", "_exec", "qWait", "main"}


def _schedstat(tid: int) -> tuple[int, int]:
    try:
        run_ns, wait_ns, _slices = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()
        return int(run_ns), int(wait_ns)
    except (OSError, ValueError):
        return 0, 0


def _signature(frame, depth: int = 3) -> str:
    """The innermost frames of a stack, as 'file:function' joined by '<'; 'idle' in the event loop."""
    parts: list[str] = []
    while frame is not None and len(parts) < depth:
        code = frame.f_code
        name = f"{Path(code.co_filename).name}:{code.co_name}"
        if not parts and code.co_name in IDLE_FUNCTIONS:
            return "idle (Qt event loop)"
        parts.append(name)
        frame = frame.f_back
    return " < ".join(parts)


class StallProbe:
    """See the module docstring. start() on the UI thread; stop(); report() -> lines."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.main_ident = threading.main_thread().ident
        self.main_tid = threading.get_native_id()
        self.beat = time.perf_counter()
        self.beat_sched = _schedstat(self.main_tid)
        self.gaps: list[dict] = []
        self.ui_samples: Counter[str] = Counter()
        self.samples = 0
        self.gc_events: list[tuple[float, float, int, str]] = []  # start, ms, generation, thread
        self._gc_started: dict[int, float] = {}
        self._late: list[tuple[str, str]] = []  # (UI stack, training stack) sampled during the current gap
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="stall-probe", daemon=True)
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self.beat, self.beat_sched = time.perf_counter(), _schedstat(self.main_tid)
        self.timer.start()
        self._thread.start()

    def stop(self) -> None:
        self.timer.stop()
        self._stop.set()
        self._thread.join()
        gc.callbacks.remove(self._on_gc)

    # -- the UI thread's heartbeat ---------------------------------------------------------------------------
    def _tick(self) -> None:
        now, sched = time.perf_counter(), _schedstat(self.main_tid)
        gap_ms = (now - self.beat) * 1000.0
        if gap_ms > STALL_MS:
            cpu = (sched[0] - self.beat_sched[0]) / 1e6
            queued = (sched[1] - self.beat_sched[1]) / 1e6
            gcs = [(ms, gen, name) for start, ms, gen, name in self.gc_events if self.beat <= start <= now]
            self.gaps.append({"ms": gap_ms, "cpu": cpu, "queued": queued, "blocked": max(0.0, gap_ms - cpu - queued),
                              "gc": gcs, "stacks": list(self._late)})
        self._late = []
        self.beat, self.beat_sched = now, sched

    # -- the sampling thread ---------------------------------------------------------------------------------
    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            frames = sys._current_frames()
            main = frames.get(self.main_ident)
            ui = _signature(main) if main is not None else "?"
            self.ui_samples[ui] += 1
            self.samples += 1
            if (time.perf_counter() - self.beat) * 1000.0 > LATE_MS:
                training = "none"
                for ident, frame in frames.items():
                    if ident not in (self.main_ident, threading.get_ident()) and _in_training(frame):
                        training = _signature(frame, 2)
                        break
                self._late.append((ui, training))

    def _on_gc(self, phase: str, info: dict) -> None:
        ident = threading.get_ident()
        if phase == "start":
            self._gc_started[ident] = time.perf_counter()
        elif ident in self._gc_started:
            started = self._gc_started.pop(ident)
            name = "UI" if ident == self.main_ident else threading.current_thread().name
            self.gc_events.append((started, (time.perf_counter() - started) * 1000.0, info["generation"], name))

    # -- the report ------------------------------------------------------------------------------------------
    def report(self) -> list[str]:
        stalls = self.gaps
        lines = [f"stall probe: {len(stalls)} UI-thread stalls > {STALL_MS:.0f} ms; their time split by the UI "
                 f"thread's scheduler counters (ms, sum / longest stall's share):"]
        total = sum(g["ms"] for g in stalls)
        for key, text in (("cpu", "UI thread on a CPU (its own work: Python, painting, NumPy)"),
                          ("queued", "UI thread runnable, waiting for a core (other threads/processes on them)"),
                          ("blocked", "UI thread blocked (the interpreter lock held by another thread, or I/O)")):
            longest = max(stalls, key=lambda g: g["ms"]) if stalls else None
            lines.append(f"  {sum(g[key] for g in stalls):8.0f}  {text}; in the longest "
                         f"({longest['ms']:.0f} ms): {longest[key]:.0f}" if longest else f"  0  {text}")
        lines.append(f"  {total:8.0f}  total stall time")
        gc_in_stalls = [c for g in stalls for c in g["gc"]]
        lines.append(f"  garbage collections inside stalls: {len(gc_in_stalls)}, "
                     f"{sum(ms for ms, _g, _n in gc_in_stalls):.0f} ms "
                     + ", ".join(f"gen{g} {ms:.0f} ms on {n}" for ms, g, n in sorted(gc_in_stalls, reverse=True)[:5]))
        everything = [(ms, g, n) for _s, ms, g, n in self.gc_events]
        by_gen = Counter()
        for ms, g, n in everything:
            by_gen[(g, "UI" if n == "UI" else "other threads")] += ms
        lines.append("  all garbage collections: " + ", ".join(
            f"gen{g} on {n} {ms:.0f} ms" for (g, n), ms in sorted(by_gen.items())) +
            f"; longest {max((ms for ms, _g, _n in everything), default=0):.1f} ms")
        ui_late = Counter(ui for g in stalls for ui, _t in g["stacks"])
        training_late = Counter(t for g in stalls for _u, t in g["stacks"])
        lines.append("  UI thread's stack while stalled (2 ms samples): " + "; ".join(
            f"{n}x {s}" for s, n in ui_late.most_common(6)))
        lines.append("  training thread's Python stack meanwhile: " + "; ".join(
            f"{n}x {s}" for s, n in training_late.most_common(5)))
        if stalls:
            longest = max(stalls, key=lambda g: g["ms"])
            lines.append(f"  in the longest stall ({longest['ms']:.0f} ms), the UI thread: " + "; ".join(
                f"{n}x {s}" for s, n in Counter(u for u, _t in longest["stacks"]).most_common(4))
                + " | the training thread: " + "; ".join(
                f"{n}x {s}" for s, n in Counter(t for _u, t in longest["stacks"]).most_common(4)))
        busy = {s: n for s, n in self.ui_samples.items() if not s.startswith("idle")}
        lines.append(f"  UI thread over the whole run ({self.samples} samples; not in the event loop "
                     f"{sum(busy.values()) / max(1, self.samples):.0%}), share of samples: " + "; ".join(
                         f"{n / max(1, self.samples):.1%} {s}" for s, n in Counter(busy).most_common(10)))
        lines.append(f"  objects the collector scans at the end: {len(gc.get_objects())} (frozen, never scanned: "
                     f"{gc.get_freeze_count()})")
        lines.append("  stalls (ms: cpu/queued/blocked): " + ", ".join(
            f"{g['ms']:.0f}: {g['cpu']:.0f}/{g['queued']:.0f}/{g['blocked']:.0f}"
            for g in sorted(stalls, key=lambda g: -g["ms"])[:12]))
        return lines


def _in_training(frame) -> bool:
    """True if a stack belongs to the training thread (runs.py or the trainer is on it)."""
    while frame is not None:
        name = frame.f_code.co_filename
        if "trainer.py" in name or "runs.py" in name:
            return True
        frame = frame.f_back
    return False


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())
