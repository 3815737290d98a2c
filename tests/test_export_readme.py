"""The README's lines for using an exported model without zoo run exactly as written.

Its ``### Use an exported model without zoo`` section holds Python blocks meant to be run in
order in a run folder after the four ``zoo export`` commands; this test does just that on a
one-epoch quickstart run and checks that each format names the class ``zoo predict`` names.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
from PIL import Image

from tests.conftest import REPO
from zoo.cli import main

SECTION = "### Use an exported model without zoo"


def readme_blocks() -> list:
    """The Python code blocks of the README's section on exported models, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n#", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_loads_every_exported_format_in_a_few_plain_lines(tmp_path, capsys):
    from sklearn.datasets import load_digits

    blocks = readme_blocks()
    assert len(blocks) == 3 and all(len(b.strip().splitlines()) <= 20 for b in blocks)
    run = tmp_path / "run"
    assert main(["run", str(REPO / "recipes" / "quickstart.yaml"), "task.epochs=1", "--output", str(run)]) == 0
    for fmt in ("onnx", "exported", "torchscript", "safetensors"):
        assert main(["export", str(run), "--format", fmt]) == 0
    digit = np.clip(np.round(load_digits().images[7] * 255 / 16), 0, 255).astype(np.uint8)
    # a wide photo of the digit: zoo resizes it to cover 8x8 and crops the centre, never stretches
    wide = np.random.default_rng(7).integers(0, 256, (24, 40), dtype=np.uint8)
    wide[:, 8:32] = np.asarray(Image.fromarray(digit, "L").resize((24, 24), Image.BILINEAR))
    Image.fromarray(wide, "L").save(run / "my_digit.png")
    capsys.readouterr()
    assert main(["predict", str(run), str(run / "my_digit.png"), "--json", "--top-k", "1"]) == 0
    expected = json.loads(capsys.readouterr().out)[0]["top"][0]["class"]

    keep_x = 'np.save("readme_x.npy", x)'  # the batch the README's lines made, for the check below
    done = subprocess.run([sys.executable, "-c", "\n".join([blocks[0], keep_x, *blocks[1:]])], cwd=run,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    from zoo.image_files import read_images
    from zoo.model_card import checkpoint_card
    from zoo.preprocessing import prepare

    preprocessing = checkpoint_card(run / "checkpoints" / "best.pt")["preprocessing"]
    ours = prepare(read_images([run / "my_digit.png"], "L", preprocessing["read"]["size"]), preprocessing)
    np.testing.assert_allclose(np.load(run / "readme_x.npy"), ours, atol=1e-6)
    assert done.stdout.splitlines() == [f"{fmt}: {expected}" for fmt in ("onnx", "exported", "torchscript",
                                                                          "safetensors")]
