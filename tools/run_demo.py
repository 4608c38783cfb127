"""The main job: generate the demo data, train the demo models, evaluate them, print a table.

    python tools/run_demo.py [--out results/demo] [--data data/demo] [--epochs N] [--force]

Stages (each skipped when its output exists, unless --force):
  1. data:        the built-in synthetic dataset (tools/misc/make_demo_data.py)
  2. train <m>:   each model with tools/train.py (progress: iteration, loss, ETA in the log)
  3. eval <m>:    COCO mAP of its final checkpoint on the val split with tools/test.py
  4. report:      a table (markdown + CSV) of model, parameters, FLOPs, mAP50, mAP50-95,
                  training seconds per iteration and wall time, written under --out.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

# name, config: the baseline students and the model that later serves as teacher.
MODELS = [
    ('YOLOv5-N', 'configs/yolov5/yolov5_n-v61_fast_1xb8-30e_demo.py'),
    ('YOLOv5-S', 'configs/yolov5/yolov5_s-v61_fast_1xb8-30e_demo.py'),
]


def stage(msg: str) -> None:
    print(f'\n===== [run_demo {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def data_options(data_root: str) -> list:
    data_root = osp.abspath(data_root) + '/'
    return [f'train_dataloader.dataset.data_root={data_root}',
            f'val_dataloader.dataset.data_root={data_root}',
            f'test_dataloader.dataset.data_root={data_root}',
            f'val_evaluator.ann_file={data_root}annotations/val.json',
            f'test_evaluator.ann_file={data_root}annotations/val.json']


def schedule_options(epochs: int, batch_size: int) -> list:
    if epochs is None:
        return []
    return [f'train_cfg.max_epochs={epochs}', f'default_hooks.param_scheduler.max_epochs={epochs}',
            f'train_cfg.val_interval={epochs}', f'default_hooks.checkpoint.interval={epochs}',
            f'train_dataloader.batch_size={batch_size}',
            f'optim_wrapper.optimizer.batch_size_per_gpu={batch_size}']


def run(cmd: list) -> None:
    print('$ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def final_checkpoint(work_dir: str):
    last = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(last):
        return None
    with open(last) as f:
        ckpt = f.read().strip()
    return ckpt if osp.isfile(ckpt) else None


def train_seconds_per_iter(work_dir: str):
    """Median 'time' of the logged training iterations (the latest run in work_dir)."""
    from kd_plugins.analysis import scalar_log
    times = [r['time'] for r in scalar_log(work_dir) if 'time' in r and 'loss' in r]
    return statistics.median(times) if times else None


def main(argv=None):
    parser = argparse.ArgumentParser(description='Run the demo: data, training, evaluation')
    parser.add_argument('--out', default='results/demo', help='results folder')
    parser.add_argument('--data', default='data/demo', help='demo dataset folder')
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--epochs', type=int, help='override the configs\' epochs')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--models', nargs='+', help='names of MODELS to run (default: all)')
    parser.add_argument('--force', action='store_true', help='redo every stage')
    args = parser.parse_args(argv)
    t_start = time.time()
    out = osp.abspath(args.out)
    if args.force and osp.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)
    py = sys.executable

    stage(f'1/4 data: {args.data}')
    from kd_plugins.analysis import model_complexity, write_table
    from kd_plugins.datasets import generate_demo_dataset
    generate_demo_dataset(args.data, args.num_train, args.num_val, seed=args.seed,
                          force=args.force)
    opts = data_options(args.data) + schedule_options(args.epochs, args.batch_size) + \
        [f'randomness.seed={args.seed}']

    models = [m for m in MODELS if not args.models or m[0] in args.models]
    rows = []
    for k, (name, config) in enumerate(models):
        work_dir = osp.join(out, name)
        ckpt = final_checkpoint(work_dir)
        if ckpt and not args.force:
            stage(f'2/4 train {name} ({k + 1}/{len(models)}): done before, {ckpt}')
        else:
            stage(f'2/4 train {name} ({k + 1}/{len(models)}): {config}')
            t0 = time.time()
            run([py, 'tools/train.py', config, '--work-dir', work_dir, '--cfg-options', *opts])
            with open(osp.join(work_dir, 'train_wall_s.txt'), 'w') as f:
                f.write(f'{time.time() - t0:.1f}\n')
            ckpt = final_checkpoint(work_dir)
        metrics_file = osp.join(work_dir, 'metrics.json')
        if osp.isfile(metrics_file) and not args.force:
            stage(f'3/4 eval {name}: done before, {metrics_file}')
        else:
            stage(f'3/4 eval {name}: {ckpt}')
            test_dir = osp.join(work_dir, 'test')
            run([py, 'tools/test.py', config, ckpt, '--work-dir', test_dir, '--cfg-options',
                 *data_options(args.data)])
            logs = sorted(glob.glob(osp.join(test_dir, '*', '*.json')))
            with open(logs[-1]) as f:
                metrics = json.loads(f.read().strip().splitlines()[-1])
            with open(metrics_file, 'w') as f:
                json.dump(metrics, f, indent=1)
        with open(metrics_file) as f:
            metrics = json.load(f)
        params, flops = model_complexity(osp.join(ROOT, config), 256)
        with open(osp.join(work_dir, 'train_wall_s.txt')) as f:
            wall = float(f.read())
        rows.append(dict(model=name, params_M=round(params, 2), flops_G=round(flops, 2),
                         mAP50=round(metrics['coco/bbox_mAP_50'], 3),
                         mAP50_95=round(metrics['coco/bbox_mAP'], 3),
                         train_s_per_iter=round(train_seconds_per_iter(work_dir) or float('nan'),
                                                3),
                         train_wall_s=round(wall)))

    stage('4/4 report')
    table = write_table(rows, osp.join(out, 'results'),
                        f'Demo val split ({args.num_val} images), FLOPs at 256x256, CPU.')
    print(table)
    print(f'\nresults in {out} (results.md, results.csv, one work dir per model); '
          f'total {time.time() - t_start:.0f}s')
    return rows


if __name__ == '__main__':
    main()
