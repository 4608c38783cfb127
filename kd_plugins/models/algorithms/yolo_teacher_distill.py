"""Teacher -> student distillation for MMYOLO detectors, with checks before training starts."""
import copy
import functools
import os.path as osp
from typing import Any, Dict, List, Optional, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.dist import all_reduce
from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict
from mmengine.structures import BaseDataElement
from mmrazor.models.algorithms import FpnTeacherDistill
from mmrazor.models.utils import add_prefix
from mmrazor.registry import MODELS

from ...engine.precision import (LAYOUT_ONLY, MIN_LAYOUT_SPEEDUP, MIN_SPEEDUP, PRECISIONS,
                                 autocast, cpu_bf16_support, describe, fp32_recorded, median_times,
                                 pick_fastest, resolve_precision, times_words, to_fp32)


def model_cfg(cfg: Union[Dict, ConfigDict], role: str) -> ConfigDict:
    """The model config of ``cfg``: a model dict, or ``dict(cfg_path=...)`` naming a config file
    (a local path, or ``package::path`` for configs shipped inside a package). Other keys beside
    ``cfg_path`` are merged into that file's ``model`` as a child config's would be
    (``_delete_=True`` replaces a dict), e.g. ``dict(cfg_path=..., bbox_head=dict(loss_obj=...))``
    changes the student's objectness loss without a second student config. MMRazor's
    ``pretrained=False`` is accepted; ``pretrained=True`` is refused with a message."""
    if 'cfg_path' not in cfg or 'type' in cfg:
        return ConfigDict(cfg)
    path = cfg['cfg_path']
    if '::' in path:
        from mmengine.hub import get_config
        loaded = get_config(path)
    else:
        if not osp.isfile(path):
            raise FileNotFoundError(f'{role} config {path} does not exist (paths are relative to '
                                    'where tools/ are run, the repository root)')
        loaded = Config.fromfile(path)
    if cfg.get('pretrained', False):
        raise ValueError(f"{role}: dict(cfg_path=..., pretrained=True) is not supported here "
                         '(MMRazor would download weights released with that config); give the '
                         "teacher's weights as teacher_ckpt, the student's with --cfg-options "
                         'load_from=...')
    overrides = {f'model.{k}': v for k, v in cfg.items() if k not in ('cfg_path', 'pretrained')}
    if overrides:
        loaded.merge_from_dict(overrides)
    model = loaded.model
    if 'data_preprocessor' in loaded and 'data_preprocessor' not in model:
        model.data_preprocessor = loaded.data_preprocessor
    model.setdefault('_scope_', loaded.get('default_scope', 'mmyolo'))
    return model


def num_classes(model: ConfigDict) -> Optional[int]:
    head = model.get('bbox_head', {})
    return head.get('head_module', {}).get('num_classes', head.get('num_classes'))


def _loss_entries(losses: Dict):
    """(name, list of tensors) of the entries MMEngine's ``BaseModel.parse_losses`` sums: those
    whose name contains ``'loss'``."""
    for name, value in losses.items():
        if 'loss' in name:
            yield name, value if isinstance(value, (list, tuple)) else [value]


def loss_total(losses: Dict) -> torch.Tensor:
    """The total that ``parse_losses`` optimises (a list of tensors counts as the sum of their
    means)."""
    return torch.as_tensor(sum(sum(v.mean() for v in values)
                               for _, values in _loss_entries(losses)))


