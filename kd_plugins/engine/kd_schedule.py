"""A distillation weight that warms up and decays during training."""
import math
from typing import Any, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmyolo.registry import HOOKS


def cosine_scale(progress: float, floor: float) -> float:
    """1 at ``progress`` 0, ``floor`` at 1 and after, half a cosine between."""
    p = min(max(progress, 0.0), 1.0)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * p))


@HOOKS.register_module()
class KDLossScheduleHook(Hook):
    """Multiply every distillation loss by a factor that decays from 1 to ``floor`` along half
    a cosine, over training or until ``end_epoch``, and stays at ``floor`` after: strong
    guidance while the student is far from the teacher, its own labels in charge at the end,
    as DAMO-YOLO and YOLOv6 schedule their distillation weights (the shape and the default
    ``floor`` are this project's choice; neither paper of this project schedules the weight).

    With ``warmup_epochs`` the factor first rises linearly from 0 (the first iteration has no
    distillation) to 1 over that many epochs, and the decay starts after: the student learns
    from its labels alone first and meets the teacher gradually. ``floor=1.0`` gives the
    warm-up alone (the factor stays 1 after it). Project's choice, as above.

    The factor is set on ``KDYOLOTeacherDistill.distill_loss_scale`` before every training
    iteration from the iteration number alone, so ``--resume`` continues it exactly; it is
    logged as ``kd_scale``. To stop distilling for the last epochs instead (e.g. the no-mosaic
    ones), add MMRazor's ``dict(type='mmrazor.StopDistillHook', stop_epoch=...)`` beside or
    instead of it::

        custom_hooks = [dict(type='KDLossScheduleHook', floor=0.1)]

    Args:
        floor (float): The factor at the end, in [0, 1]. Defaults to 0.1.
        end_epoch (int, optional): The epoch (1-based, inclusive) at whose end the factor
            reaches ``floor``. Defaults to the last epoch.
        warmup_epochs (float): Epochs (fractions allowed, counted in iterations) over which
            the factor rises from 0 to 1 before it decays. Defaults to 0 (no warm-up).
    """

    def __init__(self, floor: float = 0.1, end_epoch: Optional[int] = None,
                 warmup_epochs: float = 0):
        if not 0.0 <= floor <= 1.0:
            raise ValueError(f'floor must be in [0, 1], got {floor}')
        if end_epoch is not None and end_epoch < 1:
            raise ValueError(f'end_epoch must be >= 1, got {end_epoch}')
        if warmup_epochs < 0:
            raise ValueError(f'warmup_epochs must be >= 0, got {warmup_epochs}')
        if end_epoch is not None and warmup_epochs >= end_epoch:
            raise ValueError(f'warmup_epochs ({warmup_epochs}) must end before end_epoch '
                             f'({end_epoch})')
        self.floor = float(floor)
        self.end_epoch = end_epoch
        self.warmup_epochs = float(warmup_epochs)

    def _algorithm(self, runner: Runner) -> Any:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'distill_loss_scale'):
            raise TypeError(f'KDLossScheduleHook needs a KDYOLOTeacherDistill model, got '
                            f'{type(model).__name__}: remove the hook from a plain detector '
                            'config')
        return model

    def before_train(self, runner: Runner) -> None:
        self._algorithm(runner)  # fail at the start, not at the first iteration
        if self.warmup_epochs and self.end_epoch is None and \
                self.warmup_epochs >= runner.max_epochs:
            raise ValueError(f'warmup_epochs ({self.warmup_epochs:g}) must end before the '
                             f'last epoch ({runner.max_epochs})')

    def before_train_iter(self, runner: Runner, batch_idx: int,
                          data_batch: Optional[Any] = None) -> None:
        if self.end_epoch is not None:
            end = self.end_epoch * len(runner.train_dataloader)
        else:
            end = runner.max_iters
        warmup = round(self.warmup_epochs * len(runner.train_dataloader))
        if runner.iter < warmup:
            scale = runner.iter / warmup
        else:
            scale = cosine_scale((runner.iter - warmup) / max(end - 1 - warmup, 1), self.floor)
        self._algorithm(runner).distill_loss_scale = scale
        runner.message_hub.update_scalar('train/kd_scale', scale)
