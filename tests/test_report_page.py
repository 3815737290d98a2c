"""report.html: written at the end of every run, self-contained (pictures inlined, nothing linked
outside), with the task's sections (classification: headline, test figures, per-class table,
pictures) or the default ones, the recipe and the run's facts; a sweep folder's page from its
sweep.json. Checked with an HTML parser, the pictures decoded."""

from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import REPO, register_in_process
from tests.test_runs import run_in_process
from zoo.cli import main
from zoo.html_page import Heading, Link, Paragraph, Picture, Preformatted, Table, render_page
from zoo.sweep_page import write_sweep_page
from zoo.task import Task


class Page(HTMLParser):
    """What a page shows: its text, table rows (cells' text), pictures (src) and every reference
    to another resource (href, src, link, script, style imports)."""

    def __init__(self, text: str):
        super().__init__()
        self.text, self.rows, self.pictures, self.links, self.tags = [], [], [], [], []
        self._row, self._cell = None, None
        self.feed(text)
        self.words = " ".join(" ".join(self.text).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = []
        if tag == "img":
            self.pictures.append(attrs["src"])
        if tag == "a":
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr":
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def read_page(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def decoded(src: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    picture = Image.open(io.BytesIO(base64.b64decode(src[len(prefix):], validate=True)))
    picture.load()
    assert picture.format == "PNG"
    return picture


def assert_self_contained(page: Page, html: str) -> None:
    assert not {"script", "link", "iframe", "object"} & set(page.tags)
    assert "http://" not in html and "https://" not in html and "@import" not in html and "url(" not in html
    assert all(src.startswith("data:") for src in page.pictures)
    assert all("://" not in href and not href.startswith("/") for href in page.links)


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("page") / "run"
    run_in_process(tmp_path_factory.mktemp("cache"), "run", REPO / "recipes" / "quickstart.yaml", "task.epochs=2",
                   "optimizer.lr=0.003", "--output", folder)
    return folder


def test_a_classification_run_leaves_a_self_contained_page(quickstart_run):
    html = (quickstart_run / "report.html").read_text(encoding="utf-8")
    page = Page(html)
    report = json.loads((quickstart_run / "report.json").read_text())
    accuracy = report["test"]["accuracy"]
    assert f"test accuracy {accuracy:.2%}" in page.words  # the headline
    assert "finished" in page.words
    per_class = {row[0]: row for row in page.rows if row and len(row) == 4 and row[0] in report["classes"]}
    assert sorted(per_class) == report["classes"]
    for name, figures in report["test"]["per_class"].items():
        assert per_class[name][1:3] == [str(figures["correct"]), str(figures["total"])]
    assert ["test accuracy", f"{accuracy:.2%} ({sum(c['correct'] for c in report['test']['per_class'].values())}/359)"] \
        in page.rows
    sizes = {decoded(src).size for src in page.pictures}
    on_disk = {Image.open(quickstart_run / name).size for name in ("curves.png", "confusion_matrix.png", "predictions.png")}
    assert sizes == on_disk  # the three pictures, inlined
    recipe = (quickstart_run / "recipe.yaml").read_text()
    assert " ".join(recipe.split()) in page.words  # the recipe, as written
    facts = {row[0]: row[1] for row in page.rows if row and len(row) == 2}
    assert facts["overrides"] == "task.epochs=2 optimizer.lr=0.003" and facts["device"] == "cpu"
    assert facts["state"] == "finished" and "torch" in facts["versions"]
    assert_self_contained(page, html)


def test_a_classification_run_without_plots_still_shows_its_curves_from_metrics_jsonl(tmp_path):
    folder = tmp_path / "run"
    run_in_process(tmp_path / "cache", "run", REPO / "recipes" / "quickstart.yaml", "task.epochs=2", "task.plots=false",
                   "--output", folder)
    assert not list(folder.glob("*.png"))
    page = read_page(folder / "report.html")
    assert "Training curves" in page.words and "metrics.jsonl" in page.words
    (curves,) = page.pictures
    assert decoded(curves).size[0] > 300


class Plain(Task):
    """A task that contributes no sections: a report with nested figures, a picture and metrics."""

    sections = ()
    optional_sections = ()
    checkpoints = None

    def run(self, run) -> dict:
        for step in (1, 2, 3):
            run.epoch_end(step, {"valid_loss": 1.0 / step, "score": step * 10.0})
        Image.new("RGB", (40, 30), "teal").save(run.directory / "sketch.png")
        return {"score": 30.0, "detail": {"rounds": 3, "label": "<b>bold</b>"}, "series": [1, 2, 3]}


def test_a_task_without_sections_gets_the_default_page(tmp_path, capsys):
    register_in_process("tasks", "plain", lambda: Plain(), plugin="acme-plain")
    (tmp_path / "r.yaml").write_text("task: {name: plain}\n")
    assert main(["run", str(tmp_path / "r.yaml"), "--output", str(tmp_path / "run")]) == 0
    html = (tmp_path / "run" / "report.html").read_text()
    page = Page(html)
    facts = {row[0]: row[1] for row in page.rows if row and len(row) == 2}
    assert facts["score"] == "30" and facts["detail.rounds"] == "3" and facts["detail.label"] == "<b>bold</b>"
    assert "series" not in facts
    assert "<b>bold</b>" not in html  # escaped
    pictures = [decoded(src) for src in page.pictures]
    assert (40, 30) in {p.size for p in pictures}  # the folder's PNG
    assert len(pictures) == 2  # and the metrics curves
    assert_self_contained(page, html)


class Broken(Plain):
    def report_sections(self, folder, report):
        raise ValueError("no pictures today")


def test_a_task_whose_sections_fail_gets_the_default_page_and_a_warning(tmp_path, capsys):
    register_in_process("tasks", "broken", lambda: Broken(), plugin="acme-broken")
    (tmp_path / "r.yaml").write_text("task: {name: broken}\n")
    assert main(["run", str(tmp_path / "r.yaml"), "--output", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "zoo: warning: task 'broken' could not write its report sections: ValueError: no pictures today" in err
    assert "detail.rounds" in read_page(tmp_path / "run" / "report.html").words


def test_the_page_builder_escapes_text_and_refuses_outside_links():
    html = render_page("a <title> & more", [
        Heading("<h2>"), Paragraph("x < y & \"z\""), Preformatted("key: '<v>'"),
        Table(("name", "value"), [("<td>", 1.23456), ("link", Link("trial <1>", "trials/0001/report.html"))]),
    ])
    page = Page(html)
    assert "a <title> & more" in page.words and "x < y & \"z\"" in page.words and "key: '<v>'" in page.words
    assert ["<td>", "1.235"] in page.rows and ["link", "trial <1>"] in page.rows
    assert page.links == ["trials/0001/report.html"]
    assert page.tags.count("td") == 4
    for outside in ("https://example.com/x", "//example.com/x", "/etc/passwd", "javascript:alert(1)"):
        with pytest.raises(ValueError):
            Link("x", outside)
    assert "not a PNG" in render_page("t", [Picture(b"<svg/>")])


def small_png(path: Path, colour: str, size=(60, 40)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


SWEEP = {
    "name": "quickstart", "recipe": "recipes/quickstart.yaml", "created": "2026-11-30T10:00:00",
    "updated": "2026-11-30T10:05:00", "command": "zoo sweep recipes/quickstart.yaml optimizer.lr=0.1,0.01",
    "study": {"name": "quickstart-20261130-100000", "storage": "sqlite:///sweeps/x/study.db",
              "sampler": "grid", "pruner": None, "direction": "minimize"},
    "objective": "valid_loss",
    "space": {"optimizer.lr": {"kind": "grid", "values": [0.1, 0.01]},
              "model.dropout": {"kind": "loguniform", "low": 0.01, "high": 0.5}},
    "seeds": 1,
    "trials": [
        {"number": 0, "state": "complete", "params": {"optimizer.lr": 0.1, "model.dropout": 0.2}, "value": 0.5,
         "values": [0.5], "spread": None, "seconds": 12.3, "runs": ["trials/0000"], "error": None, "host": "a"},
        {"number": 1, "state": "failed", "params": {"optimizer.lr": 10.0, "model.dropout": 0.3}, "value": None,
         "values": [], "spread": None, "seconds": 1.5, "runs": ["trials/0001"],
         "error": "the run failed: NaN loss <epoch 1>", "host": "a"},
        {"number": 2, "state": "complete", "params": {"optimizer.lr": 0.01, "model.dropout": 0.1}, "value": 0.123,
         "values": [0.123], "spread": None, "seconds": 11.0, "runs": ["trials/0002"], "error": None, "host": "a"},
        {"number": 3, "state": "pruned", "params": {"optimizer.lr": 0.05, "model.dropout": 0.4}, "value": 0.9,
         "values": [0.9], "spread": None, "seconds": 3.0, "runs": ["trials/0003"], "error": None, "host": "a"},
    ],
    "best": {"number": 2, "value": 0.123, "params": {"optimizer.lr": 0.01, "model.dropout": 0.1},
             "runs": ["trials/0002"]},
    "pictures": {"objective": "objective.png", "params": "params.png", "curves": "curves.png"},
}


def test_a_sweep_page_shows_its_trials_best_first_with_links_and_pictures(tmp_path):
    sweep = tmp_path / "sweeps" / "quickstart" / "20261130-100000"
    for number in (0, 2, 3):
        (sweep / "trials" / f"{number:04d}").mkdir(parents=True)
        (sweep / "trials" / f"{number:04d}" / "report.html").write_text("<html></html>")
    for name, colour in (("objective.png", "red"), ("params.png", "green"), ("curves.png", "blue")):
        small_png(sweep / name, colour)
    (sweep / "sweep.json").write_text(json.dumps(SWEEP))
    path = write_sweep_page(sweep)
    assert path == sweep / "report.html"
    html = path.read_text()
    page = Page(html)
    assert "best: trial 2, valid_loss 0.123 with optimizer.lr=0.01, model.dropout=0.1" in page.words
    header = next(row for row in page.rows if row and row[0] == "trial")
    assert header == ["trial", "optimizer.lr", "model.dropout", "state", "valid_loss", "seconds", "runs", "error"]
    trials = [row for row in page.rows if len(row) == len(header) and row[0].isdigit()]
    assert [row[0] for row in trials] == ["2", "0", "3", "1"]  # by the objective, then those without a value
    assert trials[0][1:7] == ["0.01", "0.1", "complete", "0.123", "11", "0002"]
    assert trials[3][3] == "failed" and trials[3][7] == "the run failed: NaN loss <epoch 1>"
    assert trials[3][6] == "trials/0001"  # no page there: the path as text
    assert page.links == ["trials/0002/report.html", "trials/0000/report.html", "trials/0003/report.html"]
    colours = [decoded(src).convert("RGB").getpixel((0, 0)) for src in page.pictures]
    assert colours == [(255, 0, 0), (0, 128, 0), (0, 0, 255)]
    assert "sampler grid" in page.words and "objective valid_loss (minimize)" in page.words
    assert_self_contained(page, html)


def test_a_sweep_page_before_any_trial_completes(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps(dict(SWEEP, trials=[], best=None, pictures={})))
    page = read_page(write_sweep_page(tmp_path))
    assert "no trial has completed yet" in page.words and page.pictures == []


def test_the_style_transfer_page_shows_its_result_figures_and_snapshots(tmp_path):
    from zoo_style.task import StyleTransferTask

    for name in ("comparison.png", "result.png", "loss_curve.png"):
        small_png(tmp_path / name, "white")
    (tmp_path / "snapshots").mkdir()
    snapshots = [f"snapshots/step_{n:04d}.png" for n in range(5, 105, 5)]
    for name in snapshots:
        small_png(tmp_path / name, "black", (16, 12))
    report = {"content_loss": 0.41, "style_loss": 0.0123, "total_loss": 12.7, "steps": 100, "seconds_per_step": 0.05,
              "image_size": [43, 64], "optimizer": "lbfgs", "device": "cpu", "precision": "float32",
              "weights": "random", "content": "china.jpg", "style": "flower.jpg", "result": "result.png",
              "loss_curve": "loss_curve.png", "comparison": "comparison.png", "snapshots": snapshots}
    sections = StyleTransferTask().report_sections(tmp_path, report)
    page = Page(render_page("style", sections))
    facts = {row[0]: row[1] for row in page.rows}
    assert facts["content loss"] == "0.41" and facts["image size"] == "64\u00d743 px" and facts["steps"] == "100"
    sizes = [decoded(src).size for src in page.pictures]
    assert sizes[:2] == [(60, 40), (60, 40)] and sizes[2:] == [(16, 12)] * 12  # at most 12 snapshots, spread
    assert "step_0005" in page.words and "step_0100" in page.words


def test_a_sweep_with_seeds_shows_mean_and_spread_and_links_every_seeds_run(tmp_path):
    runs = ["trials/0000-seed0", "trials/0000-seed1"]
    for run in runs:
        (tmp_path / run).mkdir(parents=True)
        (tmp_path / run / "report.html").write_text("<html></html>")
    trial = dict(SWEEP["trials"][0], values=[0.2, 0.3], value=0.25, spread=0.05, runs=runs)
    best = {"number": 0, "value": 0.25, "params": trial["params"], "runs": runs}
    (tmp_path / "sweep.json").write_text(json.dumps(dict(SWEEP, seeds=2, trials=[trial], best=best, pictures={})))
    page = read_page(write_sweep_page(tmp_path))
    row = next(row for row in page.rows if row and row[0] == "0")
    assert row[4] == "0.25 \u00b1 0.05" and row[6] == "0000-seed0 0000-seed1"
    assert page.links == [f"{run}/report.html" for run in runs]
    assert "seeds per setting 2" in page.words


def test_a_picture_is_never_shown_wider_than_its_own_pixels(tmp_path):
    import re

    small, large = small_png(tmp_path / "small.png", "red", (400, 300)), small_png(tmp_path / "large.png", "red", (2000, 50))
    Image.new("RGB", (300, 20)).save(tmp_path / "g.gif")
    html = render_page("t", [Picture(small, width=1000), Picture(large, width=1000), Picture(tmp_path / "g.gif", width=900)])
    assert re.findall(r'<figure style="width:min\((\d+)px,100%\)">', html) == ["400", "1000", "300"]
