"""What the README and ``zoo list recipes`` say about the quickstart agree (the figure was measured:
``zoo run recipes/quickstart.yaml`` gives 99.16% on CPU)."""

from __future__ import annotations

import re

from tests.conftest import REPO
from zoo.recipe_index import summary_of


def test_zoo_list_recipes_and_the_readme_give_the_quickstart_one_accuracy():
    listed = re.findall(r"~(\d+)% test accuracy", summary_of(REPO / "recipes" / "quickstart.yaml"))  # what zoo list shows
    readme = (REPO / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `quickstart` |"))
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert listed == re.findall(r"~(\d+)% test accuracy", row) == re.findall(r"~(\d+)% on the held-out", quickstart)
    measured = float(re.search(r"(\d+\.\d+)%, \d+ of 359", quickstart).group(1))
    assert round(measured) == int(listed[0])


def test_the_readme_says_the_minute_is_the_trainings_not_the_installs():
    quickstart = (REPO / "README.md").read_text().split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert "The training\ntakes under a minute" in quickstart and "the install before it takes longer" in quickstart
    assert "--index-url https://download.pytorch.org/whl/cpu" in quickstart  # a CPU-only torch, without CUDA
