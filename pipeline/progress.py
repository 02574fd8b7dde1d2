"""Progress of a long stage (clean, pretrain, evaluate): a tqdm bar on a terminal, a bounded number of
plain lines anywhere else.

tqdm (a kept library; transformers and datasets use it too) draws the bar and computes the rate and the
ETA. When the stream is not a terminal (``foundry run``'s pipe into the Prefect log, ``logs/<lang>/*.log``,
CI) a bar's carriage returns would make one endless line, and a line per step would make a 1M-step run's
log a million lines long; so :class:`Progress` then writes at most ``FOUNDRY_PROGRESS_LINES`` lines
(default 100) per stage however long it runs: the start, one each time another 1/(N-2) of the work is
done but no more often than every ``FOUNDRY_PROGRESS_SECONDS`` (default 10), and the end. Each line is
tqdm's own ``format_meter`` text: done / total, per cent, rate, elapsed time, ETA and the stage's latest
numbers.

``FOUNDRY_PROGRESS`` = ``auto`` (default: the bar on a terminal, lines otherwise), ``bar``, ``lines`` or
``off`` forces a mode. Output goes to standard error: standard output's last line is the stage's JSON
summary (``python -m pipeline``).
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from typing import TextIO

from tqdm import tqdm

MODES = ("auto", "bar", "lines", "off")
LINE_FORMAT = "{desc}: {n_fmt}/{total_fmt} ({percentage:.0f}%), {rate_fmt}, elapsed {elapsed}, ETA {remaining}{postfix}"
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}, ETA {remaining}, {rate_fmt}{postfix}]"


@dataclass(frozen=True)
class ProgressSettings:
    """How progress is shown (from the environment: :meth:`from_env`)."""
    mode: str = "auto"
    lines: int = 100        # most plain lines per stage (at least 3: first, one mark, last)
    seconds: float = 10.0   # least seconds between two plain lines (the first and last excepted)

    @classmethod
    def from_env(cls) -> "ProgressSettings":
        mode = os.environ.get("FOUNDRY_PROGRESS", "auto").strip().lower() or "auto"
        if mode not in MODES:
            raise ValueError(f"FOUNDRY_PROGRESS={mode!r}: one of {', '.join(MODES)}")
        lines = os.environ.get("FOUNDRY_PROGRESS_LINES", "").strip()
        seconds = os.environ.get("FOUNDRY_PROGRESS_SECONDS", "").strip()
        return cls(mode, max(3, int(lines)) if lines else cls.lines, float(seconds) if seconds else cls.seconds)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _sized(stream) -> bool:
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False
    return size.columns > 0 and size.lines > 0


class Progress:
    """``done / total`` of one stage, shown as :mod:`pipeline.progress` says. ``update(k)`` adds ``k``,
    ``set(n)`` moves to ``n``; keyword arguments (``docs=12``) become the latest numbers shown after it."""

    def __init__(self, desc: str, total: float, *, unit: str = "it", unit_scale: bool = False,
                 initial: float = 0, stream: TextIO | None = None, settings: ProgressSettings | None = None):
        self.desc, self.total, self.unit, self.unit_scale = desc, total, unit, unit_scale
        self.stream = stream if stream is not None else sys.stderr
        s = settings or ProgressSettings.from_env()
        mode = s.mode if s.mode != "auto" else ("bar" if _isatty(self.stream) else "lines")
        self.mode = mode if total and total > 0 else "off"
        self.settings = s
        self.n = self.initial = initial
        self.postfix = ""
        self.lines = 0
        self._t0 = time.monotonic()
        self._last_line: float | None = None
        self._shown_n: float | None = None
        self._step = total / max(1, s.lines - 2) if total else 1
        self._next = initial + self._step
        self._bar = None
        if self.mode == "bar":
            # a terminal that reports no size (0 x 0: tqdm then draws nothing at all) gets 100 x 24
            sized = _sized(self.stream)
            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, unit_scale=unit_scale,
                             file=self.stream, bar_format=BAR_FORMAT, dynamic_ncols=sized,
                             ncols=None if sized else 100, nrows=None if sized else 24, mininterval=0.5)
        elif self.mode == "lines":
            self._line(self._t0)   # the start: what runs and how much of it there is

    def update(self, k: float = 1, **numbers) -> None:
        self.set(self.n + k, **numbers)

    def set(self, n: float, **numbers) -> None:
        if numbers:
            self.postfix = ", ".join(f"{k} {v}" for k, v in numbers.items())
        delta, self.n = n - self.n, n
        if self._bar is not None:
            if numbers:
                self._bar.set_postfix_str(self.postfix, refresh=False)
            self._bar.update(delta)
        elif self.mode == "lines":
            now = time.monotonic()
            if n >= self._next and now - (self._last_line or 0.0) >= self.settings.seconds:
                self._line(now)
                self._next = self.initial + (math.floor((n - self.initial) / self._step) + 1) * self._step

    def _line(self, now: float) -> None:
        text = tqdm.format_meter(self.n, self.total, now - self._t0, prefix=self.desc, unit=self.unit,
                                 unit_scale=self.unit_scale, postfix=self.postfix, initial=self.initial,
                                 bar_format=LINE_FORMAT)
        print(text, file=self.stream, flush=True)
        self.lines += 1
        self._last_line, self._shown_n = now, self.n

    def close(self) -> None:
        """The last line (lines mode, when something changed since the one before); the bar closes."""
        if self._bar is not None:
            self._bar.set_postfix_str(self.postfix, refresh=False)
            self._bar.close()
            self._bar = None
        elif self.mode == "lines" and self._shown_n != self.n:
            self._line(time.monotonic())
        self.mode = "off"

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def fmt(x, digits: int = 3) -> str:
    """A number for a progress line: ``digits`` decimals, '-' when unknown or not finite."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "-"
    return f"{x:.{digits}f}" if math.isfinite(x) else "-"


class TrainingProgress:
    """``on_step`` / ``on_log`` for :func:`model.pretrain.pretrain`: steps done of the total, the latest
    window's tokens/s, loss, discriminator AUC and replaced recall, and the ETA. The bar starts at the
    first step this process trains (a resumed run's rate and ETA count only its own steps)."""

    def __init__(self, desc: str, stream: TextIO | None = None, settings: ProgressSettings | None = None):
        self.desc, self.stream, self.settings = desc, stream, settings
        self.progress: Progress | None = None
        self.numbers: dict = {}

    def on_step(self, step: int, total: int) -> None:
        if self.progress is None:
            self.progress = Progress(self.desc, total, unit="step", initial=step - 1, stream=self.stream,
                                     settings=self.settings)
        self.progress.set(step, **self.numbers)

    def on_log(self, step: int, metrics: dict) -> None:
        self.numbers = {"tok/s": fmt(metrics.get("tokens_per_s"), 0), "loss": fmt(metrics.get("loss")),
                        "auc": fmt(metrics.get("disc_auc")), "rec": fmt(metrics.get("replaced_recall"))}

    def close(self) -> None:
        if self.progress is not None:
            self.progress.set(self.progress.n, **self.numbers)
            self.progress.close()
