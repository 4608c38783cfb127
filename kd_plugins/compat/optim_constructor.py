"""MMYOLO's ``YOLOv5OptimizerConstructor`` passes ``None`` to the optimizer for affine-free norms.

Upstream: MMYOLO 0.6.0 ``YOLOv5OptimizerConstructor.__call__`` puts ``module.weight`` of every
``_NormBase`` module into a parameter group without checking it; a norm built with
``affine=False`` (as distillation connectors do to normalise features) has ``weight=None`` and
building the optimizer fails with ``TypeError: optimizer can only optimize Tensors``.

Fix: the constructor is wrapped so that it walks a view of the model that leaves out norm layers
without parameters. Such layers have nothing to optimise, so the parameter groups are otherwise
exactly MMYOLO's.
"""
from torch import nn

from ._wrap import ORIGINAL as _ATTR  # noqa: F401  (tests reach the upstream function)
from ._wrap import wrap_once


class _WithoutParamlessNorms:
    """A stand-in for a model whose ``modules()`` skips norm layers that have no weight."""

    def __init__(self, model: nn.Module):
        self._model = model

    def modules(self):
        for m in self._model.modules():
            if isinstance(m, nn.modules.batchnorm._NormBase) and m.weight is None:
                continue
            yield m


def apply() -> bool:
    """Wrap ``YOLOv5OptimizerConstructor.__call__`` (idempotent)."""
    from mmengine.model import is_model_wrapper
    from mmyolo.engine.optimizers import YOLOv5OptimizerConstructor as Constructor

    def make(original):

        def __call__(self, model):
            if is_model_wrapper(model):
                model = model.module
            return original(self, _WithoutParamlessNorms(model))

        return __call__

    return wrap_once(Constructor, '__call__', make)
