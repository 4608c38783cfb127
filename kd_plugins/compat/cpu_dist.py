"""Multi-process training without CUDA (``torchrun`` + gloo), e.g. to test distributed runs on CPU.

Upstream, three failures in a row:

1. MMEngine 0.10.7 ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` whatever the backend:
   ``AttributeError: module 'torch._C' has no attribute '_cuda_setDevice'`` on a CPU build. The
   runner skips its own initialisation when a process group exists, so :func:`init_cpu_dist`
   creates a gloo group first.
2. The runner wraps the model in DDP with ``device_ids=[LOCAL_RANK]``, which DDP rejects for a CPU
   module: the config gets ``model_wrapper_cfg`` with ``device_ids=None``.
3. MMYOLO's ``YOLODetector(use_syncbn=True)`` (its default) converts BatchNorm to SyncBatchNorm in
   distributed runs, which only runs on CUDA: ``use_syncbn=False`` for every YOLODetector in the
   model config, a distillation's student and teacher included (their ``cfg_path`` configs are
   loaded into the model config first).

:func:`prepare_cpu_distributed` applies all three; ``tools/train.py`` and ``tools/test.py`` call it
when launched with ``--launcher pytorch`` on a machine without CUDA. With CUDA it does nothing.
"""
import os

import torch


def init_cpu_dist(timeout_s: int = 1800) -> bool:
    """Create the gloo process group from torchrun's environment. Returns True if it did."""
    import datetime

    import torch.distributed as dist
    if torch.cuda.is_available() or not dist.is_available() or dist.is_initialized():
        return False
    dist.init_process_group('gloo', timeout=datetime.timedelta(seconds=timeout_s))
    return True


def _no_syncbn(node) -> int:
    """Set ``use_syncbn=False`` on every YOLODetector dict under ``node``; return how many."""
    n = 0
    if isinstance(node, dict):
        if str(node.get('type', '')).split('.')[-1] == 'YOLODetector':
            node['use_syncbn'] = False
            n += 1
        for value in node.values():
            n += _no_syncbn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            n += _no_syncbn(value)
    return n


def _inline_model_configs(model) -> None:
    """A distillation's student and teacher given as ``dict(cfg_path=...)`` are loaded here, so
    that ``use_syncbn=False`` reaches their detectors too (else DDP stops with "SyncBatchNorm
    layers only work with GPU modules")."""
    if not isinstance(model, dict):
        return
    from ..models.algorithms.yolo_teacher_distill import model_cfg
    for role, key in (('student', 'architecture'), ('teacher', 'teacher')):
        sub = model.get(key)
        if isinstance(sub, dict) and 'cfg_path' in sub and 'type' not in sub:
            model[key] = model_cfg(sub, role)


def prepare_cpu_distributed(cfg, launcher: str) -> bool:
    """Adapt ``cfg`` (in place) and the process group for multi-process CPU training.

    Returns:
        bool: True if anything was changed (CPU and a launcher other than 'none').
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise RuntimeError(f'launcher {launcher!r} without CUDA is not supported; use '
                           "torchrun with --launcher pytorch (tools/dist_train.sh)")
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    _inline_model_configs(cfg.model)
    _no_syncbn(cfg.model)
    os.environ.setdefault('LOCAL_RANK', '0')
    init_cpu_dist()
    return True
