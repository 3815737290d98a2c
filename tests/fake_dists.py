"""Write real installed-distribution metadata (``*.dist-info``) into a folder on sys.path.

importlib.metadata reads entry points from these files exactly as it does for a pip install,
so a plugin written this way is found through the real ``zoo.plugins`` mechanism.
"""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_plugin_dist(root: Path, dist: str, version: str, plugins: dict, modules: dict) -> Path:
    """Create ``root/<dist>-<version>.dist-info`` declaring ``plugins`` ({name: "module:obj"})
    and write ``modules`` ({"pkg/plugin.py": source}) under ``root``. Returns the dist-info folder.
    """
    root.mkdir(parents=True, exist_ok=True)
    for relative, source in modules.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = ["[zoo.plugins]"] + [f"{name} = {target}" for name, target in plugins.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return info
