"""MMRazor's ConfigurableDistiller with errors that name the loss and the recorders involved."""
import difflib
from typing import Dict, Optional

import torch
from mmrazor.models.distillers import ConfigurableDistiller
from mmrazor.models.task_modules import ModuleOutputsRecorder
from mmrazor.registry import MODELS
from torch import Tensor, nn

from ..registry_check import check_type


def _check_sources(manager, model, side: str) -> None:
    """Every module recorder's ``source`` must name a module of ``model``."""
    names = [n for n, _ in model.named_modules() if n]
    for rec_name, recorder in manager.recorders.items():
        if not isinstance(recorder, ModuleOutputsRecorder) or recorder.source in names:
            continue
        close = difflib.get_close_matches(recorder.source, names, n=5, cutoff=0.6)
        hint = f"closest: {', '.join(close)}" if close else \
            f"its top-level modules: {', '.join(n for n in names if '.' not in n)}"
        raise ValueError(
            f"{side} recorder '{rec_name}': source '{recorder.source}' names no module of the "
            f'{side} ({type(model).__name__}); {hint}. A source is a module path as '
            'model.named_modules() lists it, e.g. neck.out_layers.0')


@MODELS.register_module()
class KDConfigurableDistiller(ConfigurableDistiller):
    """Same config and behaviour as ``ConfigurableDistiller``; a loss that rejects its inputs
    (e.g. student and teacher maps of different spatial size) raises an error that also names
    the loss, the recorders and the shapes they delivered."""

    def build_connectors(self, connectors: Optional[Dict] = None) -> nn.ModuleDict:
        for name, cfg in (connectors or {}).items():
            for i, c in enumerate(cfg if isinstance(cfg, list) else [cfg]):
                check_type(c, f"connector '{name}'" + (f' [{i}]' if isinstance(cfg, list)
                                                       else ''))
        return super().build_connectors(connectors)

    def build_distill_losses(self, losses: Optional[Dict] = None) -> nn.ModuleDict:
        for name, cfg in (losses or {}).items():
            check_type(cfg, f"distillation loss '{name}'")
        return super().build_distill_losses(losses)

    def prepare_from_student(self, model: nn.Module) -> None:
        _check_sources(self.student_recorders, model, 'student')
        super().prepare_from_student(model)

    def prepare_from_teacher(self, model: nn.Module) -> None:
        _check_sources(self.teacher_recorders, model, 'teacher')
        super().prepare_from_teacher(model)

    def _check_recorded(self, loss_name: str, record: dict) -> None:
        side = 'student' if record.get('from_student') else 'teacher'
        manager = self.student_recorders if side == 'student' else self.teacher_recorders
        recorder = manager.get_recorder(record['recorder'])
        if not getattr(recorder, 'data_buffer', True):
            raise RuntimeError(
                f"distillation loss '{loss_name}': {side} recorder '{record['recorder']}' "
                f"(source '{recorder.source}') recorded nothing in this forward pass: that "
                'module never runs in forward (by default the teacher runs backbone and neck '
                "only: record the neck outputs, or set teacher_runs='head' in the algorithm)")

    def compute_distill_losses(self) -> Dict[str, Tensor]:
        losses = dict()
        for loss_name, forward_mappings in self.loss_forward_mappings.items():
            for record in forward_mappings.values():
                self._check_recorded(loss_name, record)
            kwargs = {key: self.get_record(**record) for key, record in forward_mappings.items()}
            try:
                # a named range in torch.profiler traces (tools/benchmark_kd.py --profile)
                with torch.profiler.record_function(f'kd:{loss_name}'):
                    losses[loss_name] = self.distill_losses[loss_name](**kwargs)
            except (ValueError, TypeError, RuntimeError) as e:
                parts = []
                for key, record in forward_mappings.items():
                    side = 'student' if record.get('from_student') else 'teacher'
                    shape = getattr(kwargs[key], 'shape', None)
                    via = f" via connector '{record['connector']}'" if record.get('connector') \
                        else ''
                    parts.append(f"{key} = {side} recorder '{record['recorder']}'{via}, shape "
                                 f'{tuple(shape) if shape is not None else type(kwargs[key])}')
                raise type(e)(f"distillation loss '{loss_name}' failed: {e} [" +
                              '; '.join(parts) + ']') from e
        return losses
