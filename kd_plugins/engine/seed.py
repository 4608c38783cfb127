"""Per-epoch seeding: a run resumed from an epoch checkpoint repeats an uninterrupted one."""
import random
from functools import partial

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmyolo.registry import HOOKS


def epoch_seed(seed: int, epoch: int) -> int:
    """A 32-bit seed for ``epoch`` of a run seeded with ``seed`` (distinct per epoch)."""
    return int(np.random.SeedSequence([int(seed) % 2**63, int(epoch)]).generate_state(1)[0])


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Reseed Python, NumPy and PyTorch (and the data workers) at the start of every training
    epoch from ``(runner.seed, epoch)``.

    MMEngine seeds once, when the runner starts, and does not store the random generators'
    state in checkpoints; a run resumed with ``--resume`` is seeded again from the start, so
    its augmentations (mosaic, affine, HSV, flips) from the resumed epoch on differ from the
    uninterrupted run's, and the weights drift apart. Seeding each epoch from its number makes
    the draws of epoch ``e`` the same whether the run got there directly or through a resume:
    on CPU in deterministic mode, a killed and resumed distillation ends with the weights, EMA,
    optimiser state and metrics of the uninterrupted run (tests/test_engine/test_resume.py).

    Data workers: with ``num_workers=0`` the main process draws the augmentations; with
    non-persistent workers, each epoch's workers are seeded from the epoch seed (also giving
    each epoch fresh draws, where MMEngine seeds every epoch's workers alike). Persistent
    workers are seeded once, when created, and continue their streams across epochs; after a
    resume they restart them, so a resume is then statistically equivalent but not
    bit-identical, and the hook says so in the log. Epoch-based loops only (YOLO configs).
    """

    priority = 'VERY_HIGH'  # before any hook that could draw random numbers in this epoch

    def before_train(self, runner: Runner) -> None:
        loader = runner.train_dataloader
        if runner.epoch > 0 and getattr(loader, 'persistent_workers', False) \
                and loader.num_workers > 0:
            runner.logger.warning(
                'resumed with train_dataloader.persistent_workers=True: the data workers '
                'restart their random streams, so augmentations from here on differ from an '
                'uninterrupted run (same distribution, not the same draws). For a resume that '
                'repeats the uninterrupted run exactly, train with persistent_workers=False '
                'or num_workers=0.')

    def before_train_epoch(self, runner: Runner) -> None:
        seed = epoch_seed(runner.seed, runner.epoch)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)  # CPU and every CUDA device
        loader = runner.train_dataloader
        init = getattr(loader, 'worker_init_fn', None)
        if (isinstance(init, partial) and 'seed' in init.keywords and loader.num_workers > 0
                and not loader.persistent_workers):
            loader.worker_init_fn = partial(init.func, *init.args,
                                            **dict(init.keywords, seed=seed))