def share_groups(distill_share: Union[None, float, Dict]) -> Optional[List[tuple]]:
    """``distill_share`` as ``[(name, share, loss-name prefixes or None for every loss)]``;
    None for None. A float is one group of every distillation loss (named ``''``); a dict
    ``{name: dict(share=..., losses=[prefix, ...])}`` is one group per part. Raises ValueError
    with what is wrong."""
    if distill_share is None:
        return None
    if isinstance(distill_share, (int, float)) and not isinstance(distill_share, bool):
        if not 0.0 < distill_share < 1.0:
            raise ValueError(f'distill_share must be in (0, 1) or None, got {distill_share}')
        return [('', float(distill_share), None)]
    if not isinstance(distill_share, dict) or not distill_share:
        raise ValueError('distill_share must be a float in (0, 1), None, or a dict {part: '
                         'dict(share=..., losses=[loss name prefix, ...])}, got '
                         f'{distill_share!r}')
    groups = []
    for name, part in distill_share.items():
        if not (isinstance(name, str) and name.isidentifier()) or not isinstance(part, dict) \
                or set(part) != {'share', 'losses'}:
            raise ValueError(f'distill_share part {name!r}: a name (letters, digits, _) and '
                             f'dict(share=..., losses=[...]), got {part!r}')
        share, prefixes = part['share'], part['losses']
        if isinstance(prefixes, str):
            prefixes = [prefixes]
        if not isinstance(share, (int, float)) or not 0.0 < share < 1.0:
            raise ValueError(f'distill_share part {name!r}: share must be in (0, 1), got {share}')
        if not prefixes or not all(isinstance(p, str) and p for p in prefixes):
            raise ValueError(f'distill_share part {name!r}: losses must be loss name prefixes '
                             f'(e.g. [\'loss_cwd\']), got {prefixes!r}')
        groups.append((name, float(share), tuple(prefixes)))
    total = sum(g[1] for g in groups)
    if total >= 1.0:
        raise ValueError(f'distill_share: the parts\' shares add up to {total:g}; they must '
                         'leave the student\'s own losses a share (sum < 1)')
    return groups


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite."""


def _stop_if_not_finite(losses: Dict) -> None:
    from mmengine.logging import MessageHub
    for name, values in _loss_entries(losses):
        if all(torch.isfinite(torch.as_tensor(v)).all() for v in values):
            continue
        hub = MessageHub.get_current_instance()
        it, epoch = hub.get_info('iter'), hub.get_info('epoch')
        where = f'at iteration {it + 1} (epoch {epoch + 1})' if it is not None else ''
        last = hub.get_info('last_ckpt')
        raise NonFiniteLossError(
            f'loss {name} is {[float(torch.as_tensor(v).detach().float().sum()) for v in values]}'
            f' {where}: training stopped before this step, no checkpoint written after it. '
            f'Last checkpoint: {last or "none yet"}. Check the learning rate, the loss weights '
            'and the teacher checkpoint (a NaN teacher gives NaN distillation losses).')


@MODELS.register_module()
class KDYOLOTeacherDistill(FpnTeacherDistill):
    """``FpnTeacherDistill`` (the teacher runs backbone + neck only, without gradients) for
    MMYOLO detectors, that fails before training with a clear message when:

    * ``teacher_ckpt`` does not exist, or does not fit the teacher config (loaded strictly:
      missing, unexpected or differently shaped weights are listed);
    * the teacher and the student predict different numbers of classes.

    ``architecture`` and ``teacher`` take a model dict or ``dict(cfg_path=...)`` with a local
    config path or a ``mmyolo::`` path. The teacher is frozen and its BatchNorm layers stay in
    eval mode (MMRazor's ``teacher_trainable=False``, ``teacher_norm_eval=True``).

    Every loss of an iteration is checked: a NaN or infinite value stops training at once with
    the loss's name, the iteration and the last checkpoint written (none is written after it).

    ``teacher_runs='neck'`` (default) runs the teacher's backbone and neck only, enough for
    feature distillation (CWD). ``'head'`` also runs its head's forward (no loss, no
    assignment), for distillation of predictions such as box-edge distributions (LD).

    ``teacher_precision`` sets the precision of the teacher's forward (it only runs inference):
    ``'fp32'``, ``'bf16'``, ``'fp16'`` (CUDA only) or ``'auto'`` (default: on a CPU, the fastest
    of fp32, fp32 + ``channels_last`` and, with native bf16 instructions, bf16 +
    ``channels_last``, timed on the first batch; a way replaces a plainer one only where it is
    1.05x (layout) or 1.15x (bf16) faster; on CUDA bf16 where the device supports it, else fp16; see
    :meth:`resolved_teacher_precision`). In bf16 or fp16 the teacher runs under autocast with
    ``channels_last`` weights and inputs; its weights stay fp32, and what its recorders
    recorded is cast back to fp32 (ordinary memory format) before connectors and losses see
    it. The choice is logged once, at the first training step.
    Connectors and distillation losses always run in fp32, also inside an ``--amp`` step (the
    student's recorded tensors are cast to fp32; gradients flow through the cast).

    Two optional hooks of a distillation loss, called once at build time, after the student
    is built (``_bind_losses_to_student``; both are logged):

    * ``bind_student_head(head)``: the loss takes what it leaves unset from the student's
      ``bbox_head`` (the YOLOv5 losses: anchors, strides, assignment thresholds, objectness
      level weights, the label losses' weights);
    * ``student_loss_scales``: a dict ``{name of a loss of the student head: factor}``; the
      algorithm multiplies that loss's ``loss_weight`` by the factor. Huang et al.'s
      classification loss, ``gamma * KD + (1 - gamma) * CE(labels)``, uses it: the label part
      is the student head's own ``loss_cls``, scaled by ``1 - gamma``
      (``KDYOLOv5ClsKDLoss(scale_student_label_loss=True)``, written out in
      ``configs/ld/_base_/ld_yolov5_head.py``). The log says
      ``loss_cls_kd: the student's own loss_cls weight x 0.5 -> ...``.

    ``distill_share`` (optional, off by default) balances the distillation against the
    student's own losses automatically: every distillation loss is multiplied by one factor,
    ``kd_balance = share / (1 - share) * S / D``, where ``S`` and ``D`` are running means
    (bias-corrected, momentum ``share_momentum``; averaged over the processes under DDP) of
    the detached totals of the student's losses and of the distillation losses, so that the
    distillation is about ``share`` of the total loss whatever the family's loss scales
    (MMYOLO's YOLOv8 losses grow with the batch size, its YOLOv5 ones do not). A decay of
    ``KDLossScheduleHook`` applies on top. The running means are buffers of the algorithm:
    checkpoints keep them and ``--resume`` continues them. The idea (an automatic
    normalisation) and its form are this project's choice; neither paper balances its loss.
    Each training step logs ``kd_share``, the distillation's share of that step's total loss
    (with or without ``distill_share``), and, with it, ``kd_balance``. Once MMRazor's
    ``StopDistillHook`` has stopped the distillation, each step logs these and the distillation
    losses as zeros, and the teacher no longer runs (unless the distiller has deliveries, which
    hand the teacher's results to the student).

    ``distill_share`` may instead give each part of a combined distillation its own share,
    ``dict(head=dict(share=0.3, losses=['loss_ld', 'loss_cls_kd', 'loss_obj_kd']),
    neck=dict(share=0.1, losses=['loss_cwd']))``: each loss belongs to the one part whose
    prefix its name starts with, and part ``g`` is multiplied by ``share_g / (1 - sum of the
    shares) * S / D_g`` (``D_g``: the running mean of that part's total), so that each part is
    about its share of the total loss; LD + CWD in one student can then keep LD at LD's own
    share with CWD added beside it, instead of one share that the larger CWD terms take most of
    (docs/ld.md). Logged per part: ``kd_share_<part>`` and ``kd_balance_<part>``. A loss that
    no part names, or two do, stops the first step with a message. Project's choice, as above.

    Args:
        architecture (dict): The student.
        teacher (dict): The teacher.
        teacher_ckpt (str, optional): The teacher's trained weights: a file or a URL that
            MMEngine's ``CheckpointLoader`` reads (``https://``, ``s3://``, ...). Its
            ``state_dict`` holds the EMA weights when the teacher was trained with EMA.
        teacher_runs (str): ``'neck'`` or ``'head'``, see above.
        teacher_precision (str): ``'fp32'``, ``'bf16'``, ``'fp16'`` or ``'auto'``, see above.
        distill_share (float | dict, optional): The distillation's target share of the total
            loss, in (0, 1), or one per part (a dict, see above); None (default) leaves every
            loss weight as configured.
        share_momentum (float): The running means' momentum, in [0, 1). Defaults to 0.99
            (project's choice: about the last hundred steps).
        **kwargs: The rest of ``FpnTeacherDistill``'s arguments (``distiller``, ...).
    """

    def __init__(self, architecture: Dict, teacher: Dict, teacher_ckpt: Optional[str] = None,
                 teacher_runs: str = 'neck', teacher_precision: str = 'auto',
                 distill_share: Optional[float] = None, share_momentum: float = 0.99, **kwargs):
        if teacher_runs not in ('neck', 'head'):
            raise ValueError(f"teacher_runs must be 'neck' or 'head', got {teacher_runs!r}")
        if teacher_precision not in PRECISIONS:
            raise ValueError(f'teacher_precision must be one of {PRECISIONS}, got '
                             f'{teacher_precision!r}')
        groups = share_groups(distill_share)
        if not 0.0 <= share_momentum < 1.0:
            raise ValueError(f'share_momentum must be in [0, 1), got {share_momentum}')
        student_cfg = model_cfg(architecture, 'student')
        teacher_cfg = model_cfg(teacher, 'teacher')
        n_s, n_t = num_classes(student_cfg), num_classes(teacher_cfg)
        if n_s is not None and n_t is not None and n_s != n_t:
            raise ValueError(f'the teacher predicts {n_t} classes and the student {n_s}: '
                             'distil from a teacher trained on the same classes (set the same '
                             'num_classes and dataset metainfo in both configs)')
        if teacher_ckpt is not None and '://' not in teacher_ckpt and \
                not osp.isfile(teacher_ckpt):
            raise FileNotFoundError(
                f'teacher_ckpt {teacher_ckpt} does not exist: train the teacher first '
                '(python tools/train.py <teacher config>) or point teacher_ckpt at its '
                'checkpoint')
        super().__init__(architecture=student_cfg, teacher=teacher_cfg, teacher_ckpt=None,
                         **kwargs)
        self.teacher_runs = teacher_runs
        self.teacher_precision = teacher_precision
        self._teacher_precision_on = None  # (device type, precision, channels_last) once resolved
        # every distillation loss is multiplied by this (KDLossScheduleHook decays it)
        self.distill_loss_scale = 1.0
        self.distill_share = distill_share
        self.share_groups = groups
        self.share_momentum = share_momentum
        self._share_of_loss = {}  # distillation loss name -> index of its part
        if groups is not None:  # running sums of the student's and each part's loss totals
            self.register_buffer('share_running_totals', torch.zeros(1 + len(groups)))
            self.register_buffer('share_steps', torch.zeros((), dtype=torch.long))
        self._bind_losses_to_student()
        if teacher_ckpt is not None:
            self.load_teacher(teacher_ckpt)

    def _bind_losses_to_student(self) -> None:
        """Distillation losses that need the student head's settings (``bind_student_head``:
        anchors, strides, ...) get them; losses with ``student_loss_scales`` (e.g. the
        classification KD's ``1 - gamma`` on the label loss) scale the student head's own
        loss weights, once, here."""
        from mmengine.logging import print_log
        head = getattr(self.student, 'bbox_head', None)
        for name, loss in self.distiller.distill_losses.items():
            if hasattr(loss, 'bind_student_head'):
                loss.bind_student_head(head)
            for target, scale in getattr(loss, 'student_loss_scales', {}).items():
                own = getattr(head, target, None)
                if not hasattr(own, 'loss_weight'):
                    raise ValueError(f"distillation loss '{name}' scales the student head's "
                                     f"'{target}', which it does not have")
                own.loss_weight = own.loss_weight * scale
                print_log(f"{name}: the student's own {target} weight x {scale:g} -> "
                          f'{own.loss_weight:g}', logger='current')

    def loss(self, batch_inputs: torch.Tensor,
             data_samples: Optional[List[BaseDataElement]] = None) -> Dict:
        """As ``FpnTeacherDistill.loss``, with the teacher's head run when ``teacher_runs`` is
        ``'head'``, and every loss checked for NaN / infinity."""
        losses = self._losses(batch_inputs, data_samples)
        _stop_if_not_finite(losses)
        return losses

    def resolved_teacher_precision(self, device: torch.device,
                                   batch_inputs: Optional[torch.Tensor] = None) -> str:
        """``teacher_precision`` resolved for ``device`` (``'fp32'``, ``'bf16'`` or ``'fp16'``);
        the first call on a device logs the choice and moves the teacher's weights to the
        chosen layout (:attr:`teacher_channels_last`). An explicit precision runs fp32 in the
        ordinary layout and bf16/fp16 in ``channels_last``. ``'auto'`` on a CPU times the
        teacher's forward on ``batch_inputs`` (the first training batch) in fp32, in fp32 +
        ``channels_last`` and, where the CPU's flags allow bf16, in bf16 + ``channels_last``
        (:meth:`_time_teacher`), and takes the fastest by
        :func:`~kd_plugins.engine.precision.pick_fastest` (a way replaces a plainer one only
        where it is ``MIN_LAYOUT_SPEEDUP`` (layout) or ``MIN_SPEEDUP`` (bf16) times faster).
        In deterministic mode (``randomness.deterministic=True``, which makes
        ``torch.are_deterministic_algorithms_enabled()`` true) ``'auto'`` on a CPU is plain
        fp32, untimed: a timed choice could differ between a run and its resumption."""
        device = torch.device(device)
        if self._teacher_precision_on is not None and \
                self._teacher_precision_on[0] == device.type:
            return self._teacher_precision_on[1]
        from mmengine.logging import print_log
        precision = resolve_precision(self.teacher_precision, device)
        channels_last = precision != 'fp32'
        words = describe(precision, channels_last, self.teacher_precision)
        deterministic = torch.are_deterministic_algorithms_enabled()
        if self.teacher_precision == 'auto' and device.type == 'cpu' and deterministic:
            # a choice by timing could differ between a run and its resumption
            precision, channels_last = 'fp32', False
            words = ("fp32 ('auto' in deterministic mode: not timed, so that a resumed run "
                     'computes as the uninterrupted one)')
        elif self.teacher_precision == 'auto' and device.type == 'cpu' and \
                batch_inputs is not None:
            ways = {'fp32': ('fp32', False), LAYOUT_ONLY: ('fp32', True)}
            if precision == 'bf16':  # the CPU's flags allow it
                ways['bf16 + channels_last'] = ('bf16', True)
            times = self._time_teacher(batch_inputs, ways)
            precision, channels_last = ways[pick_fastest(times, list(ways))]
            words = (f"{describe(precision, channels_last)} ('auto' on this CPU "
                     f"({cpu_bf16_support()} bf16): the teacher's forward on the first batch "
                     f'took {times_words(times)}; a way replaces a plainer one where it is '
                     f'{MIN_LAYOUT_SPEEDUP:g}x (layout) or {MIN_SPEEDUP:g}x (bf16) faster)')
        if channels_last:
            self.teacher.to(memory_format=torch.channels_last)
        print_log(f'teacher forward on {device.type}: {words}; recorded teacher tensors '
                  'are cast to fp32 for the connectors and losses', logger='current')
        self._teacher_precision_on = (device.type, precision, channels_last)
        return precision

    @property
    def teacher_channels_last(self) -> bool:
        """Whether the teacher's forward runs in ``channels_last`` (once resolved)."""
        return bool(self._teacher_precision_on and self._teacher_precision_on[2])

    def _time_teacher(self, batch_inputs: torch.Tensor, ways: Dict[str, tuple]) -> Dict:
        """Median time (s) of the teacher's forward on ``batch_inputs``, no gradients, in each
        of ``ways`` (``{name: (precision, channels_last)}``; :func:`median_times`). The
        ``channels_last`` ways run a copy of the teacher (deleted after), so the teacher is
        left as it was. Called before the recorders are entered, so nothing is recorded.
        Under distributed training rank 0 measures and every rank takes its times (one choice
        for all)."""
        from mmengine.dist import broadcast_object_list, get_rank, get_world_size
        times = [None]
        if get_rank() == 0:
            last_teacher = copy.deepcopy(self.teacher).to(memory_format=torch.channels_last)
            last_inputs = batch_inputs.contiguous(memory_format=torch.channels_last)

            def run(prec, channels_last):
                teacher = last_teacher if channels_last else self.teacher
                inputs = last_inputs if channels_last else batch_inputs
                with torch.no_grad(), autocast(inputs.device, prec):
                    feats = teacher.extract_feat(inputs)
                    if self.teacher_runs == 'head':
                        teacher.bbox_head(feats)

            times[0] = median_times({name: functools.partial(run, *way)
                                     for name, way in ways.items()})
            del last_teacher
        if get_world_size() > 1:
            broadcast_object_list(times, src=0)
        return times[0]

    def teacher_forward(self, batch_inputs: torch.Tensor, fp32_out: bool = True) -> Any:
        """The teacher's part of a training step: backbone + neck, and the head's forward with
        ``teacher_runs='head'``, in ``teacher_precision`` (callers add ``torch.no_grad`` and the
        recorders). Returns what the teacher computed, cast to fp32 in the ordinary layout
        unless ``fp32_out=False`` (the training step uses what the recorders recorded, and
        casts that)."""
        precision = self.resolved_teacher_precision(batch_inputs.device, batch_inputs)
        if self.teacher_channels_last:
            batch_inputs = batch_inputs.contiguous(memory_format=torch.channels_last)
        with autocast(batch_inputs.device, precision):
            feats = self.teacher.extract_feat(batch_inputs)
            out = self.teacher.bbox_head(feats) if self.teacher_runs == 'head' else feats
        plain = precision == 'fp32' and not self.teacher_channels_last
        return to_fp32(out, contiguous=True) if fp32_out and not plain else out

    def _losses(self, batch_inputs, data_samples):
        # resolved (and, for 'auto' on a CPU, timed) before the recorders are entered
        self.resolved_teacher_precision(batch_inputs.device, batch_inputs)
        # record_function: named ranges in torch.profiler traces (benchmark_kd.py --profile)
        self.distiller.set_deliveries_override(False)
        # once the distillation is stopped, nothing uses the teacher's forward unless a
        # delivery hands its results to the student
        if not self.distillation_stopped or self.distiller.deliveries.deliveries:
            grad = torch.enable_grad() if self.teacher_trainable else torch.no_grad()
            with self.distiller.teacher_recorders, self.distiller.deliveries, grad, \
                    torch.profiler.record_function('kd:teacher_forward'):
                self.teacher_forward(batch_inputs, fp32_out=False)
            if self._teacher_precision_on[1] != 'fp32' or self.teacher_channels_last:
                fp32_recorded(self.distiller.teacher_recorders)  # (resolved by teacher_forward)
        self.distiller.set_deliveries_override(True)
        with self.distiller.student_recorders, self.distiller.deliveries, \
                torch.profiler.record_function('kd:student_loss'):
            losses = add_prefix(self.student(batch_inputs, data_samples, mode='loss'),
                                'student')
        if not self.distillation_stopped:
            # connectors and losses in fp32, also when the step runs under autocast (--amp)
            fp32_recorded(self.distiller.student_recorders, contiguous=False)
            with autocast(batch_inputs.device, 'fp32'):
                distill = self.distiller.compute_distill_losses()
            student_total = loss_total(losses).detach().float()
            scale = self.distill_loss_scale
            if self.share_groups is None:
                distill_total = loss_total(distill).detach().float()
                if scale != 1.0:
                    distill = {k: v * scale for k, v in distill.items()}
                weighted = distill_total * scale
            else:
                part = self._parts_of(distill)
                totals = torch.stack([
                    loss_total({k: v for k, v in distill.items() if part[k] == g}).detach()
                    .float() for g in range(len(self.share_groups))])
                balance = self._balance(student_total, totals)
                distill = {k: v * (scale * balance[part[k]]) for k, v in distill.items()}
                weighted = (totals * balance).sum() * scale
            losses.update(add_prefix(distill, 'distill'))
            losses['kd_share'] = weighted / (student_total + weighted).clamp_min(1e-12)
            if self.share_groups is not None:
                if self._one_share:
                    losses['kd_balance'] = balance[0].detach()
                else:
                    total = (student_total + weighted).clamp_min(1e-12)
                    for g, (name, _, _) in enumerate(self.share_groups):
                        losses[f'kd_share_{name}'] = totals[g] * balance[g] * scale / total
                        losses[f'kd_balance_{name}'] = balance[g].detach()
        else:
            losses.update(self._stopped_log_values(batch_inputs))
        return losses

    @property
    def _one_share(self) -> bool:
        """One share for the whole distillation (logged as ``kd_balance``), not per part."""
        return len(self.share_groups) == 1 and self.share_groups[0][0] == ''

    def _stopped_log_values(self, like: torch.Tensor) -> Dict[str, torch.Tensor]:
        """What a step logs of the distillation once it is stopped (MMRazor's
        ``StopDistillHook``): each key a distilling step logs, at zero. MMEngine's log processor
        prints the mean of each key's recent values, so keys that stopped arriving would repeat
        their last values to the end of the run, as if the distillation went on."""
        keys = [f'distill.{name}' for name in self.distiller.loss_forward_mappings]
        keys.append('kd_share')
        if self.share_groups is not None:
            if self._one_share:
                keys.append('kd_balance')
            else:
                keys += [f'kd_{what}_{name}' for name, _, _ in self.share_groups
                         for what in ('share', 'balance')]
        zero = like.new_zeros((), dtype=torch.float32)
        return {key: zero for key in keys}

    def _parts_of(self, distill: Dict) -> Dict[str, int]:
        """``{distillation loss name: index of its part in share_groups}``; every loss in
        exactly one part (worked out once per set of loss names)."""
        if set(self._share_of_loss) != set(distill):
            parts = {}
            for key in distill:
                hits = [g for g, (_, _, prefixes) in enumerate(self.share_groups)
                        if prefixes is None or any(key.startswith(p) for p in prefixes)]
                if len(hits) != 1:
                    names = [self.share_groups[g][0] for g in hits]
                    raise ValueError(
                        f'distill_share: the distillation loss {key} is in '
                        + (f'{len(hits)} parts ({", ".join(names)})' if hits else 'no part')
                        + '; each loss must start with the prefix of exactly one part. '
                        f'Parts: { {n: list(p) for n, _, p in self.share_groups} }, '
                        f'losses: {sorted(distill)}')
                parts[key] = hits[0]
            self._share_of_loss = parts
        return self._share_of_loss

    def _balance(self, student_total: torch.Tensor,
                 distill_totals: torch.Tensor) -> torch.Tensor:
        """Update the running means of the student's total and of each part's total with this
        step's and return one factor per part that makes part ``g`` ``share_g`` of the total at
        those means: ``share_g / (1 - sum of shares) * S / D_g``."""
        totals = torch.cat([student_total.reshape(1), distill_totals.reshape(-1)])
        all_reduce(totals, op='mean')  # the same factors on every process (no-op in one)
        m = self.share_momentum
        self.share_running_totals.mul_(m).add_(totals.to(self.share_running_totals),
                                               alpha=1 - m)
        self.share_steps += 1
        means = self.share_running_totals / (1 - m**self.share_steps.item())
        shares = torch.tensor([g[1] for g in self.share_groups], dtype=means.dtype,
                              device=means.device)
        return shares / (1 - shares.sum()) * means[0] / means[1:].clamp_min(1e-8)

    def load_teacher(self, path: str) -> None:
        """Load the teacher's weights strictly; say what does not fit."""
        from kd_plugins.compat.checkpoint import UnsafeCheckpointError
        try:
            ckpt = _load_checkpoint(path, map_location='cpu')
        except UnsafeCheckpointError:
            raise
        except Exception as e:  # torch raises many types for a file that is not a checkpoint
            detail = str(e).splitlines()[0] if str(e) else 'no detail'
            if len(detail) > 100:  # torch's zip errors run on for a paragraph
                stop = detail.find('. ')
                detail = detail[:stop + 1] if 0 < stop < 100 else detail[:100] + '...'
            raise ValueError(
                f'teacher_ckpt {path} could not be read as a checkpoint ({type(e).__name__}: '
                f'{detail}): the file is truncated '
                '(an interrupted copy or download) or not a PyTorch checkpoint. Copy it again, '
                'or point teacher_ckpt at the epoch_*.pth the teacher training wrote') from e
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict) or not state:
            raise ValueError(f'teacher_ckpt {path} holds no state_dict: not a model checkpoint')
        state = {k[len('module.'):] if k.startswith('module.') else k: v
                 for k, v in state.items()}
        own = self.teacher.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        shapes = sorted(f'{k}: checkpoint {tuple(state[k].shape)} vs config {tuple(own[k].shape)}'
                        for k in set(own) & set(state) if state[k].shape != own[k].shape)
        if missing or unexpected or shapes:
            def few(items):
                return ', '.join(items[:5]) + (f' (+{len(items) - 5} more)'
                                               if len(items) > 5 else '')
            raise ValueError(
                f'teacher_ckpt {path} does not fit the teacher config: ' + '; '.join(
                    f'{what}: {few(items)}' for what, items in (
                        ('missing', missing), ('unexpected', unexpected),
                        ('different shapes', shapes)) if items) +
                '. Check that the teacher config is the one the checkpoint was trained with '
                '(model size, num_classes).')
        load_state_dict(self.teacher, state, strict=True)
        self.teacher._is_init = True
