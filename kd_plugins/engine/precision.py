"""Low precision where it is cheap and safe: which dtype a device computes fast, autocast contexts,
and casting recorded tensors back to fp32.

A frozen teacher only runs inference, so its forward can run in bf16 (or fp16 on CUDA) and hand
fp32 tensors to the distillation losses (``KDYOLOTeacherDistill(teacher_precision=...)``); the
student's training step can run under autocast with fp32 losses, weights and optimiser state
(:class:`~kd_plugins.engine.optim_wrapper.CPUAmpOptimWrapper` on CPU, MMEngine's
``AmpOptimWrapper`` on CUDA).

"Native bf16" on a CPU means instructions that compute bf16 dot products (``avx512_bf16`` or
AMX). Without them PyTorch still accepts bf16 but emulates it, which is slower than fp32, so
``'auto'`` keeps fp32 there. With them it depends on the processor: bf16 autocast +
``channels_last`` made a YOLOv5 teacher's forward 1.7-2.1x faster on an AMD EPYC with
``avx512_bf16``, 4.6x on an Intel Xeon with AMX, and not faster at all on an Intel Xeon with
``avx512_bf16`` only (docs/benchmark.md), where fp32 with ``channels_last`` weights and inputs
was the fastest (a YOLOv5-N forward 1.6x faster than in the ordinary layout). So on a CPU a
teacher in ``'auto'`` times its own forward on the first batch in each way this CPU offers
(fp32, fp32 + ``channels_last``, and bf16 + ``channels_last`` where the flags allow bf16;
:func:`median_times`) and takes the fastest by :func:`pick_fastest`'s rule: another way only
where it is faster than the one it would replace by :data:`MIN_LAYOUT_SPEEDUP` (a change of
layout) or :data:`MIN_SPEEDUP` (a lower precision). ``tools/distill.py`` chooses how each model
trains the same way (:func:`kd_plugins.benchmark.time_training_ways`).
"""
import os
import time
from typing import Any, Callable, ContextManager, Dict, Optional, Sequence

import torch

PRECISIONS = ('fp32', 'bf16', 'fp16', 'auto')
DTYPES = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def cpu_bf16_support() -> str:
    """The CPU's bf16 instructions in words: ``'amx_bf16'``, ``'avx512_bf16'`` or ``'none'``
    (as PyTorch's own CPU checks see them)."""
    cpu = getattr(torch, 'cpu', None)
    if cpu is not None and getattr(cpu, '_is_amx_tile_supported', lambda: False)():
        return 'amx_bf16'
    if cpu is not None and getattr(cpu, '_is_avx512_bf16_supported', lambda: False)():
        return 'avx512_bf16'
    return 'none'


def cpu_has_native_bf16() -> bool:
    return cpu_bf16_support() != 'none'


#: set to ``1`` to let ``--amp`` (bf16 training) run on a CPU without bf16 instructions, where it
#: is emulated and slower than fp32 but computes the same way: for checking the mixed-precision
#: code path (the project's tests do) on any machine, never for speed.
EMULATED_BF16_ENV = 'KD_PLUGINS_EMULATED_BF16'


def cpu_bf16_allowed() -> bool:
    """Whether bf16 training may run on this CPU: it has bf16 instructions, or
    :data:`EMULATED_BF16_ENV` is ``1``. ``'auto'`` and ``--precision fastest`` never take emulated
    bf16: they go by :func:`cpu_has_native_bf16` alone."""
    return cpu_has_native_bf16() or os.environ.get(EMULATED_BF16_ENV) == '1'


#: how much faster than the way it replaces a measured way of computing must be for ``'auto'`` to
#: take it (the project's choice: below it, the rounding of a lower precision or a change of
#: layout would be paid for a speed-up within the timing noise of a shared machine).
MIN_SPEEDUP = 1.15
#: the same for a change of memory layout only (fp32 + ``channels_last``): it rounds nothing, so
#: a smaller measured gain is enough (the project's choice).
MIN_LAYOUT_SPEEDUP = 1.05
#: the name of the layout-only way, the same for the teacher's ways and the training ways
LAYOUT_ONLY = 'fp32 + channels_last'


