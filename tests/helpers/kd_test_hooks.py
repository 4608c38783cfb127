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
