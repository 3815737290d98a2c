"""Several processes, one run: what zoo does when started by ``torchrun``.

``torchrun --nproc_per_node=N -m zoo run recipe.yaml`` starts N copies of ``zoo run`` with
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` in their
environment (multi-node: torchrun's own ``--nnodes``/``--rdzv-*`` flags). zoo launches
nothing itself; it reads that environment, and then:

- each process takes the device ``cuda:LOCAL_RANK`` (or the CPU) and joins the process group
  with NCCL on CUDA, gloo on the CPU (``session``);
- rank 0 makes the run folder and tells the others its name (``from_main``);
- the task wraps its model with ``wrap`` (DistributedDataParallel), shards its data, and adds
  up its metric sums across processes with ``all_reduce_sum``;
- ``broadcast_module`` / ``broadcast_buffers`` copy rank 0's weights to every process.

Every helper is a no-op (or the plain single-process answer) when no process group is active,
so a task written with them runs unchanged in one process. torch only.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Optional, TypeVar

from zoo.errors import UserError

T = TypeVar("T")

TORCHRUN_HINT = "start the processes with torchrun, e.g. torchrun --nproc_per_node=2 -m zoo run RECIPE"


@dataclass(frozen=True)
class Launch:
    """Where this process stands in a torchrun job."""

    rank: int  # 0 .. world_size-1 over all machines
    local_rank: int  # 0 .. processes on this machine - 1: picks the GPU
    world_size: int  # processes in all


def from_environment(environ: Optional[Mapping[str, str]] = None) -> Optional[Launch]:
    """The torchrun job this process belongs to, read from ``RANK``/``LOCAL_RANK``/``WORLD_SIZE``.

    Returns None for a plain single process (no ``WORLD_SIZE``, or ``WORLD_SIZE=1``). A
    ``WORLD_SIZE`` above 1 without the rest of torchrun's variables is a ``UserError``.
    """
    env = os.environ if environ is None else environ
    world = _int_variable(env, "WORLD_SIZE", 1)
    if world <= 1:
        return None
    missing = [name for name in ("RANK", "MASTER_ADDR", "MASTER_PORT") if not env.get(name)]
    if missing:
        raise UserError(f"WORLD_SIZE={world} is set but {', '.join(missing)} is not: {TORCHRUN_HINT}")
    rank = _int_variable(env, "RANK", 0)
    local_rank = _int_variable(env, "LOCAL_RANK", rank)
    if not 0 <= rank < world:
        raise UserError(f"RANK={rank} is outside 0..{world - 1} for WORLD_SIZE={world}: {TORCHRUN_HINT}")
    return Launch(rank=rank, local_rank=local_rank, world_size=world)


def _int_variable(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise UserError(f"environment variable {name}={value!r} is not a whole number: {TORCHRUN_HINT}") from None


def is_main_process(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether this process is rank 0 (always true outside torchrun)."""
    env = os.environ if environ is None else environ
    return env.get("RANK", "0") in ("", "0")


def process_device(spec: Optional[str], local_rank: int) -> Any:
    """The device of process ``local_rank`` on its machine, for the recipe's ``task.device``.

    ``auto`` and ``cuda``: ``cuda:LOCAL_RANK`` when CUDA is available (``auto`` falls back to
    the CPU); ``cpu``: the CPU. A numbered GPU (``cuda:1``) or another device type is a
    ``UserError``: torchrun's processes each take the GPU of their local rank.
    """
    import torch

    if spec in (None, "auto"):
        if torch.cuda.is_available():
            return _local_gpu(local_rank, "auto")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError) as exc:
        raise UserError(f"task.device: {spec!r} is not a device ({exc})") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if device.index is not None:
            raise UserError(f"task.device: {spec!r} names one GPU, but under torchrun each process takes "
                            f"cuda:LOCAL_RANK; use auto or cuda (choose GPUs with CUDA_VISIBLE_DEVICES)")
        if not torch.cuda.is_available():
            raise UserError(f"task.device: {spec!r} asked for, but CUDA is not available here (use auto or cpu)")
        return _local_gpu(local_rank, spec)
    raise UserError(f"task.device: {spec!r}: under torchrun zoo trains on CUDA (NCCL) or the CPU (gloo); "
                    f"use auto, cuda or cpu")


