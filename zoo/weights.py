"""Pretrained weights: find them in the usual caches, check them, load them safely.

Everything here reads tensors only. A ``.pt``/``.pth``/``.bin`` file is read with
``torch.load(weights_only=True)`` (never full unpickling: a checkpoint cannot run code), a
``.safetensors`` file with safetensors. A file whose name carries a hash prefix, as
torch.hub's downloads do (``densenet121-a639ec97.pth``: the first 8+ hex digits of the file's
SHA-256), is checked against that prefix before it is read, so a file planted in the cache
under a real weights name is refused.

Where weights live is torch.hub's rule: ``$TORCH_HOME/hub/checkpoints`` (``TORCH_HOME``
defaults to ``$XDG_CACHE_HOME/torch``, i.e. ``~/.cache/torch``). Nothing is downloaded unless
the caller allows it (``downloads_allowed()``: not when ``ZOO_OFFLINE`` or ``HF_HUB_OFFLINE``
is set) and the network answers (``network_problem()``: a few seconds at most, instead of a
downloader's minute of retries); a failed download is a ``UserError`` saying where the file was
looked for.

This module is torch-only: it never imports torchvision or timm.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import threading
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union
from urllib.parse import urlparse

from zoo.errors import UserError

log = logging.getLogger("zoo.weights")

# torch.hub's HASH_REGEX is r"-([a-f0-9]*)\." searched in the file name; 6 to 64 digits here,
# so that a name such as "run-a.pt" is not taken for a hash.
HASH_RE = re.compile(r"-([a-f0-9]{6,64})\.")
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
SAFETENSORS_SUFFIXES = (".safetensors",)
# Keys under which checkpoints commonly nest the state dict, tried in this order.
CONTAINER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net")
# Prefixes that wrappers put before every key (DataParallel, torch.compile).
WRAPPER_PREFIXES = ("module.", "_orig_mod.")

PathLike = Union[str, "os.PathLike[str]"]


# -- where weights live ------------------------------------------------------------------------


def hub_dir() -> Path:
    """torch.hub's folder: ``torch.hub.get_dir()`` (``$TORCH_HOME/hub`` unless ``set_dir`` was called)."""
    import torch.hub

    return Path(torch.hub.get_dir())


def checkpoints_dir() -> Path:
    """Where torch.hub (and torchvision, and timm's URL downloads) keep weight files."""
    return hub_dir() / "checkpoints"


