"""What a style-transfer run shows while it works: on a terminal a progress bar with the current
losses (as a classification epoch has), elsewhere (logs, CI, a file) one line every N steps."""

from __future__ import annotations

import sys
import time
from typing import Any, Optional


class StepProgress:
    """Progress of ``steps`` loss-and-gradient evaluations for the ``run`` (a ``zoo.run.Run``).

    On a terminal (the main process's stderr, and the run not quiet) a tqdm bar shows the step
    and the content, style and total losses; otherwise ``run.log`` prints
    ``step 25/300  content loss 0.41  style loss 0.0123  total loss 12.7  (0.52 s/step)`` every
    ``every`` steps (0: none) and for the last step. ``update`` takes each step's losses;
    ``close`` ends the bar, or logs the last step when it fell between two lines.
    """

    def __init__(self, run: Any, steps: int, every: int):
        self.run, self.steps, self.every = run, steps, every
        self.bar: Optional[Any] = None
        if run.is_main and not run.quiet and sys.stderr.isatty():
            from tqdm import tqdm

            # each step is a pass through VGG (tens of ms at least): redraw the losses after every one
            self.bar = tqdm(total=steps, desc="style transfer", unit="step", leave=False, dynamic_ncols=True,
                            mininterval=0)
        self.clock, self.logged_step = time.perf_counter(), 0
        self.latest: Optional[tuple] = None

    def update(self, step: int, losses: dict) -> None:
        """Show that evaluation ``step`` (counted from 1) gave ``losses`` (``content_loss``,
        ``style_loss``, ``total_loss``)."""
        self.latest = (step, losses)
        if self.bar is not None:
            self.bar.set_postfix_str(f"content {losses['content_loss']:.4g}, style {losses['style_loss']:.4g}, "
                                     f"total {losses['total_loss']:.4g}", refresh=False)
            self.bar.update(step - self.bar.n)
        elif self.every and (step % self.every == 0 or step == self.steps):
            self._log(step, losses)

    def close(self) -> None:
        """End the bar; without one, log the last step if no line showed it (L-BFGS may stop early)."""
        if self.bar is not None:
            self.bar.close()
        elif self.every and self.latest is not None and self.latest[0] != self.logged_step:
            self._log(*self.latest)

    def _log(self, step: int, losses: dict) -> None:
        now = time.perf_counter()
        per_step = (now - self.clock) / max(step - self.logged_step, 1)
        self.run.log(f"step {step}/{self.steps}  content loss {losses['content_loss']:.4g}  "
                     f"style loss {losses['style_loss']:.4g}  total loss {losses['total_loss']:.4g}  "
                     f"({per_step:.2f} s/step)")
        self.clock, self.logged_step = now, step
