"""zoo.weights: safe, hash-checked loading of weight files from the usual caches."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import time

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from zoo import weights as zw
from zoo.errors import UserError


class Payload:
    """Unpickling this object creates the file named by ``marker`` (a stand-in for any code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def small_state() -> dict:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).state_dict()


def save_hashed(state: dict, folder, stem: str, suffix: str = ".pth"):
    """Save ``state`` as ``stem-<first 8 hex of its SHA-256><suffix>``, as torch.hub names files."""
    tmp = folder / f"{stem}.tmp"
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    target = folder / f"{stem}-{digest[:8]}{suffix}"
    tmp.rename(target)
    return target, digest


def assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    return home


# -- where -------------------------------------------------------------------------------------


def test_checkpoints_dir_follows_torch_home_like_torch_hub(torch_home):
    import torch.hub

    assert zw.hub_dir() == torch_home / "hub"
    assert zw.checkpoints_dir() == torch_home / "hub" / "checkpoints"
    assert str(zw.hub_dir()) == torch.hub.get_dir()


def test_downloads_allowed_reads_offline_switches(monkeypatch):
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert zw.downloads_allowed()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not zw.downloads_allowed()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("ZOO_OFFLINE", "true")
    assert not zw.downloads_allowed()


# -- reading -----------------------------------------------------------------------------------


def test_pt_and_safetensors_files_load_to_the_same_tensors(tmp_path):
    state = small_state()
    torch.save(state, tmp_path / "w.pt")
    save_file(dict(state), str(tmp_path / "w.safetensors"))
    assert_same(zw.load_state_dict(tmp_path / "w.pt"), state)
    assert_same(zw.load_state_dict(tmp_path / "w.safetensors"), state)


@pytest.mark.parametrize("wrap", [
    lambda s: {"state_dict": s, "epoch": 3},
    lambda s: {"model": s, "optimizer": {"lr": 0.1}},
    lambda s: {"model": {"state_dict": s}},
    lambda s: {f"module.{k}": v for k, v in s.items()},  # saved from DataParallel
])
def test_checkpoint_containers_are_unwrapped(tmp_path, wrap):
    state = small_state()
    torch.save(wrap(state), tmp_path / "ckpt.pth")
    assert_same(zw.load_state_dict(tmp_path / "ckpt.pth"), state)


def test_hash_prefix_in_the_name_is_checked_both_ways(tmp_path):
    state = small_state()
    good, digest = save_hashed(state, tmp_path, "net")
    assert_same(zw.load_state_dict(good), state)  # the right prefix: loads

    wrong_prefix = "0" * 8 if not digest.startswith("0" * 8) else "1" * 8
    bad = tmp_path / f"net-{wrong_prefix}.pth"
    bad.write_bytes(good.read_bytes())
    with pytest.raises(UserError) as err:
        zw.load_state_dict(bad)
    message = str(err.value)
    assert str(bad) in message and wrong_prefix in message and digest[:8] in message
    assert "\n" not in message