def median_times(fns: Dict[str, Callable[[], Any]], rounds: int = 3) -> Dict[str, float]:
    """Median wall time (s) of each function of ``fns``: one untimed call of each, then
    ``rounds`` timed calls of each, interleaved (a slow moment of a shared machine hits all)."""
    times: Dict[str, list] = {name: [] for name in fns}
    for i in range(rounds + 1):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if i:
                times[name].append(time.perf_counter() - start)
    return {name: sorted(t)[rounds // 2] for name, t in times.items()}


def pick_fastest(times: Dict[str, float], order: Sequence[str],
                 needs: Optional[Dict[str, float]] = None) -> str:
    """The way ``'auto'`` takes, given the median ``times`` of the ways in ``order`` (most
    preferred first: the plainest): walking ``order``, a way replaces the current choice only
    where it is at least ``needs[way]`` times faster than it (default: :data:`LAYOUT_ONLY`
    needs :data:`MIN_LAYOUT_SPEEDUP`, any other way :data:`MIN_SPEEDUP`)."""
    needs = {LAYOUT_ONLY: MIN_LAYOUT_SPEEDUP} if needs is None else needs
    choice = order[0]
    for name in order[1:]:
        if times[choice] >= needs.get(name, MIN_SPEEDUP) * times[name]:
            choice = name
    return choice


def times_words(times: Dict[str, float]) -> str:
    """``'fp32 112 ms, fp32 + channels_last 64 ms, ...'`` for a log line."""
    return ', '.join(f'{name} {t * 1e3:.0f} ms' for name, t in times.items())


def resolve_precision(precision: str, device: torch.device) -> str:
    """``'fp32'``, ``'bf16'`` or ``'fp16'`` for ``precision`` on ``device``.

    ``'auto'``: bf16 on a CPU with native bf16 and on a CUDA device that supports it, fp16 on
    other CUDA devices, fp32 elsewhere. On a CPU this is a candidate: a teacher times its
    forward in it and in fp32 (both layouts) and keeps the fastest
    (``KDYOLOTeacherDistill.resolved_teacher_precision``). An explicit choice is kept as
    given, except fp16 on a CPU, which is refused with a message: bf16 has fp32's range (no
    overflow, no loss scale) and is what CPUs compute natively.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    device = torch.device(device)
    if precision == 'auto':
        if device.type == 'cuda':
            return 'bf16' if torch.cuda.is_bf16_supported() else 'fp16'
        if device.type == 'cpu' and cpu_has_native_bf16():
            return 'bf16'
        return 'fp32'
    if precision == 'fp16' and device.type == 'cpu':
        raise ValueError("precision 'fp16' is for CUDA devices; on a CPU use 'bf16' (or "
                         "'auto', which picks bf16 where the CPU computes it natively)")
    return precision


def autocast(device: torch.device, precision: str) -> ContextManager:
    """A context that runs ops in ``precision`` (``'fp32'``, ``'bf16'``, ``'fp16'``) on
    ``device``. ``'fp32'`` also switches off an autocast that is already active (an ``--amp``
    step around an fp32 teacher)."""
    device_type = torch.device(device).type
    dtype = DTYPES[precision]
    if dtype is None:
        return torch.autocast(device_type, enabled=False)
    return torch.autocast(device_type, dtype=dtype)


def to_fp32(data: Any, contiguous: bool = False) -> Any:
    """``data`` with every bf16/fp16 tensor cast to fp32 (through tuples, lists and dicts;
    other objects unchanged). Gradients flow through the cast. ``contiguous=True`` also turns
    ``channels_last`` tensors into ordinary ones."""
    if isinstance(data, torch.Tensor):
        if data.dtype in (torch.bfloat16, torch.float16):
            data = data.float()
        return data.contiguous() if contiguous else data
    if isinstance(data, (tuple, list)):
        items = [to_fp32(d, contiguous) for d in data]
        if hasattr(data, '_fields'):  # a namedtuple
            return type(data)(*items)
        return type(data)(items)
    if isinstance(data, dict):
        return {k: to_fp32(v, contiguous) for k, v in data.items()}
    return data


def fp32_recorded(manager: Any, contiguous: bool = True) -> None:
    """Cast what the recorders of an MMRazor ``RecorderManager`` recorded to fp32, in place."""
    for recorder in manager.recorders.values():
        buffer = getattr(recorder, 'data_buffer', None)  # the recorder's own list
        if buffer:
            buffer[:] = [to_fp32(d, contiguous) for d in buffer]


def fp32_method(name: str) -> Callable:
    """A method that calls the class's method ``name`` with autocast off and its bf16/fp16
    tensor arguments cast to fp32: how the CPU AMP wrapper keeps a head's ``loss_by_feat`` (box
    decoding, IoU, assignment, losses) in fp32. The class's method is looked up at each call,
    so that MMRazor's method recorders, which patch the class while they record, still see
    the call (with fp32 arguments)."""

    def wrapped(self, *args, **kwargs):
        with torch.autocast('cpu', enabled=False):
            return getattr(type(self), name)(self, *to_fp32(args), **to_fp32(kwargs))

    wrapped._kd_fp32 = True  # the bound method exposes it too (attributes of __func__)
    return wrapped


def describe(precision: str, channels_last: Optional[bool] = None,
             requested: Optional[str] = None) -> str:
    """A log line's words for a resolved precision and layout (``channels_last`` defaults to
    what an explicit precision uses: ordinary for fp32, ``channels_last`` for bf16 and fp16)."""
    if channels_last is None:
        channels_last = precision != 'fp32'
    words = precision if precision == 'fp32' else f'{precision} autocast'
    if channels_last:
        words += ' + channels_last'
    if requested == 'auto':
        words += f" ('auto'; CPU bf16 support: {cpu_bf16_support()})"
    return words
