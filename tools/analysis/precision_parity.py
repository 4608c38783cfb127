"""Accuracy parity of the precisions: one distillation config trained three times with the same
seed, data and schedule, with (1) everything in fp32, (2) the teacher's forward in bf16 and the
student in fp32, (3) the teacher in bf16 and the student under ``--amp`` (bf16 autocast on a
CPU, fp16 on CUDA); then the mAP of each and its difference to the fp32 run.

    python tools/analysis/precision_parity.py CONFIG --teacher TEACHER_CONFIG \
        [--teacher-ckpt CKPT] [--out results/parity/NAME] [--data data/demo] [--epochs 10] \
        [--teacher-epochs 10] [--lr 0.08] [--seed 0] [--modes fp32 bf16_teacher amp]

Without ``--teacher-ckpt`` the teacher config is trained first (with ``--amp`` where the
machine has it), into ``<out>/teacher``. The schedule options are the main job's
(``tools/run_demo.py``: learning rate 0.08, 1-epoch warm-up, validation every 5 epochs and after
the last, batch 8), given to the shipped demo configs as ``--cfg-options``. Each run's work dir is
``<out>/<mode>``; a run whose final checkpoint exists is not trained again. Writes
``<out>/parity.md`` and ``parity.csv``: mAP50 and mAP50-95 of the run's last validation (the EMA
student) and the difference to the fp32 run, in points, with
the wall time of each training.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools'))

# mode -> (teacher_precision, train.py flags, words)
MODES = {
    'fp32': ('fp32', [], 'teacher fp32, student fp32'),
    'bf16_teacher': ('bf16', [], 'teacher bf16, student fp32'),
    'amp': ('bf16', ['--amp'], 'teacher bf16, student --amp'),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Same seed and schedule in three precisions',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='a distillation config')
    parser.add_argument('--teacher', help='the teacher config (trained when --teacher-ckpt '
                        'is not given)')
    parser.add_argument('--teacher-ckpt', help='a trained teacher checkpoint')
    parser.add_argument('--out', help='results folder (default results/parity/<config name>)')
    parser.add_argument('--data', default='data/demo', help='demo dataset folder')
    parser.add_argument('--epochs', type=int, default=10, help='epochs of each distillation')
    parser.add_argument('--teacher-epochs', type=int, default=10,
                        help='epochs of the teacher when it is trained here')
    parser.add_argument('--lr', type=float, default=0.08, help='SGD learning rate')
    parser.add_argument('--batch-size', type=int, default=8, help='training batch size')
    parser.add_argument('--seed', type=int, default=0,
                        help='the one seed of all three runs')
    parser.add_argument('--modes', nargs='+', choices=list(MODES), default=list(MODES),
                        help='the precisions to run')
    args = parser.parse_args(argv)
    if not args.teacher_ckpt and not args.teacher:
        parser.error('give --teacher-ckpt, or --teacher (a config to train the teacher from)')
    if args.teacher_ckpt and not osp.isfile(args.teacher_ckpt):
        parser.error(f'--teacher-ckpt {args.teacher_ckpt} does not exist')
    args.out = args.out or osp.join('results/parity', osp.splitext(osp.basename(args.config))[0])
    return args


def data_options(data_root: str, config: str) -> list:
    """--cfg-options pointing ``config``'s dataloaders and COCO evaluators at ``data_root``."""
    from mmengine.config import Config
    data_root = osp.abspath(data_root) + '/'
    cfg = Config.fromfile(osp.join(ROOT, config))
    opts = [f'{split}_dataloader.dataset.data_root={data_root}'
            for split in ('train', 'val', 'test')]
    for split in ('val', 'test'):
        evaluator = cfg[f'{split}_evaluator']
        # a list of evaluators (COCO mAP + precision/recall): the COCO one comes first
        key = f'{split}_evaluator.0' if isinstance(evaluator, list) else f'{split}_evaluator'
        opts.append(f'{key}.ann_file={data_root}annotations/val.json')
    return opts


