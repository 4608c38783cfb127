"""Reading results back from work dirs: metrics, model size and FLOPs, tables."""
import csv
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple


def scalar_log(work_dir: str) -> List[dict]:
    """The records of the newest run's ``vis_data/scalars.json`` in ``work_dir``, preceded by
    those of the runs it resumed: each older log (MMEngine starts one per launch) gives its
    records of the epochs before the first epoch of the logs after it, so a training stopped
    and resumed reads as one, and a run started again from epoch 1 replaces the older ones."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not logs:
        raise FileNotFoundError(f'no training log (*/vis_data/scalars.json) in {work_dir}')

    def read(path):
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def epoch(record):  # training records carry their epoch; by-epoch validations use it as step
        return record['epoch'] if 'epoch' in record else record.get('step')

    records = read(logs[-1])
    for path in reversed(logs[:-1]):
        first = min((e for e in map(epoch, records) if e is not None), default=None)
        if first is None:
            break
        records = [r for r in read(path) if (epoch(r) or first) < first] + records
    return records


def last_metrics(work_dir: str, keys=('coco/bbox_mAP_50', 'coco/bbox_mAP')) -> Dict[str, float]:
    """The last logged value of each metric (the final validation of the run)."""
    out = {}
    for rec in scalar_log(work_dir):
        out.update({k: rec[k] for k in keys if k in rec})
    missing = [k for k in keys if k not in out]
    if missing:
        raise KeyError(f'{work_dir}: no {missing} in the log; did the run validate?')
    return out


def run_finished(work_dir: str) -> bool:
    """Whether the run in ``work_dir`` validated after its last epoch: the last validation of
    its log is at ``train_cfg.max_epochs`` of the config MMEngine dumped there. A run stopped
    after an intermediate validation is not finished, however good its numbers."""
    from mmengine.config import Config
    try:
        max_epochs = Config.fromfile(work_dir_config(work_dir)).train_cfg.max_epochs
        log = scalar_log(work_dir)
    except FileNotFoundError:
        return False
    steps = [rec.get('step', -1) for rec in log if 'coco/bbox_mAP' in rec]
    return bool(steps) and steps[-1] >= max_epochs


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


def training_curves(log: Sequence[dict]) -> Tuple[list, list]:
    """From the records of :func:`scalar_log`: ``val`` = [(epoch, mAP50-95, mAP50)] per
    validation and ``loss`` = [(epoch, mean training loss)] per epoch."""
    val = [(r['step'], r['coco/bbox_mAP'], r['coco/bbox_mAP_50']) for r in log
           if 'coco/bbox_mAP' in r]
    loss: Dict[int, list] = {}
    for r in log:
        if 'loss' in r and 'epoch' in r:
            loss.setdefault(r['epoch'], []).append(r['loss'])
    return val, sorted((e, sum(v) / len(v)) for e, v in loss.items())


def plot_curves(curves: Dict[str, Tuple[list, list]], path: str, highlight: str = '') -> None:
    """One PNG, three panels: validation mAP50-95 and mAP50 vs epoch, training loss vs epoch;
    one line per entry of ``curves`` (label -> :func:`training_curves`); ``highlight`` (the
    baseline) is drawn dashed and thicker."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for label, (val, loss) in curves.items():
        style = dict(label=label, linewidth=2.2 if label == highlight else 1.4,
                     linestyle='--' if label == highlight else '-', marker='o', markersize=3)
        if val:
            epochs = [v[0] for v in val]
            axes[0].plot(epochs, [v[1] for v in val], **style)
            axes[1].plot(epochs, [v[2] for v in val], **style)
        if loss:
            axes[2].plot([x[0] for x in loss], [x[1] for x in loss], **style)
    for ax, title, ylabel in zip(axes, ('validation mAP50-95', 'validation mAP50',
                                        'training loss (mean per epoch)'),
                                 ('mAP50-95', 'mAP50', 'loss')):
        ax.set_title(title)
        ax.set_xlabel('epoch')
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
