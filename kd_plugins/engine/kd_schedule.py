"""A distillation weight that decays during training."""
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
    """

    def __init__(self, floor: float = 0.1, end_epoch: Optional[int] = None):
        if not 0.0 <= floor <= 1.0:
            raise ValueError(f'floor must be in [0, 1], got {floor}')
        if end_epoch is not None and end_epoch < 1:
            raise ValueError(f'end_epoch must be >= 1, got {end_epoch}')
        self.floor = float(floor)
        self.end_epoch = end_epoch

    def _algorithm(self, runner: Runner) -> Any:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'distill_loss_scale'):
            raise TypeError(f'KDLossScheduleHook needs a KDYOLOTeacherDistill model, got '
                            f'{type(model).__name__}: remove the hook from a plain detector '
                            'config')
        return model

    def before_train(self, runner: Runner) -> None:
        self._algorithm(runner)  # fail at the start, not at the first iteration

    def before_train_iter(self, runner: Runner, batch_idx: int,
                          data_batch: Optional[Any] = None) -> None:
        if self.end_epoch is not None:
            end = self.end_epoch * len(runner.train_dataloader)
        else:
            end = runner.max_iters
        scale = cosine_scale(runner.iter / max(end - 1, 1), self.floor)
        self._algorithm(runner).distill_loss_scale = scale
        runner.message_hub.update_scalar('train/kd_scale', scale)
