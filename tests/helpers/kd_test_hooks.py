"""Hooks used by the tests only (imported through ``custom_imports`` with tests/helpers on
PYTHONPATH): they simulate failures a real run meets."""
import mmap
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KDTestKillHook(Hook):
    """SIGKILL the training process before iteration ``at_iter`` (0-based, counted over the
    whole run): an interruption that gives the process no chance to clean up or save."""

    priority = 'LOWEST'

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at_iter:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class KDTestLeakHook(Hook):
    """Keeps ``mib_per_iter`` MiB alive per training iteration: a memory leak."""

    def __init__(self, mib_per_iter: float):
        self.nbytes = int(mib_per_iter * 2**20)
        self.kept = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        block = mmap.mmap(-1, self.nbytes)  # fresh pages from the kernel
        for offset in range(0, self.nbytes, 4096):  # touch every page so it is resident
            block[offset] = 1
        self.kept.append(block)


@HOOKS.register_module()
class KDTestRankDumpHook(Hook):
    """Each rank writes ``rank<N>.pt`` to the work dir after training: the distillation losses
    it computed at every iteration (its own, before any averaging across ranks) and its
    model's parameters (student, connectors, teacher)."""

    def __init__(self):
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses.append({k: float(v) for k, v in outputs.items()
                            if k.startswith('distill.')})

    def after_train(self, runner):
        import torch
        from mmengine.dist import get_rank
        model = getattr(runner.model, 'module', runner.model)
        params = {n: p.detach().clone() for n, p in model.named_parameters()}
        torch.save(dict(losses=self.losses, params=params),
                   os.path.join(runner.work_dir, f'rank{get_rank()}.pt'))
