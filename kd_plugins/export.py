"""Export the student of a distillation checkpoint as a plain MMYOLO checkpoint and config."""
import os
import os.path as osp
from typing import Dict, Tuple

import torch

STUDENT_PREFIX = 'architecture.'


def student_state_dict(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The student's weights of a distillation ``state_dict`` (``architecture.*``), renamed as
    a plain detector's; teacher, connectors and distiller weights are left out."""
    if not any(k.startswith(STUDENT_PREFIX) for k in state):
        raise ValueError('no student weights (architecture.*) in this checkpoint: it is not a '
                         'distillation checkpoint (a plain detector checkpoint needs no export)')
    return {k[len(STUDENT_PREFIX):]: v for k, v in state.items() if k.startswith(STUDENT_PREFIX)}


def _outputs_max_diff(a, b) -> float:
    if isinstance(a, torch.Tensor):
        if not a.numel():
            return 0.
        d = (a.float() - b.float()).abs()
        d[torch.isnan(a) & torch.isnan(b)] = 0.  # NaN where both are NaN counts as equal
        return float(d.nan_to_num(nan=float('inf')).max())
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            raise ValueError('the two models return different numbers of outputs')
        return max((_outputs_max_diff(x, y) for x, y in zip(a, b)), default=0.)
    raise TypeError(f'unexpected output type {type(a)}')


def export_student(config: str, checkpoint: str, out_dir: str,
                   img_size: int = 256) -> Tuple[str, str, float]:
    """Write ``<out_dir>/<student config name>.py`` and ``<out_dir>/student.pth``.

    The exported student is checked on the spot: built from the written config and loaded from
    the written checkpoint, it must give the same outputs as the student inside the distiller
    loaded from ``checkpoint`` (eval mode, ``mode='tensor'``, one random batch of 2 images of
    ``img_size``); the maximum absolute difference is returned (0 when the export is exact).

    Returns:
        tuple: (config path, checkpoint path, maximum absolute difference).
    """
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_state_dict, save_checkpoint
    from mmrazor.registry import MODELS as RAZOR

    from .compat.checkpoint import safe_torch_load
    from .demo import load_detector
    cfg = Config.fromfile(config)
    if 'distiller' not in cfg.model:
        raise ValueError(f'{config} is not a distillation config (no model.distiller)')
    arch = cfg.model.architecture
    if 'cfg_path' not in arch:
        raise ValueError('the student (model.architecture) must be given as '
                         'dict(cfg_path=...) to export a config for it')
    student_cfg = Config.fromfile(arch.cfg_path)
    ckpt = safe_torch_load(checkpoint, map_location='cpu')  # never runs pickled code
    state = ckpt.get('state_dict', ckpt)
    student_state = student_state_dict(state)

    os.makedirs(out_dir, exist_ok=True)
    cfg_out = osp.join(out_dir, osp.basename(arch.cfg_path))
    student_cfg.dump(cfg_out)
    ckpt_out = osp.join(out_dir, 'student.pth')
    meta = dict(ckpt.get('meta', {}))
    meta.update(exported_from=osp.abspath(checkpoint), distillation_config=osp.abspath(config))
    save_checkpoint(dict(state_dict=student_state, meta=meta), ckpt_out)

    with DefaultScope.overwrite_default_scope('mmyolo'):
        algorithm = RAZOR.build(dict(cfg.model, teacher_ckpt=None))
        load_state_dict(algorithm, state, strict=True)
    plain = load_detector(cfg_out, ckpt_out)  # as a user of the exported files would
    inner = algorithm.student.eval()
    torch.manual_seed(0)
    x = torch.rand(2, 3, img_size, img_size)  # a normalised batch, the same for both
    with torch.no_grad():
        diff = _outputs_max_diff(inner(x, mode='tensor'), plain(x, mode='tensor'))
    return cfg_out, ckpt_out, diff
