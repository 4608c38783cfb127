"""What distillation costs per training iteration, measured in one process on the same batches.

For a distillation config three phases are timed, interleaved (a, b, c, a, b, c, ...) after a
warm-up, each on the same pre-processed batches:

* ``student_step``: the student alone, forward + backward + optimiser step (plain training);
* ``teacher_forward``: the teacher's forward as the distillation runs it (backbone + neck, and
  the head with ``teacher_runs='head'``; ``torch.no_grad``);
* ``distill_step``: the whole distillation step (teacher forward, recorders, connectors, losses,
  backward, step).

``overhead = distill_step / (student_step + teacher_forward)`` on the medians: 1.0 means the
distillation costs nothing beyond running both networks. For a plain detector config only
``student_step`` is measured. Peak memory per phase is ``torch.cuda.max_memory_allocated`` on
CUDA (measured on extra runs after the timed ones). On CPU the allocator keeps freed memory, so
one process cannot tell the phases apart: ``tools/benchmark_kd.py`` runs each phase alone in a
child process and reports how far it raises the resident set size (:class:`PeakRSS`) above
what the built models and loaded batches hold.
"""
import os
import statistics
import threading
import time
from typing import Dict, List, Optional

import torch

PHASES = ('student_step', 'teacher_forward', 'distill_step')