@pytest.mark.parametrize("how", ["torch.save", "plain pickle"])
def test_a_malicious_pickle_is_refused_and_never_run(tmp_path, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    if how == "torch.save":
        torch.save({"weight": torch.zeros(1), "x": Payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps({"weight": Payload(marker)}, protocol=2))
    with pytest.raises(UserError, match="holds objects other than tensors") as err:
        zw.load_state_dict(path)
    assert str(path) in str(err.value)
    assert not marker.exists()
    # The payload is live: ordinary unpickling would have created the file.
    if how == "plain pickle":
        pickle.loads(path.read_bytes())
        assert marker.exists()


def test_truncated_garbage_and_foreign_files_are_user_errors(tmp_path):
    state = small_state()
    whole = tmp_path / "whole.pt"
    torch.save(state, whole)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(os.urandom(2048))
    bad_safetensors = tmp_path / "bad.safetensors"
    bad_safetensors.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    not_a_state_dict = tmp_path / "list.pt"
    torch.save([1, 2, 3], not_a_state_dict)
    for path in (truncated, garbage, bad_safetensors, not_a_state_dict, tmp_path / "absent.pt"):
        with pytest.raises(UserError) as err:
            zw.load_state_dict(path)
        assert str(path) in str(err.value)
    other = tmp_path / "weights.npz"
    other.write_bytes(b"PK")
    with pytest.raises(UserError, match=r"weights\.npz: unknown format '\.npz'"):
        zw.load_state_dict(other)


# -- finding -----------------------------------------------------------------------------------


def test_find_or_download_returns_the_cached_file(torch_home):
    folder = zw.checkpoints_dir()
    folder.mkdir(parents=True)
    path, _ = save_hashed(small_state(), folder, "tiny")
    url = f"https://example.invalid/models/{path.name}"
    assert zw.find_or_download(url, allow_download=False) == path


def test_find_or_download_without_the_file_says_where_it_looked(torch_home):
    url = "https://download.pytorch.org/models/densenet121-a639ec97.pth"
    with pytest.raises(UserError) as err:
        zw.find_or_download(url, allow_download=False, name="densenet121")
    message = str(err.value)
    expected = torch_home / "hub" / "checkpoints" / "densenet121-a639ec97.pth"
    assert message.startswith("pretrained weights for densenet121 not found")
    assert str(expected) in message and "weights: PATH" in message and "network" in message


@pytest.fixture
def http_404():
    """A local HTTP server that answers every request with 404: the network is there, the file is not."""
    import http.server
    import threading

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_failed_download_is_a_user_error(torch_home, http_404):
    with pytest.raises(UserError, match="could not be downloaded .*HTTP Error 404") as err:
        zw.find_or_download(f"{http_404}/models/tiny-0123abcd.pth", allow_download=True)
    assert str(torch_home / "hub" / "checkpoints" / "tiny-0123abcd.pth") in str(err.value)


def without_proxies(monkeypatch) -> None:
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)


def test_no_network_is_found_in_seconds_and_said_in_one_line(torch_home, monkeypatch):
    # port 9 (discard) on the local machine refuses the connection at once, network or not
    without_proxies(monkeypatch)
    url = "http://127.0.0.1:9/models/tiny-0123abcd.pth"
    started = time.perf_counter()
    with pytest.raises(UserError) as err:
        zw.find_or_download(url, allow_download=True, name="acme/tiny")
    assert time.perf_counter() - started < 5
    target = torch_home / "hub" / "checkpoints" / "tiny-0123abcd.pth"
    assert re.fullmatch(
        re.escape(f"pretrained weights for acme/tiny not found: looked for {target}; ")
        + r"no network \(127\.0\.0\.1:9: \[Errno \d+\] Connection refused\): "
        + re.escape(f"put the file there (from {url}), or set weights: PATH; ZOO_OFFLINE=1 stops zoo trying the network"),
        str(err.value))


def test_network_problem_asks_the_proxy_the_environment_names(monkeypatch, http_404):
    without_proxies(monkeypatch)
    assert zw.network_problem([http_404]) is None
    assert zw.network_problem(["http://127.0.0.1:9/x", http_404]) is None  # one host answering is enough
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    assert re.fullmatch(r"no network \(proxy 127\.0\.0\.1:9: \[Errno \d+\] Connection refused\)",
                        zw.network_problem(["http://example.org/weights.pth"]))


def test_a_planted_file_under_a_real_weights_name_is_rejected(torch_home):
    folder = zw.checkpoints_dir()
    folder.mkdir(parents=True)
    planted = folder / "resnet18-f37072fd.pth"
    torch.save(small_state(), planted)
    with pytest.raises(UserError, match="f37072fd"):
        zw.find_or_download("https://download.pytorch.org/models/resnet18-f37072fd.pth", allow_download=False)


# -- applying ----------------------------------------------------------------------------------


def two_heads(classes: int) -> nn.Module:
    torch.manual_seed(classes)
    model = nn.Sequential()
    model.add_module("body", nn.Linear(4, 3))
    model.add_module("head", nn.Linear(3, classes))
    return model


def test_apply_state_dict_lets_only_the_replaced_head_differ(caplog):
    source, target = two_heads(5), two_heads(2)
    fresh_head = target.head.weight.detach().clone()
    with caplog.at_level(logging.INFO, logger="zoo.weights"):
        report = zw.apply_state_dict(target, source.state_dict(), replaced=("head",))
    assert torch.equal(target.body.weight, source.body.weight)
    assert torch.equal(target.head.weight, fresh_head)
    assert report.replaced == ["head.bias", "head.weight"]
    assert report.loaded == ["body.weight", "body.bias"]
    assert "head.weight" in caplog.text


def test_apply_state_dict_names_keys_outside_the_replaced_modules():
    source, target = two_heads(5), two_heads(2)
    with pytest.raises(UserError, match=r"shape mismatch for head\.weight \(5, 3\) vs model \(2, 3\)"):
        zw.apply_state_dict(target, source.state_dict(), source="/tmp/w.pt")
    missing = {k: v for k, v in two_heads(2).state_dict().items() if k != "body.bias"}
    with pytest.raises(UserError, match=r"keys missing from the file: body\.bias"):
        zw.apply_state_dict(target, missing, replaced=("head",))
    extra = dict(two_heads(2).state_dict(), **{"stem.weight": torch.zeros(1)})
    with pytest.raises(UserError, match=r"weights file /tmp/w\.pt .*model does not have: stem\.weight"):
        zw.apply_state_dict(target, extra, replaced=("head",), source="/tmp/w.pt")