def _local_gpu(local_rank: int, spec: str) -> Any:
    import torch

    count = torch.cuda.device_count()
    if local_rank >= count:
        raise UserError(f"task.device: {spec!r}: LOCAL_RANK={local_rank} but this machine shows {count} GPU(s); "
                        f"start at most {count} processes per machine (torchrun --nproc_per_node={count})")
    return torch.device("cuda", local_rank)


def backend_for(device: Any) -> str:
    """``nccl`` for CUDA devices, ``gloo`` otherwise."""
    return "nccl" if getattr(device, "type", str(device)) == "cuda" else "gloo"


def is_active() -> bool:
    """Whether a process group of more than one process is running."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@contextmanager
def session(launch: Optional[Launch], device: Any) -> Iterator[None]:
    """Join torchrun's process group for the block (nothing to do when ``launch`` is None).

    Sets the CUDA device first, initialises with ``backend_for(device)`` from torchrun's
    environment, waits for every process at a normal end and leaves the group on the way out.
    A group that is already initialised (a script that set one up) is used and left alone.
    """
    if launch is None:
        yield
        return
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        raise UserError(f"WORLD_SIZE={launch.world_size}: this PyTorch build has no torch.distributed")
    owned = not dist.is_initialized()
    if owned:
        kwargs = {}
        if device.type == "cuda":
            torch.cuda.set_device(device)
            kwargs["device_id"] = device
        try:
            dist.init_process_group(backend=backend_for(device), init_method="env://",
                                    rank=launch.rank, world_size=launch.world_size, **kwargs)
        except ValueError as exc:
            raise UserError(f"cannot join the torchrun job ({exc}): {TORCHRUN_HINT}") from None
    try:
        yield
        dist.barrier()
    finally:
        if owned and dist.is_initialized():
            dist.destroy_process_group()


def from_main(produce: Callable[[], T]) -> T:
    """Call ``produce`` on rank 0 and give its result (picklable) to every process.

    A ``UserError`` it raises on rank 0 is raised on every process, so they stop together.
    Without a process group this is simply ``produce()``.
    """
    if not is_active():
        return produce()
    import torch.distributed as dist

    message = [None, None]
    if dist.get_rank() == 0:
        try:
            message = [produce(), None]
        except UserError as exc:
            message = [None, exc.message]
    dist.broadcast_object_list(message, src=0)
    if message[1] is not None:
        raise UserError(message[1])
    return message[0]


def all_reduce_sum(*tensors: Any) -> None:
    """Add each tensor up over every process, in place (nothing to do in one process)."""
    if not is_active():
        return
    import torch.distributed as dist

    for tensor in tensors:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)


def any_process(flag: Any) -> bool:
    """Whether ``flag`` (a 0-d tensor, non-zero for yes) holds in at least one process; every
    process gets the same answer (one sync), so none waits on the others for a decision."""
    all_reduce_sum(flag)
    return bool(flag > 0)


def broadcast_module(module: Any) -> None:
    """Copy rank 0's parameters and buffers into ``module`` on every process, in place."""
    _broadcast_tensors(list(module.state_dict(keep_vars=True).values()))


def broadcast_buffers(module: Any) -> None:
    """Copy rank 0's buffers (BatchNorm statistics...) into ``module`` on every process."""
    _broadcast_tensors(list(module.buffers()))


def _broadcast_tensors(tensors: list) -> None:
    if not is_active():
        return
    import torch
    import torch.distributed as dist

    with torch.no_grad():
        for tensor in tensors:
            data = tensor.data if isinstance(tensor, torch.nn.Parameter) else tensor
            if data.is_contiguous():
                dist.broadcast(data, src=0)
            else:  # channels_last weights
                copy = data.contiguous()
                dist.broadcast(copy, src=0)
                data.copy_(copy)


def wrap(module: Any, device: Any) -> Any:
    """``module`` in DistributedDataParallel (its gradients averaged over the processes at each
    backward); ``module`` itself when no process group is active."""
    if not is_active():
        return module
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        return DistributedDataParallel(module, device_ids=[device.index], output_device=device.index)
    return DistributedDataParallel(module)