def downloads_allowed() -> bool:
    """False when ``ZOO_OFFLINE`` or ``HF_HUB_OFFLINE`` is set to a true value, else True."""
    for var in ("ZOO_OFFLINE", "HF_HUB_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return False
    return True


def _endpoint(url: str) -> tuple:
    """``(what, host, port)`` a connection for ``url`` goes to: its host, or the proxy that serves it."""
    parsed = urlparse(url)
    scheme, host = parsed.scheme or "https", parsed.hostname or ""
    proxy = urllib.request.getproxies().get(scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxied = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        return f"proxy {proxied.hostname}:{proxied.port or 80}", proxied.hostname or "", proxied.port or 80
    port = parsed.port or (80 if scheme == "http" else 443)
    return f"{host}:{port}", host, port


def network_problem(urls: Iterable[str], timeout: float = 3.0) -> Optional[str]:
    """None when the host of one of ``urls`` (or the proxy the environment names for it)
    accepts a connection within ``timeout`` seconds, else why not, in a few words:
    ``"no network (huggingface.co:443: [Errno -2] Name or service not known)"``.

    The hosts are tried at the same time, each in a thread of its own, so that a name lookup
    that hangs costs ``timeout`` seconds, not the resolver's own minute.
    """
    endpoints = list(dict.fromkeys(_endpoint(url) for url in urls))
    reached, failures = [], {}
    done = threading.Event()

    def attempt(what: str, host: str, port: int) -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            reached.append(what)
        except OSError as exc:
            failures[what] = str(exc) or type(exc).__name__
        if reached or len(failures) == len(endpoints):
            done.set()

    for endpoint in endpoints:
        threading.Thread(target=attempt, args=endpoint, daemon=True).start()
    done.wait(timeout)
    if reached:
        return None
    reasons = [f"{what}: {failures.get(what, f'no answer in {timeout:g} s')}" for what, _, _ in endpoints]
    return f"no network ({'; '.join(reasons) or 'no address to try'})"


def url_filename(url: str) -> str:
    """The file name a URL downloads to (its last path component)."""
    return os.path.basename(urlparse(url).path)


# -- hash check --------------------------------------------------------------------------------


def expected_hash_prefix(path: PathLike) -> Optional[str]:
    """The SHA-256 prefix a file's name promises (``resnet18-f37072fd.pth`` -> ``"f37072fd"``), or None."""
    match = HASH_RE.search(os.path.basename(os.fspath(path)))
    return match.group(1) if match else None


def sha256_file(path: PathLike) -> str:
    """The hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_hash(path: PathLike, expected: Optional[str] = None) -> None:
    """Check the SHA-256 of ``path`` against ``expected`` (a hex prefix or full digest), by
    default the hash prefix in the file's name; a no-op when there is nothing to check.

    Raises UserError naming the file, the expected and the actual prefix on a mismatch.
    """
    promised = "its name promises" if expected is None else "its cache records"
    expected = (expected or expected_hash_prefix(path) or "").lower()
    if not expected:
        return
    actual = sha256_file(path)
    if not actual.startswith(expected):
        raise UserError(
            f"weights file {os.fspath(path)} fails its hash check: {promised} SHA-256 "
            f"{'prefix ' if len(expected) < 64 else ''}{expected}, the file has {actual[:len(expected)]}; "
            f"it is corrupt or not the published file: delete it and get it again"
        )


# -- reading -----------------------------------------------------------------------------------


def load_state_dict(path: PathLike, *, check_hash: bool = True) -> dict:
    """Read the tensors of a weights file into ``{key: Tensor}`` on the CPU.

    ``path``: a ``.safetensors`` file, or a ``.pt``/``.pth``/``.bin``/``.ckpt`` file read with
    ``torch.load(weights_only=True)``. A checkpoint that nests the weights
    (``{"state_dict": ...}``, ``{"model": ...}``, ...) is unwrapped, and a ``module.`` /
    ``_orig_mod.`` prefix on every key is removed. With ``check_hash`` a hash prefix in the
    file's name is verified first. A missing, truncated, foreign or unsafe file is a UserError
    naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file {path} not found")
    suffix = path.suffix.lower()
    if suffix not in TORCH_SUFFIXES + SAFETENSORS_SUFFIXES:
        raise UserError(
            f"weights file {path}: unknown format {suffix or '(no extension)'!r}; expected one of "
            f"{', '.join(TORCH_SUFFIXES + SAFETENSORS_SUFFIXES)}"
        )
    if check_hash:
        verify_hash(path)
    if suffix in SAFETENSORS_SUFFIXES:
        raw = _read_safetensors(path)
    else:
        raw = _read_torch(path)
    return _as_state_dict(raw, path)


def _read_safetensors(path: Path) -> Any:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for bad headers/data
        raise UserError(f"weights file {path} is not a readable safetensors file ({_one_line(exc)})") from exc


PICKLE_PROTOCOL_NOTE = re.compile(r"Detected pickle protocol (\d+)")


def _read_torch(path: Path) -> Any:
    import pickle
    import warnings

    import torch

    with warnings.catch_warnings(record=True) as notes:  # torch's note on the pickle protocol: said below if it matters
        warnings.simplefilter("always")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            reason = refusal_reason(exc)
            if "global" in reason.lower():
                raise UserError(
                    f"weights file {path} holds objects other than tensors ({reason}); refused: zoo reads "
                    f"weights with torch.load(weights_only=True) only; save a plain state dict or a .safetensors file"
                ) from exc
            protocols = [m.group(1) for m in (PICKLE_PROTOCOL_NOTE.search(str(n.message)) for n in notes) if m]
            if protocols:
                raise UserError(
                    f"weights file {path} was pickled with protocol {protocols[0]}, which torch.load(weights_only=True) "
                    f"cannot read ({reason}); save it again with torch.save's default protocol, or as a .safetensors file"
                ) from exc
            raise UserError(f"weights file {path} is not a readable PyTorch file ({reason})") from exc
        except Exception as exc:  # truncated zip, garbage bytes, wrong magic number...
            raise UserError(f"weights file {path} is not a readable PyTorch file ({_one_line(exc)})") from exc


def _as_state_dict(raw: Any, path: Path) -> dict:
    """Unwrap a checkpoint container into a flat ``{str: Tensor}``; raise UserError if it is not one."""
    state = raw
    for _ in range(2):  # e.g. {"model": {"state_dict": ...}}
        if isinstance(state, Mapping) and not _all_tensors(state):
            inner = next((state[k] for k in CONTAINER_KEYS if isinstance(state.get(k), Mapping)), None)
            if inner is None:
                break
            state = inner
    if not isinstance(state, Mapping) or not state or not _all_tensors(state):
        if isinstance(state, Mapping):
            keys = ", ".join(repr(k) for k in list(state)[:8]) or "none"
            what = f"a dict whose top-level keys are {keys}"
        else:
            what = f"a {type(state).__name__}"
        raise UserError(
            f"weights file {path} holds {what}, not a state dict of tensors "
            f"(also looked under {', '.join(CONTAINER_KEYS)})"
        )
    metadata = getattr(state, "_metadata", None)
    result = {str(k): v for k, v in state.items()}
    for prefix in WRAPPER_PREFIXES:
        if all(k.startswith(prefix) for k in result):
            result = {k[len(prefix):]: v for k, v in result.items()}
            metadata = None
    out = OrderedDict(result)
    if metadata is not None:  # BatchNorm & co. read their version from it
        out._metadata = metadata
    return out


def _all_tensors(mapping: Mapping) -> bool:
    import torch

    return all(isinstance(v, torch.Tensor) for v in mapping.values())


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def refusal_reason(exc: BaseException) -> str:
    """The useful part of the error ``torch.load(weights_only=True)`` raises for a file holding
    more than tensors and plain values (``Unsupported global: GLOBAL io.open ...``), on one line."""
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1]
    text = " ".join(text.split()).split(" Check the documentation")[0]
    return text.split(". ")[0].rstrip(".")[:200] or type(exc).__name__


# -- finding -----------------------------------------------------------------------------------


def find_or_download(
    url: str,
    *,
    filename: Optional[str] = None,
    allow_download: bool,
    name: Optional[str] = None,
) -> Path:
    """The path of ``url``'s weights in ``checkpoints_dir()``, downloading them only if allowed.

    ``filename`` defaults to the URL's last component (torch.hub's naming, so files torchvision
    or timm downloaded are found). A cached file is hash-checked. Without the file and without
    ``allow_download``, without network (``network_problem``: a few seconds), or when the
    download fails, raises UserError naming the full path looked for and how to provide the
    file. ``name`` (the model) is used in messages.
    """
    filename = filename or url_filename(url)
    target = checkpoints_dir() / filename
    what = f"pretrained weights for {name}" if name else f"pretrained weights {filename}"
    advice = f"put the file there (from {url}), or set weights: PATH"
    if target.is_file():
        verify_hash(target)
        return target
    if not allow_download:
        raise UserError(f"{what} not found: looked for {target}; {advice}, or run with network")
    offline = network_problem([url])
    if offline:
        raise UserError(f"{what} not found: looked for {target}; {offline}: {advice}; "
                        f"ZOO_OFFLINE=1 stops zoo trying the network")
    import torch.hub

    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s to %s", url, target)
    try:
        torch.hub.download_url_to_file(url, str(target), hash_prefix=expected_hash_prefix(target), progress=True)
    except Exception as exc:  # URLError without network, HTTPError, hash mismatch
        raise UserError(
            f"{what} not found and could not be downloaded ({_one_line(exc)}): looked for {target}; {advice}"
        ) from exc
    return target


# -- applying ----------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What ``apply_state_dict`` did.

    ``loaded``: keys copied into the model. ``replaced``: model keys under a replaced prefix
    that kept their fresh initialisation (missing from the file or of another shape).
    ``ignored``: keys of the file under a replaced prefix that the model does not use.
    """

    loaded: list = field(default_factory=list)
    replaced: list = field(default_factory=list)
    ignored: list = field(default_factory=list)
    source: Optional[str] = None

    def as_dict(self) -> dict:
        return {"source": self.source, "loaded": len(self.loaded), "replaced": list(self.replaced),
                "ignored": list(self.ignored)}


def _under(key: str, prefixes: Iterable[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def _listing(keys: list, limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def apply_state_dict(
    model: Any,
    state: Mapping,
    *,
    replaced: Iterable[str] = (),
    source: Optional[PathLike] = None,
) -> LoadReport:
    """Copy ``state`` into ``model`` strictly, except under the module prefixes in ``replaced``.

    ``replaced`` names the modules the caller rebuilt (a new classifier head, say
    ``("classifier",)``): their keys may be missing from ``state``, have another shape, or be
    extra in ``state``; they keep their fresh initialisation and are listed in the returned report
    (and in an INFO record of the ``zoo.weights`` logger, which zoo's command line does not
    show). Any other missing key, unexpected key or shape mismatch is a UserError listing the
    keys, naming ``source`` (the file) when given. Returns a LoadReport.
    """
    replaced = tuple(p.rstrip(".") for p in replaced)
    where = f"weights file {os.fspath(source)}" if source is not None else "state dict"
    own = model.state_dict()
    mismatched = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    bad_shapes = [k for k in mismatched if not _under(k, replaced)]
    if bad_shapes:
        details = [f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in bad_shapes]
        raise UserError(f"{where} does not fit {type(model).__name__}: shape mismatch for {_listing(details, 4)}")
    unexpected = [k for k in state if k not in own]
    bad_unexpected = [k for k in unexpected if not _under(k, replaced)]
    if bad_unexpected:
        raise UserError(
            f"{where} does not fit {type(model).__name__}: keys the model does not have: {_listing(bad_unexpected)}"
        )
    usable = OrderedDict((k, v) for k, v in state.items() if k in own and k not in mismatched)
    if getattr(state, "_metadata", None) is not None:
        usable._metadata = state._metadata
    result = model.load_state_dict(usable, strict=False)
    bad_missing = [k for k in result.missing_keys if not _under(k, replaced)]
    if bad_missing:
        raise UserError(
            f"{where} does not fit {type(model).__name__}: keys missing from the file: {_listing(bad_missing)}"
        )
    report = LoadReport(
        loaded=list(usable),
        replaced=sorted(set(result.missing_keys) | set(mismatched)),
        ignored=[k for k in unexpected],
        source=os.fspath(source) if source is not None else None,
    )
    if report.replaced or report.ignored:
        log.info(
            "loaded %d tensors from %s; kept fresh: %s; ignored from the file: %s",
            len(report.loaded), where, _listing(report.replaced) or "none", _listing(report.ignored) or "none",
        )
    return report
