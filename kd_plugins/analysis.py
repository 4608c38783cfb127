"""Reading results back from work dirs: metrics, model size and FLOPs, tables."""
import csv
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple


def scalar_log(work_dir: str) -> List[dict]:
    """The records of the newest run's ``vis_data/scalars.json`` in ``work_dir``."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not logs:
        raise FileNotFoundError(f'no training log (*/vis_data/scalars.json) in {work_dir}')
    with open(logs[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def last_metrics(work_dir: str, keys=('coco/bbox_mAP_50', 'coco/bbox_mAP')) -> Dict[str, float]:
    """The last logged value of each metric (the final validation of the run)."""
    out = {}
    for rec in scalar_log(work_dir):
        out.update({k: rec[k] for k in keys if k in rec})
    missing = [k for k in keys if k not in out]
    if missing:
        raise KeyError(f'{work_dir}: no {missing} in the log; did the run validate?')
    return out


def work_dir_config(work_dir: str) -> str:
    """The config MMEngine dumped into ``work_dir`` (``<config name>.py``)."""
    configs = sorted(glob.glob(osp.join(work_dir, '*.py')), key=osp.getmtime)
    if not configs:
        raise FileNotFoundError(f'no dumped config (*.py) in {work_dir}')
    return configs[-1]


def model_complexity(config: str, img_size: int) -> Tuple[float, float]:
    """Parameters (M) and FLOPs (G, MMEngine's count: one multiply-add is one FLOP) of the
    detector a config trains, for one ``img_size`` x ``img_size`` image. For a distillation
    config that is the student."""
    import torch
    from mmengine.analysis import get_model_complexity_info
    from mmengine.config import Config
    from mmyolo.registry import MODELS
    from mmyolo.utils import register_all_modules

    from .models.algorithms.yolo_teacher_distill import model_cfg
    register_all_modules()
    cfg = Config.fromfile(config)
    model_dict = cfg.model
    if 'distiller' in model_dict:
        model_dict = model_cfg(model_dict.architecture, 'student')
    model = MODELS.build(model_dict).eval()
    params = sum(p.numel() for p in model.parameters()) / 1e6
    with torch.no_grad():
        info = get_model_complexity_info(model, inputs=(torch.zeros(1, 3, img_size, img_size), ),
                                         show_table=False, show_arch=False)
    return params, info['flops'] / 1e9


def write_table(rows: Sequence[dict], out_prefix: str, caption: str = '') -> str:
    """Write ``rows`` as ``<out_prefix>.csv`` and ``<out_prefix>.md``; return the markdown."""
    keys = list(rows[0])
    with open(out_prefix + '.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, keys)
        writer.writeheader()
        writer.writerows(rows)
    lines = ['| ' + ' | '.join(keys) + ' |', '|' + '---|' * len(keys)]
    lines += ['| ' + ' | '.join(_fmt(r[k]) for k in keys) + ' |' for r in rows]
    table = '\n'.join(lines)
    with open(out_prefix + '.md', 'w') as f:
        f.write((caption + '\n\n' if caption else '') + table + '\n')
    return table


def _fmt(value: Optional[object]) -> str:
    if value is None:
        return '-'
    return f'{value:.3f}' if isinstance(value, float) else str(value)