def rss_bytes() -> int:
    """The resident set size of this process (Linux)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


class PeakRSS:
    """``start`` and ``peak`` resident set size over a block, sampled by a thread every ms."""

    def __init__(self, interval: float = 0.001):
        self.interval = interval
        self.start = self.peak = 0
        self._stop = threading.Event()

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self):
        self.start = self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def fresh_batch(data: dict) -> dict:
    """``data`` with its own copy of the fast-path ground truth (MMYOLO's collated dict of
    tensors). MMYOLO's YOLOv5 head rewrites ``bboxes_labels`` in place (pixel xyxy to normalised
    xywh), so a pre-processed batch that is used again must not be the one a loss already
    changed. The images are shared."""
    samples = data.get('data_samples')
    if not isinstance(samples, dict):
        return data
    return dict(data, data_samples={k: v.clone() if torch.is_tensor(v) else v
                                    for k, v in samples.items()})


def _is_distill(model) -> bool:
    return hasattr(model, 'teacher') and hasattr(model, 'student')


class Benchmark:
    """Times the phases of ``model`` (a built runner's model) on ``batches``.

    Args:
        model: A detector or a distillation algorithm (``KDYOLOTeacherDistill``), on its device.
        optim_wrapper_cfg (dict): The config's ``optim_wrapper``: one optimiser is built for the
            algorithm and one for the student alone, so both steps update parameters as
            training does.
        batches (list): Raw batches from the train dataloader; they are pre-processed once.
    """

    def __init__(self, model, optim_wrapper_cfg, batches: List[dict]):
        from mmengine.optim import build_optim_wrapper
        self.model = model
        self.distill = _is_distill(model)
        self.student = model.student if self.distill else model
        self.device = next(model.parameters()).device
        model.train()
        with torch.no_grad():
            self.batches = [model.data_preprocessor(b, training=True) for b in batches]
        self.optim = {'student_step': build_optim_wrapper(self.student, optim_wrapper_cfg)}
        if self.distill:
            self.optim['distill_step'] = build_optim_wrapper(model, optim_wrapper_cfg)
        self.phases = PHASES if self.distill else PHASES[:1]

    def precisions(self) -> Dict[str, str]:
        """The precision each phase computes in, in words: the student steps follow the
        optimiser wrapper (mixed precision or fp32), the teacher forward the algorithm's
        ``teacher_precision`` resolved for this device (and, for ``'auto'`` on a CPU, timed on
        the first batch, as training does)."""
        optim = self.optim['student_step']
        student = 'fp32'
        if type(optim).__name__ == 'CPUAmpOptimWrapper':
            student = 'bf16 autocast'
        elif type(optim).__name__ == 'ChannelsLastOptimWrapper':
            student = 'fp32 + channels_last'
        elif type(optim).__name__ == 'AmpOptimWrapper':
            dtype = getattr(optim, 'cast_dtype', None) or torch.float16
            student = f'{"bf16" if dtype == torch.bfloat16 else "fp16"} autocast'
        out = {'student_step': student}
        if self.distill:
            # resolved as training resolves it: 'auto' on a CPU times the first batch
            from .engine.precision import describe
            teacher = 'fp32'
            if hasattr(self.model, 'resolved_teacher_precision'):
                teacher = describe(self.model.resolved_teacher_precision(
                    self.device, self.batches[0]['inputs']), self.model.teacher_channels_last)
            out['teacher_forward'] = teacher
            out['distill_step'] = f'student {student}, teacher {teacher}'
        return out

    def _sync(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    def run_phase(self, phase: str, data: dict) -> None:
        if phase == 'teacher_forward':
            with torch.no_grad(), self.optim['distill_step'].optim_context(self.model):
                if hasattr(self.model, 'teacher_forward'):  # KDYOLOTeacherDistill
                    self.model.teacher_forward(data['inputs'])
                else:  # MMRazor's FpnTeacherDistill: backbone + neck
                    self.model.teacher.extract_feat(data['inputs'])
            return
        net = self.student if phase == 'student_step' else self.model
        optim = self.optim[phase]
        with optim.optim_context(net):
            losses = net(**fresh_batch(data), mode='loss')
        loss, _ = net.parse_losses(losses)
        optim.update_params(loss)

    def run(self, iters: int = 10, warmup: int = 3, log=None,
            phases: Optional[List[str]] = None) -> Dict[str, Dict[str, float]]:
        """Median and spread of each phase's seconds (and on CUDA its peak memory in bytes)."""
        phases = phases or self.phases
        times: Dict[str, List[float]] = {p: [] for p in phases}
        n = len(self.batches)
        for i in range(warmup + iters):
            data = self.batches[i % n]
            for phase in phases:
                self._sync()
                t0 = time.perf_counter()
                self.run_phase(phase, data)
                self._sync()
                if i >= warmup:
                    times[phase].append(time.perf_counter() - t0)
            if log is not None:
                done = 'warm-up' if i < warmup else f'{i - warmup + 1}/{iters}'
                log(f'benchmark iteration {done}: ' + ', '.join(
                    f'{p} {times[p][-1]:.3f} s' for p in phases if i >= warmup))
        result = {
            p: dict(median_s=statistics.median(times[p]), min_s=min(times[p]),
                    max_s=max(times[p]), iters=iters)
            for p in phases
        }
        if self.device.type == 'cuda':
            for i, phase in enumerate(phases):
                torch.cuda.reset_peak_memory_stats(self.device)
                self.run_phase(phase, self.batches[i % n])
                self._sync()
                result[phase]['peak_mem_bytes'] = torch.cuda.max_memory_allocated(self.device)
        return result

    def profile(self, phase: str, steps: int = 3, row_limit: int = 20) -> str:
        """torch.profiler over ``steps`` runs of ``phase`` (after the timed ones): the operators
        with the most self time, then the ``kd:`` ranges the distillation marks (teacher forward,
        student loss, each distillation loss), as totals per step."""
        from torch.profiler import ProfilerActivity, profile
        activities = [ProfilerActivity.CPU]
        if self.device.type == 'cuda':
            activities.append(ProfilerActivity.CUDA)
        with profile(activities=activities) as prof:
            for i in range(steps):
                self.run_phase(phase, self.batches[i % len(self.batches)])
                self._sync()
        events = prof.key_averages()
        sort = 'self_cuda_time_total' if self.device.type == 'cuda' else 'self_cpu_time_total'
        lines = [f'{phase}: {steps} steps profiled', events.table(sort_by=sort,
                                                                  row_limit=row_limit)]
        ranges = sorted((e for e in events if e.key.startswith('kd:')),
                        key=lambda e: -e.cpu_time_total)
        if ranges:
            lines.append('kd ranges (CPU ms per step, including children):')
            lines += [f'  {e.key:<24} {e.cpu_time_total / 1e3 / steps:8.1f}' for e in ranges]
        return '\n'.join(lines)


def overhead(result: Dict[str, Dict[str, float]]) -> Optional[float]:
    """``distill_step / (student_step + teacher_forward)`` on the medians (None if no teacher)."""
    if 'distill_step' not in result:
        return None
    return result['distill_step']['median_s'] / (
        result['student_step']['median_s'] + result['teacher_forward']['median_s'])


#: how ``tools/train.py`` trains in each way :func:`time_training_ways` times on a CPU
TRAINING_WAYS = {'fp32': [], 'fp32 + channels_last': ['--channels-last'],  # LAYOUT_ONLY
                 'bf16 autocast + channels_last': ['--amp']}


def time_training_ways(model_cfg: dict, batch_size: int, img_size: int, bf16: bool = True,
                       rounds: int = 3) -> Dict[str, float]:
    """Median seconds of a training step's forward and backward of the detector ``model_cfg``
    (an MMYOLO model config) on a random ``batch_size`` x 3 x ``img_size`` x ``img_size`` batch,
    on the CPU, in each way of :data:`TRAINING_WAYS` this CPU offers (bf16 only with ``bf16``
    and native bf16 instructions); the median of ``rounds`` after one untimed step each, interleaved
    (:func:`~kd_plugins.engine.precision.median_times`). What is timed is the network: the
    head's loss is replaced by the sum of its outputs, because MMYOLO's box assignment and
    losses run in fp32 and the ordinary layout in every way (``--amp`` keeps ``loss_by_feat``
    in fp32), so they add the same time to each. ``tools/distill.py`` picks with
    :func:`~kd_plugins.engine.precision.pick_fastest`."""
    import copy
    import functools

    from mmengine.registry import DefaultScope
    from mmyolo.registry import MODELS
    from mmyolo.utils import register_all_modules

    from .engine.precision import autocast, cpu_has_native_bf16, median_times

    def leaves(out):
        if isinstance(out, torch.Tensor):
            return [out]
        return [t for o in (out or []) for t in leaves(o)] if isinstance(out, (list, tuple)) \
            else []

    def step(net, precision):
        with autocast('cpu', precision):
            out = net(inputs, mode='tensor')
        sum(t.float().sum() for t in leaves(out)).backward()
        net.zero_grad(set_to_none=True)

    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmyolo'):
        model = MODELS.build(model_cfg).train()
    inputs = torch.randn(batch_size, 3, img_size, img_size,
                         generator=torch.Generator().manual_seed(0))
    last = copy.deepcopy(model).to(memory_format=torch.channels_last)
    ways = {'fp32': functools.partial(step, model, 'fp32'),
            'fp32 + channels_last': functools.partial(step, last, 'fp32')}
    if bf16 and cpu_has_native_bf16():
        ways['bf16 autocast + channels_last'] = functools.partial(step, last, 'bf16')
    return median_times(ways, rounds)
