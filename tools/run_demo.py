"""The main job: on the built-in demo data, train a teacher and a baseline student, distil two
students (CWD+attention, localization distillation), export and evaluate them, compare.

    python tools/run_demo.py [--out results/demo] [--data data/demo] [--epochs 10]
        [--teacher-epochs 12] [--lr 0.08] [--precision teacher|fp32|amp] [--force]

Models (one seed; the three students share one architecture, schedule and data):
  teacher   YOLOv5-S with the LD head           configs/yolov5/yolov5-ld_s-v61_fast_1xb8-30e_demo.py
  baseline  YOLOv5-N with the LD head, trained alone (no distillation)
            configs/yolov5/yolov5-ld_n-v61_fast_1xb8-30e_demo.py
  cwd_att   the same student, CWD + attention on the neck from the teacher
            configs/cwd/cwd-att_fpn_yolov5-ld_s_yolov5-ld_n_1xb8-30e_demo.py
  ld        the same student, localization + classification + objectness KD from the teacher
            configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_demo.py
  stock     (only with --models ... stock) MMYOLO's YOLOv5-N, its own head, trained alone
            configs/yolov5/yolov5_n-v61_fast_1xb8-30e_demo.py
The LD head (box edges as distributions) is what localization distillation needs in the
student; giving it to every student keeps parameters and FLOPs equal across the comparison.

Precision (``--precision``): ``teacher`` (the default) runs each distillation's teacher forward
in the fastest precision of the machine (``teacher_precision='auto'``: bf16 on a CPU with
avx512_bf16 or AMX) and trains every model in fp32; ``fp32`` runs the teachers in fp32 too;
``amp`` also trains every model with ``tools/train.py --amp`` (CPU: bf16 autocast with fp32
weights and losses), which is not the default: its gradients differ from fp32's more than a
bf16 teacher's do, and its accuracy on the demo is not established yet (docs/benchmark.md,
"Accuracy parity").

Stages (each skipped when its output exists, unless --force; the run says which one it is in):
  1. data             the synthetic dataset (kd_plugins.datasets.generate_demo_dataset)
  2. train <model>    tools/train.py (MMEngine logs iteration, loss and ETA every 10 iterations)
  3. export <model>   distilled students only: tools/export_student.py (plain MMYOLO student,
                      checked identical to the student inside the distiller)
  4. eval <model>     COCO mAP on the val split: for a distilled student, tools/test.py on the
                      exported student; for the others, their run's last validation (the same
                      checkpoint on the same split)
  5. inference        images/s of each model at batch 1 on CPU, and a picture of its detections
                      on the same val images
  6. report           table (markdown + CSV), training curves (PNG) under --out
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

# key, model, method, config, teacher key (distilled students), run by default
MODELS = [
    ('teacher', 'YOLOv5-S, LD head', 'teacher',
     'configs/yolov5/yolov5-ld_s-v61_fast_1xb8-30e_demo.py', None, True),
    ('baseline', 'YOLOv5-N, LD head', 'baseline (no KD)',
     'configs/yolov5/yolov5-ld_n-v61_fast_1xb8-30e_demo.py', None, True),
    ('cwd_att', 'YOLOv5-N, LD head', 'CWD+attention',
     'configs/cwd/cwd-att_fpn_yolov5-ld_s_yolov5-ld_n_1xb8-30e_demo.py', 'teacher', True),
    ('ld', 'YOLOv5-N, LD head', 'LD',
     'configs/ld/ld_yolov5-s_yolov5-n_1xb8-30e_demo.py', 'teacher', True),
    ('stock', 'YOLOv5-N', 'MMYOLO head, no KD',
     'configs/yolov5/yolov5_n-v61_fast_1xb8-30e_demo.py', None, False),
]
STAGES = 6
PICTURE_IMAGES = 4  # drawn for every model: the timed val images with the most objects


def stage(k: int, msg: str) -> None:
    print(f'\n===== [run_demo {time.strftime("%H:%M:%S")}] {k}/{STAGES} {msg}', flush=True)


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


def train_seconds_per_iter(log: list):
    """Median 'time' of the logged training iterations (records of ``scalar_log``)."""
    times = [r['time'] for r in log if 'time' in r and 'loss' in r]
    return statistics.median(times) if times else None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Run the demo: data, teacher, baseline, distilled students, report')
    parser.add_argument('--out', default='results/demo', help='results folder')
    parser.add_argument('--data', default='data/demo', help='demo dataset folder')
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--epochs', type=int, default=10, help='epochs of every student')
    parser.add_argument('--teacher-epochs', type=int, default=12, help='epochs of the teacher')
    parser.add_argument('--lr', type=float, default=0.08,
                        help="SGD learning rate of every model (the demo configs' 0.01 is "
                        'YOLOv5\'s recipe for 300 epochs; see docs/getting_started.md)')
    parser.add_argument('--warmup-epochs', type=int, default=1,
                        help="YOLOv5's learning-rate warm-up, in epochs (its default 3 is a third "
                        'of a demo run)')
    parser.add_argument('--val-interval', type=int, default=5,
                        help='validate every N epochs and after the last (points of the curves)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--precision', choices=['fp32', 'teacher', 'amp'], default='teacher',
                        help="'teacher' (default): the teachers' forward in bf16 where the "
                        "machine has it, fp32 training; 'fp32': fp32 everywhere; 'amp': also "
                        '--amp training')
    parser.add_argument('--speed-images', type=int, default=40,
                        help='val images timed per model for images/s (after 3 warm-up ones)')
    parser.add_argument('--models', nargs='+', choices=[m[0] for m in MODELS],
                        help='keys of the models to run (default: '
                        + ' '.join(m[0] for m in MODELS if m[5]) + '); a distilled student '
                        'needs its teacher')
    parser.add_argument('--force', action='store_true',
                        help='delete --out and redo every stage (the data too)')
    args = parser.parse_args(argv)
    keys = args.models or [m[0] for m in MODELS if m[5]]
    for key, _, _, _, teacher, _ in MODELS:
        if key in keys and teacher and teacher not in keys:
            parser.error(f'{key} is distilled from {teacher}: add {teacher} to --models')
    args.models = [m for m in MODELS if m[0] in keys]
    return args


def main(argv=None):
    args = parse_args(argv)
    t_start = time.time()
    out = osp.abspath(args.out)
    if args.force and osp.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)
    py = sys.executable
    n = len(args.models)

    stage(1, f'data: {args.data}')
    from kd_plugins.datasets import generate_demo_dataset
    generate_demo_dataset(args.data, args.num_train, args.num_val, seed=args.seed,
                          force=args.force)
    seed = [f'randomness.seed={args.seed}']
    amp = mixed_precision(args.precision)
    print(f'precision: {amp[0]}', flush=True)

    runs = {}  # key -> dict(work_dir, eval config, checkpoint, ...)
    for k, (key, model, method, config, teacher, _) in enumerate(args.models):
        work_dir = osp.join(out, key)
        ckpt = final_checkpoint(work_dir)
        if ckpt:
            stage(2, f'train {key} ({k + 1}/{n}): done before, {ckpt}')
        else:
            stage(2, f'train {key} ({k + 1}/{n}): {model}, {method}: {config}')
            epochs = args.teacher_epochs if key == 'teacher' else args.epochs
            opts = schedule_options(epochs, args.val_interval, args.batch_size,
                                    args.warmup_epochs, args.lr) + seed
            extra = [f'model.teacher_ckpt={runs[teacher]["checkpoint"]}'] if teacher else []
            if teacher:
                extra.append('model.teacher_precision='
                             + ('fp32' if args.precision == 'fp32' else 'auto'))
            t0 = time.time()
            run([py, 'tools/train.py', config, '--work-dir', work_dir, *amp[1:],
                 '--cfg-options', *data_options(args.data, config), *opts, *extra])
            with open(osp.join(work_dir, 'train_wall_s.txt'), 'w') as f:
                f.write(f'{time.time() - t0:.1f}\n')
            ckpt = final_checkpoint(work_dir)
        runs[key] = dict(work_dir=work_dir, checkpoint=ckpt, eval_config=config, eval_ckpt=ckpt)

        if teacher:
            export_dir = osp.join(work_dir, 'student')
            exported = osp.join(export_dir, osp.basename(
                _student_config_path(config)))
            if osp.isfile(osp.join(export_dir, 'student.pth')) and osp.isfile(exported):
                stage(3, f'export {key}: done before, {export_dir}')
            else:
                stage(3, f'export {key}: student alone -> {export_dir}')
                run([py, 'tools/export_student.py', config, ckpt, '--out-dir', export_dir])
            runs[key].update(eval_config=exported, eval_ckpt=osp.join(export_dir, 'student.pth'))

        metrics_file = osp.join(work_dir, 'metrics.json')
        if osp.isfile(metrics_file):
            stage(4, f'eval {key}: done before, {metrics_file}')
        elif not teacher:
            # the run's last validation evaluated this very checkpoint (EMA weights) on the val
            # split: read it instead of evaluating the same thing again
            stage(4, f'eval {key}: the final validation of its training ({ckpt})')
            from kd_plugins.analysis import last_metrics
            metrics = last_metrics(work_dir, ('coco/bbox_mAP', 'coco/bbox_mAP_50',
                                              'coco/bbox_mAP_75'))
            with open(metrics_file, 'w') as f:
                json.dump(metrics, f, indent=1)
        else:
            # the exported plain student, through MMYOLO's own test tool
            stage(4, f'eval {key}: tools/test.py on the exported student '
                  f'{runs[key]["eval_ckpt"]}')
            test_dir = osp.join(work_dir, 'test')
            run([py, 'tools/test.py', runs[key]['eval_config'], runs[key]['eval_ckpt'],
                 '--work-dir', test_dir, '--cfg-options',
                 *data_options(args.data, runs[key]['eval_config'])])
            logs = sorted(glob.glob(osp.join(test_dir, '*', '*.json')))
            with open(logs[-1]) as f:
                metrics = json.loads(f.read().strip().splitlines()[-1])
            with open(metrics_file, 'w') as f:
                json.dump(metrics, f, indent=1)
        with open(metrics_file) as f:
            runs[key]['metrics'] = json.load(f)

    inference(args, runs, out)
    rows = report(args, runs, out, t_start)
    return rows


def mixed_precision(precision: str) -> list:
    """``[words, *train.py flags]``: what ``--precision`` means on this machine."""
    import torch

    from kd_plugins.engine.precision import cpu_bf16_support
    if precision == 'fp32':
        return ['fp32: every model trains in fp32, teachers run in fp32']
    teacher = "teachers in teacher_precision='auto'"
    if torch.cuda.is_available():
        return ([f'CUDA: {teacher}, --amp (fp16, dynamic loss scale)', '--amp']
                if precision == 'amp' else [f'CUDA: {teacher}, students fp32'])
    support = cpu_bf16_support()
    if support == 'none':
        return ['fp32: this CPU has no bf16 instructions (neither avx512_bf16 nor AMX)']
    if precision == 'teacher':
        return [f'CPU {support}: teachers run in bf16, every model trains in fp32']
    return [f'CPU {support}: teachers run in bf16, every model trains with --amp (bf16 '
            'autocast, fp32 weights and losses)', '--amp']


def _student_config_path(config: str) -> str:
    from mmengine.config import Config
    return Config.fromfile(osp.join(ROOT, config)).model.architecture.cfg_path


def inference(args, runs: dict, out: str) -> None:
    """Stage 5: images/s at batch 1 and the detection picture of every model."""
    import cv2

    from kd_plugins.demo import draw_detections, load_detector, predict, stack_rows, val_dataset
    pictures = {}
    for key, model_name, method, *_ in args.models:
        speed_file = osp.join(runs[key]['work_dir'], 'inference.json')
        picture = osp.join(out, f'detections_{key}.png')
        if osp.isfile(speed_file) and osp.isfile(picture):
            stage(5, f'inference {key}: done before, {speed_file}')
        else:
            stage(5, f'inference {key}: images/s at batch 1, detections -> {picture}')
            model = load_detector(runs[key]['eval_config'], runs[key]['eval_ckpt'])
            dataset = val_dataset(model.cfg, args.data)
            count = min(len(dataset), args.speed_images + 3)
            samples, ips = predict(model, dataset, list(range(count)), warmup=3)
            meta = dataset.metainfo
            busiest = sorted(range(len(samples)), key=lambda i: -len(samples[i].gt_instances))
            shown = [samples[i] for i in sorted(busiest[:PICTURE_IMAGES])]
            m = runs[key]['metrics']
            title = (f'{model_name} - {method}: mAP50-95 {m["coco/bbox_mAP"]:.3f}, '
                     f'mAP50 {m["coco/bbox_mAP_50"]:.3f} (white: ground truth)')
            cv2.imwrite(picture, draw_detections(shown, meta['classes'], meta['palette'], title))
            with open(speed_file, 'w') as f:
                json.dump(dict(images_per_s=ips, images=count - 3, batch_size=1), f)
            print(f'{key}: {ips:.1f} images/s over {count - 3} images', flush=True)
        pictures[key] = cv2.imread(picture)
        with open(speed_file) as f:
            runs[key]['images_per_s'] = json.load(f)['images_per_s']
    cv2.imwrite(osp.join(out, 'detections.png'), stack_rows(pictures))


def report(args, runs: dict, out: str, t_start: float) -> list:
    """Stage 6: the comparison table and the curves."""
    from kd_plugins.analysis import (model_complexity, plot_curves, scalar_log, training_curves,
                                     write_table)
    stage(6, 'report')
    rows, curves = [], {}
    for key, model_name, method, config, *_ in args.models:
        r = runs[key]
        params, flops = model_complexity(osp.join(ROOT, config), 256)
        wall_file = osp.join(r['work_dir'], 'train_wall_s.txt')
        wall = float(open(wall_file).read()) if osp.isfile(wall_file) else None
        log = scalar_log(r['work_dir'])
        spi = train_seconds_per_iter(log)
        rows.append({'model': model_name, 'method': method, 'params_M': round(params, 2),
                     'FLOPs_G': round(flops, 2),
                     'mAP50': round(r['metrics']['coco/bbox_mAP_50'], 3),
                     'mAP50-95': round(r['metrics']['coco/bbox_mAP'], 3),
                     'infer_img_per_s': round(r['images_per_s'], 1),
                     'train_s_per_iter': None if spi is None else round(spi, 3),
                     'train_wall_s': None if wall is None else round(wall)})
        curves[f'{model_name} - {method}'] = training_curves(log)
    caption = (f'Demo val split ({args.num_val} images); students {args.epochs} epochs, teacher '
               f'{args.teacher_epochs}; batch {args.batch_size}, learning rate {args.lr:g}, '
               f'{args.warmup_epochs}-epoch warm-up, seed {args.seed}, 256x256 input; '
               f'precision: {mixed_precision(args.precision)[0]}; FLOPs for one 256x256 '
               'image; inference images/s at batch 1 on this CPU (fp32); mAP of the exported '
               'student for distilled models.')
    table = write_table(rows, osp.join(out, 'results'), caption)
    plot_curves(curves, osp.join(out, 'curves.png'),
                highlight=next((c for c in curves if 'baseline' in c), ''))
    print(caption + '\n\n' + table)
    print(f'\nresults in {out}: results.md, results.csv, curves.png, detections.png '
          f'(detections_<model>.png per model), one work dir per model; '
          f'this run took {time.time() - t_start:.0f} s')
    return rows


if __name__ == '__main__':
    main()
