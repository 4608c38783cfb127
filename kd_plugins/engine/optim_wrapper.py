"""Faster training steps on CPU: the trained convolution weights in ``channels_last``
(``tools/train.py --channels-last``), and mixed precision, bf16 autocast with fp32 weights,
losses and optimiser state (``tools/train.py --amp``).

MMEngine 0.10.7's ``AmpOptimWrapper`` asserts a CUDA, NPU, MLU or MUSA device, so
``tools/train.py --amp`` on a CPU uses :class:`CPUAmpOptimWrapper` instead (on CUDA it keeps
MMEngine's fp16 ``AmpOptimWrapper`` with a dynamic loss scale, as MMYOLO does).
"""
import types
from contextlib import contextmanager
from typing import Iterator

import torch
from mmengine.optim import OptimWrapper
from mmyolo.registry import OPTIM_WRAPPERS
from torch import nn

from .precision import EMULATED_BF16_ENV, cpu_bf16_allowed, cpu_bf16_support, fp32_method


def _multi_process() -> bool:
    import torch.distributed as dist
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class NoNativeBF16Error(RuntimeError):
    """Mixed precision was asked for on a CPU without bf16 instructions."""


def _weights_to_channels_last(optimizer) -> bool:
    """Move the 4-D weights ``optimizer`` trains to ``channels_last``, in place of each
    parameter's data (the optimiser keeps the same Parameter). Frozen ones (a distillation's
    teacher, whose layout ``teacher_precision`` chooses) are left as they are. Skipped in a
    multi-process run (DDP's gradient buckets were laid out for the original strides);
    returns whether done."""
    if _multi_process():
        return False
    for group in optimizer.param_groups:
        for p in group['params']:
            if p.dim() == 4 and p.requires_grad:
                p.data = p.data.contiguous(memory_format=torch.channels_last)
    return True


@OPTIM_WRAPPERS.register_module()
class ChannelsLastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that trains the 4-D (convolution) weights in ``channels_last``, fp32.

    oneDNN's convolutions on a CPU are faster in ``channels_last`` on some processors (a
    YOLOv5-N training step 1.07-1.30x on an Intel Xeon with ``avx512_bf16`` and no AMX, where
    bf16 autocast does not pay; docs/benchmark.md) and no faster on others, so
    ``tools/distill.py`` times it before it chooses it. A convolution with ``channels_last``
    weights gives ``channels_last`` outputs, so the layout carries through the network; the
    input stays as the data preprocessor makes it. The weights are moved here, when the
    wrapper is built: the runner builds it before any hook runs, so that an EMA (MMYOLO's
    ``ExpMomentumEMA`` keeps references to the model's tensors from the moment it is created)
    sees the weights that are trained, not a stale copy. Gradients and the optimiser's state
    take the weights' layout; checkpoints hold the same values in another layout, so a run
    resumes with or without it, and a checkpoint loads into any model.

    Args:
        channels_last (bool): Move the weights (skipped in a multi-process run, whose DDP
            gradient buckets were laid out for the original strides). Defaults to True.
        **kwargs: ``OptimWrapper``'s arguments (``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self, channels_last: bool = True, **kwargs):
        super().__init__(**kwargs)
        done = channels_last and _weights_to_channels_last(self.optimizer)
        self.layout = 'channels_last' if done else 'ordinary layout'
        if type(self) is ChannelsLastOptimWrapper:
            from mmengine.logging import print_log
            print_log(f'trained convolution weights in {self.layout}, fp32', logger='current')


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(ChannelsLastOptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` runs the forward pass under
    ``torch.autocast('cpu', dtype=torch.bfloat16)``.

    What runs in bf16: convolutions and matrix products of the forward pass (and their
    backward), with the trained convolution weights in ``channels_last`` (oneDNN's fast layout
    for bf16). What stays fp32: the weights and their gradients (autocast casts a copy per op),
    the optimiser state, every head's ``loss_by_feat`` (box decoding, IoU, assignment and
    losses: its bf16 inputs are cast to fp32 and autocast is off inside it), the distillation
    losses and connectors (``KDYOLOTeacherDistill`` keeps them in fp32), the EMA, checkpoints,
    validation and testing (no autocast there). bf16 has fp32's exponent range, so no loss
    scale is needed; ``state_dict`` is the plain wrapper's, so a run resumes with or without
    ``--amp``.

    Args:
        check_cpu (bool): Refuse to build on a CPU without native bf16 (``avx512_bf16`` or
            AMX), where bf16 is emulated and slower than fp32, unless the environment variable
            ``KD_PLUGINS_EMULATED_BF16`` is ``1``. Defaults to True.
        channels_last (bool): Train the 4-D weights in ``channels_last`` (oneDNN's fast
            layout for bf16), as :class:`ChannelsLastOptimWrapper` does. Defaults to True.
        **kwargs: ``OptimWrapper``'s arguments (``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self, check_cpu: bool = True, channels_last: bool = True, **kwargs):
        if check_cpu and not cpu_bf16_allowed():
            raise NoNativeBF16Error(
                'mixed precision on this CPU: it has no bf16 instructions (neither avx512_bf16 '
                'nor AMX, as torch.cpu reports them), so bf16 would be emulated and slower '
                'than fp32. Train without --amp (fp32); the distillation teacher already runs '
                'in the fastest precision this machine has (teacher_precision=\'auto\'). '
                f'({EMULATED_BF16_ENV}=1 runs it anyway, emulated: for checking the code path.)')
        super().__init__(channels_last=channels_last, **kwargs)
        self._prepared = set()

    def _prepare(self, model: nn.Module) -> None:
        """Once per model: fp32 ``loss_by_feat`` for every head."""
        if id(model) in self._prepared:
            return
        from mmengine.logging import print_log
        heads = 0
        for module in model.modules():
            method = getattr(type(module), 'loss_by_feat', None)
            if callable(method) and not getattr(module.loss_by_feat, '_kd_fp32', False):
                # bound with MethodType, so that a deep copy (EMA) binds to the copy
                module.loss_by_feat = types.MethodType(fp32_method('loss_by_feat'), module)
                heads += 1
        support = cpu_bf16_support()
        if support == 'none':
            support = f'no bf16 instructions: emulated, {EMULATED_BF16_ENV}=1'
        print_log(f'mixed precision on CPU ({support}): forward and backward in '
                  f'bf16 autocast, trained weights {self.layout}; weights, optimiser state and '
                  f'the losses of {heads} head(s) in fp32', logger='current')
        self._prepared.add(id(model))

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        self._prepare(model)
        with super().optim_context(model), torch.autocast('cpu', dtype=torch.bfloat16):
            yield
