"""An EMA for distillation algorithms that does not average the frozen teacher."""
from mmyolo.models.layers import ExpMomentumEMA
from mmyolo.registry import MODELS
from torch import nn


@MODELS.register_module()
class KDExpMomentumEMA(ExpMomentumEMA):
    """MMYOLO's ``ExpMomentumEMA`` for a distillation algorithm (``model.teacher`` frozen).

    MMEngine's ``EMAHook`` averages the whole model it is given; for a distillation that is the
    algorithm, so the stock EMA deep-copies the teacher and averages its weights at every
    iteration, although a frozen teacher never changes (its average is itself). Here the
    averaged copy shares the teacher module with the trained model instead of copying it, and
    the teacher's tensors are left out of the average: same averaged student and connectors,
    one teacher in memory instead of two, no per-iteration work on the teacher.

    A model without a frozen ``teacher`` is averaged exactly as by ``ExpMomentumEMA``. Use it
    as ``dict(type='EMAHook', ema_type='KDExpMomentumEMA', ...)``.
    """

    def __init__(self, model: nn.Module, *args, **kwargs):
        super().__init__(model, *args, **kwargs)
        teacher = getattr(model, 'teacher', None)
        if isinstance(teacher, nn.Module) and not any(
                p.requires_grad for p in teacher.parameters()):
            self.module.teacher = teacher  # shared: the frozen teacher is its own average
            self.avg_parameters = {k: v for k, v in self.avg_parameters.items()
                                   if not k.startswith('teacher.')}
