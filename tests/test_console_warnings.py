"""Warnings on the command line: one ``zoo: warning:`` line each, none of torch's pickle notes,
and PIL's decompression-bomb warning turned into the error of the image at fault."""

from __future__ import annotations

import io
import textwrap
import warnings

import pytest
import torch

from tests.conftest import REPO, run_zoo
from tests.formats import write_image_folder
from zoo.console_warnings import one_line_warnings, package_of


def test_a_library_warning_is_one_line_naming_the_package():
    stream = io.StringIO()
    with one_line_warnings(stream):
        warnings.warn_explicit("Using a target size that is different\n  to the input size.", UserWarning,
                               "/venv/lib/python3.11/site-packages/torch/nn/functional.py", 3384)
        warnings.warn_explicit("deprecated thing", FutureWarning, "/home/me/acme_zoo/models.py", 12)
    assert stream.getvalue().splitlines() == [
        "zoo: warning: torch: Using a target size that is different to the input size.",
        "zoo: warning: FutureWarning: deprecated thing",
    ]


def test_package_of_a_file():
    assert package_of("/usr/lib/python3/dist-packages/PIL/Image.py") == "PIL"
    assert package_of("/venv/lib/python3.11/site-packages/six.py") == "six"
    assert package_of("/home/me/notebook.py") is None


def test_torchs_pickle_protocol_note_is_not_shown(tmp_path):
    path = tmp_path / "protocol3.pt"
    torch.save({"w": torch.zeros(2)}, path, pickle_protocol=3)
    with pytest.warns(UserWarning, match="Detected pickle protocol 3"):  # torch says it, unasked
        torch.load(path, weights_only=True)
    stream = io.StringIO()
    with one_line_warnings(stream):
        assert torch.equal(torch.load(path, weights_only=True)["w"], torch.zeros(2))
    assert stream.getvalue() == ""


def test_the_filters_are_restored_afterwards():
    before = list(warnings.filters)
    with one_line_warnings(io.StringIO()):
        assert warnings.filters != before
    assert warnings.filters == before


def test_a_decompression_bomb_is_the_error_of_its_file_and_the_only_line(tmp_path):
    from PIL import Image

    root = tmp_path / "images"
    write_image_folder(root, ["cat", "dog"], per_class=3, size=(20, 20))
    Image.new("1", (10000, 9500)).save(root / "dog" / "huge.png")  # 95 million pixels in 12 kB
    recipe = tmp_path / "r.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        task: {{name: classification, epochs: 1, batch_size: 8, plots: false}}
        data: {{name: imagefolder, root: {root}, image_size: 16, test_fraction: 0.3}}
        model: {{name: mlp, hidden: [8]}}
        loss: {{name: cross_entropy}}
        optimizer: {{name: adam, lr: 0.01}}
    """))
    result = run_zoo("run", recipe, "--output", tmp_path / "out", cwd=tmp_path, extra_path=[REPO / "plugins"])
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"zoo: error: {recipe}:2: data: cannot read image {root / 'dog' / 'huge.png'}: Image size (95000000 "
        f"pixels) exceeds limit of 89478485 pixels, could be decompression bomb DOS attack.; fix or delete the "
        f"file, or set on_error: skip"]