def schedule_options(epochs: int, val_interval: int, batch_size: int, warmup_epochs: int,
                     lr: float) -> list:
    return [f'train_cfg.max_epochs={epochs}', f'default_hooks.param_scheduler.max_epochs={epochs}',
            f'optim_wrapper.optimizer.lr={lr}',
            f'default_hooks.param_scheduler.warmup_epochs={warmup_epochs}',
            f'train_cfg.val_interval={min(val_interval, epochs)}',
            f'default_hooks.checkpoint.interval={epochs}',
            f'train_dataloader.batch_size={batch_size}',
            f'optim_wrapper.optimizer.batch_size_per_gpu={batch_size}']


def final_checkpoint(work_dir: str):
    last = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(last):
        return None
    with open(last) as f:
        ckpt = f.read().strip()
    return ckpt if osp.isfile(ckpt) else None


def train(config, work_dir, data, opts, flags):
    ckpt = final_checkpoint(work_dir)
    if ckpt:
        print(f'{work_dir}: done before, {ckpt}', flush=True)
        return ckpt
    cmd = [sys.executable, 'tools/train.py', config, '--work-dir', work_dir, *flags,
           '--cfg-options', *data_options(data, config), *opts]
    print('$ ' + ' '.join(cmd), flush=True)
    t0 = time.time()
    subprocess.run(cmd, check=True, cwd=ROOT)
    with open(osp.join(work_dir, 'train_wall_s.txt'), 'w') as f:
        f.write(f'{time.time() - t0:.1f}\n')
    return final_checkpoint(work_dir)


def main(argv=None):
    import torch

    from kd_plugins.analysis import last_metrics, write_table
    from kd_plugins.engine.precision import EMULATED_BF16_ENV, cpu_bf16_allowed
    args = parse_args(argv)
    out = osp.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    seed = [f'randomness.seed={args.seed}']
    # ['--amp'] where the machine has mixed precision
    amp = ['--amp'] if torch.cuda.is_available() or cpu_bf16_allowed() else []
    teacher_ckpt = args.teacher_ckpt
    if not teacher_ckpt:
        opts = schedule_options(args.teacher_epochs, 5, args.batch_size, 1, args.lr) + seed
        teacher_ckpt = train(args.teacher, osp.join(out, 'teacher'), args.data, opts, amp)
    rows = []
    for mode in args.modes:
        precision, flags, words = MODES[mode]
        if flags and not amp:
            raise SystemExit(f'mode {mode}: this machine has no mixed precision (no bf16 '
                             f'instructions, no CUDA; {EMULATED_BF16_ENV}=1 emulates it)')
        work = osp.join(out, mode)
        opts = schedule_options(args.epochs, 5, args.batch_size, 1, args.lr) + seed + [
            f'model.teacher_ckpt={osp.abspath(teacher_ckpt)}',
            f'model.teacher_precision={precision}']
        train(args.config, work, args.data, opts, flags)
        m = last_metrics(work, ('coco/bbox_mAP_50', 'coco/bbox_mAP'))
        wall = open(osp.join(work, 'train_wall_s.txt')).read().strip() if osp.isfile(
            osp.join(work, 'train_wall_s.txt')) else None
        rows.append({'run': mode, 'precision': words, 'mAP50': round(m['coco/bbox_mAP_50'], 3),
                     'mAP50-95': round(m['coco/bbox_mAP'], 3),
                     'train_wall_s': None if wall is None else round(float(wall))})
    ref = next((r for r in rows if r['run'] == 'fp32'), None)
    for r in rows:
        for key in ('mAP50', 'mAP50-95'):
            r[f'd_{key}_points'] = None if ref is None else round(
                100 * (r[key] - ref[key]), 1)
    caption = (f'{args.config}: seed {args.seed}, {args.epochs} epochs, lr {args.lr:g}, batch '
               f'{args.batch_size}, data {args.data}; teacher {teacher_ckpt}; mAP of the last '
               'validation (EMA student); d_*: difference to the fp32 run in points.')
    table = write_table(rows, osp.join(out, 'parity'), caption)
    print(caption + '\n\n' + table)
    return rows


if __name__ == '__main__':
    main()
