"""The ``style_transfer`` task: runs ``stylize`` on a recipe's pictures and writes the run's pictures.

Writes into the run folder: ``result.png`` (the stylised image), ``snapshots/step_XXXX.png``
every ``snapshot_every`` steps, ``loss_curve.png`` and ``comparison.png`` (content | style |
result); one metrics line per step; returns the report (``report.json``). While it works, a
progress bar with the losses on a terminal, a line every ``log_every`` steps elsewhere
(``zoo_style.progress``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

from zoo import UserError
from zoo.task import Task
from zoo_style.layers import DEFAULT_STYLE_WEIGHT, PAPER_CONTENT_LAYER, check_layers


@dataclass
class StyleTransferTask(Task):
    """Settings of one style-transfer run (see ``style_transfer``); ``run(run)`` does it.

    It uses the recipe's ``data`` (a content and a style picture) and ``model`` (the feature
    network, given the ``layers`` the task reads) sections, and keeps no checkpoint: it cannot be
    resumed, evaluated or asked to predict.
    """

    sections = ("data", "model")
    optional_sections = ()
    fills = {"model": ("layers",)}
    checkpoints = None

    steps: int = 300
    image_size: int = 256
    optimizer: str = "lbfgs"
    lr: Optional[float] = None
    content_weight: float = 1.0
    style_weight: float = DEFAULT_STYLE_WEIGHT
    content_layer: str = PAPER_CONTENT_LAYER
    style_layers: dict = field(default_factory=dict)
    init: str = "content"
    precision: str = "auto"
    snapshot_every: int = 50
    log_every: int = 25
    device: str = "auto"

    @property
    def layers(self) -> list:
        """Every layer the feature network must return (content first)."""
        return list(dict.fromkeys([self.content_layer, *self.style_layers]))

    def run(self, run: Any) -> dict:
        """Stylise the recipe's content picture; write the pictures; return the report dict.

        ``run`` is a ``zoo.task.Run``: ``build("data")`` / ``build("model", fill=...)`` make the
        picture pair and the feature network from the recipe, ``device``, ``directory`` (the
        run folder; None on other ranks), ``log(str)`` and ``epoch_end(step, metrics)`` (one
        metrics line per step) are used.
        """
        import torch

        from zoo_style.images import resize, resize_long_side, save_png
        from zoo_style.plots import plot_losses, plot_panel
        from zoo_style.progress import StepProgress
        from zoo_style.transfer import stylize

        pair = self._pictures(run)
        names = getattr(pair, "names", ("content", "style"))
        network = self._network(run)
        device = torch.device(run.device) if run.device is not None else torch.device("cpu")
        content = resize_long_side(pair.content, self.image_size).unsqueeze(0).to(device)
        style = resize(pair.style, tuple(content.shape[-2:])).unsqueeze(0).to(device)
        height, width = (int(n) for n in content.shape[-2:])
        weights = getattr(network, "weights_source", "?")
        run.log(f"style transfer: {width}×{height} px, {self.steps} {self.optimizer} steps on {device}; "
                f"content {names[0]}, style {names[1]}; VGG-19 weights: {weights or 'random'}")
        if weights is None:
            run.log("warning: VGG-19 has random weights (model.pretrained: false): the style shows, "
                    "but the quality is poor; use pretrained weights for real work")

        folder = Path(run.directory) if run.directory is not None else None
        snapshots = []
        progress = StepProgress(run, self.steps, self.log_every)

        def on_step(step: int, losses: dict, image: torch.Tensor) -> None:
            run.epoch_end(step, losses)
            progress.update(step, losses)
            if folder is not None and self.snapshot_every and step % self.snapshot_every == 0:
                snapshots.append(save_png(image, folder / "snapshots" / f"step_{step:04d}.png"))

        try:
            result = stylize(
                content, style, network=network, steps=self.steps, optimizer=self.optimizer, lr=self.lr,
                content_layer=self.content_layer, style_layers=self.style_layers,
                content_weight=self.content_weight, style_weight=self.style_weight, init=self.init,
                precision=self.precision, callback=on_step,
            )
        finally:
            progress.close()
        report = {
            "content_loss": result.content_loss,
            "style_loss": result.style_loss,
            "total_loss": result.total_loss,
            "steps": result.steps,
            "seconds_per_step": result.seconds_per_step,
            "image_size": [height, width],
            "optimizer": self.optimizer,
            "device": str(device),
            "precision": result.precision,
            "weights": weights or "random",
            "content": names[0],
            "style": names[1],
        }
        if folder is not None:
            save_png(result.image, folder / "result.png")
            plot_losses(result.history, folder / "loss_curve.png",
                        content_weight=self.content_weight, style_weight=self.style_weight)
            plot_panel(content, style, result.image, folder / "comparison.png")
            report.update(result="result.png", loss_curve="loss_curve.png", comparison="comparison.png",
                          snapshots=[p.relative_to(folder).as_posix() for p in snapshots])
            run.log(f"stylised image: {folder / 'result.png'}")
        return report

    def headline(self, report: dict) -> str:
        """The final losses and the speed: ``content loss 0.41, style loss 0.0123, 300 steps, 0.052 s/step``."""
        return (f"content loss {report['content_loss']:.4g}, style loss {report['style_loss']:.4g}, "
                f"{report['steps']} steps, {report['seconds_per_step']:.3f} s/step")

    def report_sections(self, folder: Path, report: dict) -> list:
        """report.html: the result, the figures, the loss curve, the snapshots (``zoo_style.page``)."""
        from zoo_style.page import report_sections

        return report_sections(folder, report)

    def check(self, run: Any) -> None:
        """``zoo run --dry-run``: read both pictures and build the feature network (weights included)."""
        self._pictures(run)
        self._network(run)

    def _pictures(self, run: Any):
        pair = run.build("data")
        if not (hasattr(pair, "content") and hasattr(pair, "style")):
            raise UserError(f"data.name: task style_transfer needs a content and a style picture "
                            f"(data: {{name: images}}), but the dataset gave a {type(pair).__name__}")
        return pair

    def _network(self, run: Any):
        network = run.build("model", fill={"layers": self.layers})
        missing = [n for n in self.layers if n not in getattr(network, "layers", self.layers)]
        if missing:
            raise UserError(f"model.layers: must include {', '.join(missing)} (the task's content_layer "
                            f"and style_layers), or leave it out")
        return network


def style_transfer(
    steps: int = 300,
    image_size: int = 256,
    optimizer: Literal["lbfgs", "adam"] = "lbfgs",
    lr: Optional[float] = None,
    content_weight: float = 1.0,
    style_weight: float = DEFAULT_STYLE_WEIGHT,
    content_layer: str = PAPER_CONTENT_LAYER,
    style_layers: Union[dict[str, float], list[str], None] = None,
    init: Literal["content", "noise"] = "content",
    precision: Literal["auto", "float32", "bfloat16"] = "auto",
    snapshot_every: int = 50,
    log_every: int = 25,
    device: str = "auto",
) -> StyleTransferTask:
    """Neural style transfer (Gatys et al. 2016): repaint the content picture in the style picture's manner.

    steps: loss-and-gradient evaluations (LBFGS closure calls, as the PyTorch tutorial counts).
    image_size: the content picture is resized so its longer side has this many pixels; the
        style picture is resized to the content's size.
    optimizer: "lbfgs" or "adam". lr: step size; default 1.0 for lbfgs, 0.02 for adam.
    content_weight, style_weight: alpha and beta in total = alpha*content + beta*style; both
        losses are relative errors (||F-P||²/||P||², ||G-A||²/||A||² per layer), so the default
        beta = 1000 works with pretrained and random weights alike.
    content_layer: VGG-19 layer carrying the content (paper: conv4_2).
    style_layers: {layer: weight} or a list of layers weighted equally; default conv1_1,
        conv2_1, conv3_1, conv4_1, conv5_1 with 0.2 each (the paper's).
    init: start from the content picture or from noise.
    precision: the network's arithmetic: "auto" (bfloat16 on CPUs that compute it natively,
        about twice as fast; float32 elsewhere), "float32" or "bfloat16". The image, Gram
        matrices, losses and optimiser are float32 in every case.
    snapshot_every: save snapshots/step_XXXX.png every this many steps (0: none).
    log_every: where the output is not a terminal (a log file, CI), print the step and the
        losses every this many steps (0: only the bar on a terminal); a terminal shows a
        progress bar with the current losses instead.
    device: "auto" (CUDA when there is one), "cpu", "cuda" or "cuda:N" (the runner resolves it).
    Uses the recipe's data section (a content/style pair, dataset "images") and model section
    (a feature extractor, "vgg19_features"). Writes result.png, loss_curve.png, comparison.png.
    """
    from zoo_style.transfer import style_layer_weights  # imports torch: only when a task is built

    if steps < 1:
        raise UserError(f"task.steps: must be at least 1, got {steps}")
    if image_size < 16:
        raise UserError(f"task.image_size: must be at least 16 pixels (VGG-19 halves it four times), got {image_size}")
    if snapshot_every < 0:
        raise UserError(f"task.snapshot_every: must be 0 (no snapshots) or more, got {snapshot_every}")
    if log_every < 0:
        raise UserError(f"task.log_every: must be 0 (no lines) or more, got {log_every}")
    for key, value in (("content_weight", content_weight), ("style_weight", style_weight)):
        if value < 0:
            raise UserError(f"task.{key}: must not be negative, got {value}")
    if lr is not None and lr <= 0:
        raise UserError(f"task.lr: must be positive, got {lr}")
    check_layers([content_layer], "task.content_layer")
    return StyleTransferTask(
        steps=steps, image_size=image_size, optimizer=optimizer, lr=lr, content_weight=content_weight,
        style_weight=style_weight, content_layer=content_layer,
        style_layers=style_layer_weights(style_layers, "task.style_layers"), init=init,
        precision=precision, snapshot_every=snapshot_every, log_every=log_every, device=device,
    )
