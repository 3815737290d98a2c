"""Where a timm model's pretrained weights are on this machine.

timm's ``pretrained_cfg`` names a Hugging Face repository (``hf_hub_id``) and/or a URL. This
module looks, without network, in

1. the Hugging Face cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
   ``~/.cache/huggingface/hub``): ``model.safetensors`` then ``pytorch_model.bin`` (or the
   file the cfg names) of that repository; the blob is checked against the SHA-256 the cache
   names it by;
2. torch.hub's checkpoints folder (``$TORCH_HOME/hub/checkpoints/<URL file name>``), checked
   against the hash prefix in the name;

and downloads only when ``zoo.toolkit.downloads_allowed()`` (no ``ZOO_OFFLINE`` /
``HF_HUB_OFFLINE``) and the network answers (``zoo.toolkit.network_problem``, a few seconds:
without it huggingface_hub retries for most of a minute). Missing weights are a UserError
listing every place looked at and where the files come from.
"""

import os
import re
from pathlib import Path
from typing import Any, Optional

from zoo import UserError
from zoo.toolkit import (checkpoints_dir, downloads_allowed, find_or_download, network_problem, url_filename,
                         verify_hash)

HF_FILENAMES = ("model.safetensors", "pytorch_model.bin")
OPEN_CLIP_FILENAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
SHA256_RE = re.compile(r"[0-9a-f]{64}\Z")


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment now (as huggingface_hub does at import)."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def _hf_filenames(cfg: dict) -> tuple:
    if cfg.get("hf_hub_filename"):
        return (cfg["hf_hub_filename"],)
    if str(cfg.get("hf_hub_id", "")).startswith("laion/") or "open_clip" in str(cfg.get("hf_hub_id", "")):
        return OPEN_CLIP_FILENAMES + HF_FILENAMES
    return HF_FILENAMES


def verify_hf_blob(path: Path) -> None:
    """Check a Hugging Face cache file against the SHA-256 its blob is named by (LFS files)."""
    blob = Path(os.path.realpath(path))
    if SHA256_RE.match(blob.name):
        verify_hash(path, blob.name)


def find_in_hf_cache(cfg: dict, looked: list) -> Optional[Path]:
    """The cached file of ``cfg``'s Hugging Face repository, or None (appending the places looked to ``looked``)."""
    hub_id = cfg.get("hf_hub_id")
    if not hub_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    repo, _, revision = hub_id.partition("@")
    cache = hf_cache_dir()
    for filename in _hf_filenames(cfg):
        found = try_to_load_from_cache(repo, filename, cache_dir=str(cache), revision=revision or None)
        if isinstance(found, str) and os.path.isfile(found):
            path = Path(found)
            verify_hf_blob(path)
            return path
    folder = cache / f"models--{repo.replace('/', '--')}" / "snapshots" / "*"
    looked.append(f"{folder}/{{{','.join(_hf_filenames(cfg))}}}")
    return None


def find_in_torch_hub(cfg: dict, looked: list) -> Optional[Path]:
    """The file of ``cfg``'s URL in torch.hub's checkpoints folder (hash-checked), or None."""
    url = cfg.get("url")
    if not url:
        return None
    path = checkpoints_dir() / url_filename(url)
    if path.is_file():
        verify_hash(path)
        return path
    looked.append(str(path))
    return None


def download(cfg: dict, label: str, looked: list) -> Path:
    """Fetch the weights (Hugging Face first, then the URL); UserError when that fails."""
    errors = []
    hub_id = cfg.get("hf_hub_id")
    if hub_id:
        from huggingface_hub import hf_hub_download

        repo, _, revision = hub_id.partition("@")
        for filename in _hf_filenames(cfg):
            try:
                return Path(hf_hub_download(repo, filename, revision=revision or None, cache_dir=str(hf_cache_dir())))
            except Exception as exc:  # not in the repo, or no network
                errors.append(f"{repo}/{filename}: {type(exc).__name__}")
    if cfg.get("url"):
        try:
            return find_or_download(cfg["url"], allow_download=True, name=label)
        except UserError as exc:
            errors.append(str(exc))
    raise UserError(
        f"pretrained weights for {label} not found and could not be downloaded "
        f"({'; '.join(errors)[:300] or 'no source in its pretrained_cfg'}): looked for "
        f"{' and '.join(looked)}; put the file there, or set weights: PATH"
    )


def hf_repo(cfg: dict) -> Optional[str]:
    """The Hugging Face repository of ``cfg`` (``hf_hub_id`` without its ``@revision``), or None."""
    hub_id = cfg.get("hf_hub_id")
    return hub_id.partition("@")[0] if hub_id else None


def source_urls(cfg: dict) -> list:
    """The addresses ``cfg``'s weights download from: the Hugging Face repository's page and/or the URL."""
    from huggingface_hub import constants

    repo = hf_repo(cfg)
    return ([f"{constants.ENDPOINT}/{repo}"] if repo else []) + ([cfg["url"]] if cfg.get("url") else [])


def how_to_get(cfg: dict) -> str:
    """Where the files come from, as a user fetches them: ``hf download <repo>`` and/or the URL."""
    repo = hf_repo(cfg)
    return " or ".join(([f"hf download {repo}"] if repo else []) + ([cfg["url"]] if cfg.get("url") else []))


def find_pretrained(cfg: Any, label: str) -> Path:
    """The local weights file for timm pretrained_cfg ``cfg`` (a PretrainedCfg or dict), downloading only
    when allowed and the network answers.

    Raises UserError naming every place looked for, and where the files come from, when the
    weights are not on this machine and cannot be downloaded.
    """
    cfg = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg or {})
    if not (cfg.get("hf_hub_id") or cfg.get("url")):
        raise UserError(f"timm has no pretrained weights for {label}; set pretrained: false, or weights: PATH")
    looked: list = []
    path = find_in_hf_cache(cfg, looked) or find_in_torch_hub(cfg, looked)
    if path is not None:
        return path
    where = f"pretrained weights for {label} not found: looked for {' and '.join(looked)}"
    if not downloads_allowed():
        raise UserError(f"{where}; put the files there ({how_to_get(cfg)}), or set weights: PATH, "
                        f"or run with network (ZOO_OFFLINE/HF_HUB_OFFLINE unset)")
    offline = network_problem(source_urls(cfg))
    if offline:
        raise UserError(f"{where}; {offline}: get them on a machine with network ({how_to_get(cfg)}) and copy "
                        f"them there, or set weights: PATH; ZOO_OFFLINE=1 stops zoo trying the network")
    return download(cfg, label, looked)
