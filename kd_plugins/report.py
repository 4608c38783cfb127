"""The report of ``tools/distill.py``: per method, the mean and range over seeds of mAP50 and
mAP50-95 on each split, the paired per-seed difference to the baseline, the share of the
teacher-student gap closed, cost columns, and a plain verdict that says when a difference is
within the seed spread."""
import csv
import os.path as osp
import statistics
from typing import Dict, List, Optional, Sequence, Tuple

from .recipe import METHOD_NAMES, model_name

METRICS = (('mAP50', 'coco/bbox_mAP_50'), ('mAP50-95', 'coco/bbox_mAP'))
# A teacher less than this many points of mAP50-95 above the students alone has little to
# teach, and a distillation from it measures little (project's choice, the floor of the
# real-data measurements in docs/custom_dataset.md)
TEACHER_LEAD_POINTS = 5.0


def baselines(runs: Sequence[dict], split: str, key: str) -> Dict[int, float]:
    """seed -> metric ``key`` on ``split`` of the baseline (the student alone) of that seed."""
    return {r['seed']: r[split][key] for r in runs if r['method'] == 'baseline' and split in r}


def paired(runs: Sequence[dict], method: str, split: str, key: str) -> Dict[int, float]:
    """seed -> (method - baseline) of metric ``key`` on ``split``, for seeds both have."""
    base = baselines(runs, split, key)
    return {r['seed']: r[split][key] - base[r['seed']] for r in runs
            if r['method'] == method and split in r and r['seed'] in base}


def verdict(diffs: Sequence[float], baseline_values: Sequence[float]) -> str:
    """What paired differences (points) show, in words."""
    if not diffs:
        return 'no paired baseline run'
    if len(diffs) == 1:
        return 'one seed: not evidence either way (the seed alone moves mAP by points)'
    spread = (max(baseline_values) - min(baseline_values)) * 100 if baseline_values else 0.
    mean = statistics.mean(diffs)
    if all(d > 0 for d in diffs):
        word = 'better than the baseline at every seed'
    elif all(d < 0 for d in diffs):
        word = 'worse than the baseline at every seed'
    elif all(d == 0 for d in diffs):
        return 'level with the baseline at every seed'
    else:
        return 'within the seed spread: not better at every seed'
    if abs(mean) < spread:
        word += f', but by less than the baseline\'s own seed spread ({spread:.1f} points)'
    return word


def teacher_verdict(leads: Sequence[float]) -> str:
    """What the teacher's lead over the students alone (points, per seed) leaves to teach."""
    if not leads:
        return 'no baseline run'
    lead = statistics.mean(leads)
    if lead >= TEACHER_LEAD_POINTS:
        return f'{lead:.1f} points above the students alone'
    return (f'only {lead:.1f} points above the students alone: little to teach (under '
            f'{TEACHER_LEAD_POINTS:g}); train it longer (--teacher-epochs) or use a larger one')


def _mean_range(values: Sequence[float]) -> str:
    """'0.150 [0.120, 0.180]' (mean [min, max]); one value alone."""
    if not values:
        return '-'
    if len(values) == 1:
        return f'{values[0]:.3f}'
    return (f'{statistics.mean(values):.3f} [{min(values):.3f}, {max(values):.3f}]')


def method_rows(runs: Sequence[dict], split: str, methods: Sequence[str]) -> List[dict]:
    """One row per model (teacher, baseline, methods) of the table of ``split``."""
    teacher = next((r for r in runs if r['method'] == 'teacher' and split in r), None)
    base_vals = {name: [r[split][key] for r in runs if r['method'] == 'baseline' and split in r]
                 for name, key in METRICS}
    rows = []
    for method in ['teacher', 'baseline', *methods]:
        group = [r for r in runs if r['method'] == method and split in r]
        if not group:
            continue
        row = dict(method=METHOD_NAMES.get(method, method), seeds=len(group))
        for name, key in METRICS:
            row[name] = _mean_range([r[split][key] for r in group])
        if method == 'teacher':  # one run: its lead over the baseline of each seed
            d = {s: group[0][split]['coco/bbox_mAP'] - v
                 for s, v in baselines(runs, split, 'coco/bbox_mAP').items()}
        else:
            d = paired(runs, method, split, 'coco/bbox_mAP')
        diffs = [d[s] * 100 for s in sorted(d)]
        row['d_mAP50-95_points'] = ('' if method == 'baseline' or not diffs else
                                    f'{diffs[0]:+.1f}' if len(diffs) == 1 else
                                    f'{statistics.mean(diffs):+.1f} (' +
                                    ', '.join(f'{x:+.1f}' for x in diffs) + ')')
        gap = None
        if teacher and base_vals['mAP50-95'] and method not in ('teacher', 'baseline'):
            span = teacher[split]['coco/bbox_mAP'] - statistics.mean(base_vals['mAP50-95'])
            if span > 0 and diffs:
                gap = f'{statistics.mean(diffs) / 100 / span:.0%}'
        row['gap_closed'] = gap or ''
        row['verdict'] = ('' if method == 'baseline' else teacher_verdict(diffs)
                          if method == 'teacher' else verdict(diffs, base_vals['mAP50-95']))
        logged = [r['kd_share'] for r in group if r.get('kd_share') is not None]
        row['kd_share'] = round(statistics.mean(logged), 3) if logged else None
        first = group[0]
        row.update(params_M=first.get('params_M'), FLOPs_G=first.get('FLOPs_G'),
                   img_per_s=first.get('images_per_s'),
                   onnx_img_per_s=first.get('onnx_images_per_s'),
                   train_s_per_iter=_median([r.get('train_s_per_iter') for r in group]))
        rows.append(row)
    return rows


def pick_student(runs: Sequence[dict], methods: Sequence[str], split: str = 'val'
                 ) -> Tuple[Optional[str], Optional[dict], Dict[str, float], int]:
    """The choice :func:`choose_student` puts in words: ``(method, run, gains, seeds)``.

    ``gains``: the mean paired difference (points of mAP50-95) of each method above the student
    alone of the same seed at every seed that has one (two seeds at least, none missing), in
    the order of ``methods``; ``method``: the one of them with the largest gain (the first on a
    tie), ``'baseline'`` when none qualifies, None when there is no choice (fewer than two
    seeds with a student alone); ``run``: that method's seed with the best mAP50-95 on
    ``split`` (None with no choice); ``seeds``: how many seeds have a student alone.
    """
    seeds = baselines(runs, split, 'coco/bbox_mAP')
    if len(seeds) < 2:
        return None, None, {}, len(seeds)
    gains = {}  # in the order of methods, so max() keeps the first on a tie
    for method in methods:
        d = paired(runs, method, split, 'coco/bbox_mAP')
        if len(d) == len(seeds) and all(v > 0 for v in d.values()):
            gains[method] = statistics.mean(d.values()) * 100
    method = max(gains, key=gains.get) if gains else 'baseline'
    return method, _best_run(runs, method, split), gains, len(seeds)


def _best_run(runs: Sequence[dict], method: str, split: str) -> dict:
    return max((r for r in runs if r['method'] == method and split in r),
               key=lambda r: r[split]['coco/bbox_mAP'])


def choose_student(runs: Sequence[dict], methods: Sequence[str], split: str = 'val',
                   root: str = '.') -> str:
    """Which student to deploy, in words (markdown), chosen on ``split`` by paired seeds.

    A method qualifies only when it is above the student alone of the same seed at every seed
    that has one (two seeds at least, none missing); of those, the largest mean paired
    difference in mAP50-95 wins (the first in ``methods`` on a tie). When none qualifies the
    answer is the student alone: distillation is never recommended where it fell below the
    student alone at any seed. The run named is the chosen method's seed with the best
    mAP50-95 on ``split`` (its ``eval_config`` / ``eval_ckpt``: for a distilled student the
    exported plain MMYOLO model), paths relative to ``root``. The choice reads ``split`` only: a
    test split is reported, never used to choose.
    """
    def words(top):
        return (f'seed {top["seed"]}, {top[split]["coco/bbox_mAP"]:.3f} mAP50-95: '
                f'`{osp.relpath(top["eval_config"], root)}` + '
                f'`{osp.relpath(top["eval_ckpt"], root)}`')

    method, top, gains, seeds = pick_student(runs, methods, split)
    if not seeds:
        return f'No student alone was trained: nothing to compare with on the {split} split.'
    if method is None:
        return (f'One seed: no choice is made (the seed alone moves mAP by points); run two or '
                f'more (--seeds 0 1 2). The student alone: '
                f'{words(_best_run(runs, "baseline", split))}.')
    if method == 'baseline':
        return (f'No method was above the student alone at every seed ({seeds} paired '
                f'seeds, {split} split): keep the student alone, {words(top)}.')
    others = ', '.join(f'{METHOD_NAMES.get(m, m)} {gains[m]:+.1f}' for m in gains if m != method)
    return (f'**{METHOD_NAMES.get(method, method)}**: above the student alone at every one of '
            f'{seeds} paired seeds, {gains[method]:+.1f} points mAP50-95 on average on the '
            f'{split} split' + (f' (also at every seed: {others})' if others else '')
            + f'; its best student: {words(top)}.')


def save_chosen_student(runs: Sequence[dict], methods: Sequence[str], out: str,
                        img_size: int = 0) -> str:
    """Copy the student :func:`pick_student` chooses on the val split into ``<out>/student``
    (:func:`kd_plugins.export.save_student`: ``student.py``, ``student.pth``, ``chosen.json``
    and, with onnx installed, ``end2end.onnx``), and say so in words (markdown). With no
    choice, or when the copy fails (the words say why; the report is written all the same),
    what an earlier run saved there is removed, so the folder never holds a student the report
    does not name."""
    from .export import clear_saved_student, save_student
    folder = osp.join(out, 'student')
    method, top, gains, seeds = pick_student(runs, methods, 'val')
    if top is None:
        clear_saved_student(folder)
        return ''
    info = dict(method=method, seed=top['seed'], val_mAP50_95=top['val']['coco/bbox_mAP'],
                paired_seeds=seeds,
                mean_gain_points=round(gains[method], 2) if method in gains else None)
    try:
        paths = save_student(top['eval_config'], top['eval_ckpt'], folder, info, img_size)
    except (OSError, RuntimeError, ValueError) as e:  # the report of the runs still stands
        clear_saved_student(folder)
        return f'Not copied to `student/`: {e}'
    files = ' + '.join(f'`{osp.relpath(paths[k], out)}`'
                       for k in ('config', 'checkpoint', 'onnx') if k in paths)
    return (f'Copied to {files} (a plain MMYOLO model: `python tools/test.py '
            f'OUT/student/student.py OUT/student/student.pth`, OUT being this folder'
            + (f'; ONNX with input (1, 3, {img_size}, {img_size}), detections after NMS' if
               'onnx' in paths else f'; no ONNX: {paths["onnx_skipped"]}' if img_size else '')
            + '; `student/chosen.json` says which run it is).')


def logged_share(log: Sequence[dict]) -> Optional[float]:
    """The distillation's share of the total loss over a training log (``scalar_log``
    records): the mean of the ``kd_share`` every logged training step records, None where no
    step records one (a teacher, a student alone). Not the same as a ``distill_share`` target:
    the running means behind ``kd_balance`` trail a distillation loss that falls faster than the
    student's (docs/ld.md)."""
    values = [x['kd_share'] for x in log if 'kd_share' in x and 'loss' in x]
    return round(statistics.mean(values), 4) if values else None


def _median(values) -> Optional[float]:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def _md(rows: Sequence[dict]) -> str:
    keys = list(rows[0])
    lines = ['| ' + ' | '.join(keys) + ' |', '|' + '---|' * len(keys)]
    for r in rows:
        cells = []
        for k in keys:
            v = r[k]
            cells.append('-' if v is None else f'{v:.2f}' if isinstance(v, float) else str(v))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def write_report(args, data, runs: List[dict], precision: str, timings: Dict[str, float],
                 total_s: float, shares: Optional[Dict[str, Optional[float]]] = None) -> str:
    """Write report.md / report.csv / runs.csv / curves.png / detections.png into args.out and
    return the markdown. ``shares``: each method's ``distill_share`` as its config sets it
    (None: the loss weights as configured)."""
    import cv2

    from .analysis import model_complexity, plot_curves, scalar_log, training_curves
    from .demo import stack_rows
    from .utils import quiet
    out = args.out
    sizes = {}
    for r in runs:
        if r['config'] not in sizes:
            with quiet():
                sizes[r['config']] = model_complexity(r['config'], args.img_size)
        r['params_M'], r['FLOPs_G'] = (round(x, 2) for x in sizes[r['config']])
        log = [] if r.get('given') else scalar_log(r['work_dir'])  # a given teacher: none
        times = [x['time'] for x in log if 'time' in x and 'loss' in x]
        r['train_s_per_iter'] = statistics.median(times) if times else None
        r['kd_share'] = logged_share(log)
        r['curves'] = training_curves(log)
        wall = osp.join(r['work_dir'], 'train_wall_s.txt')
        r['train_wall_s'] = float(open(wall).read()) if osp.isfile(wall) else None

    splits = ['val'] + (['test'] if any('test' in r for r in runs) else [])
    lines = [f'# Distillation report: {osp.basename(osp.normpath(data.source))}', '',
             f'Data: `{data.source}` ({data.layout} layout, {len(data.classes)} classes: '
             f'{", ".join(data.classes)}); ' + '; '.join(f'{k}: {v}' for k, v in
                                                         data.summary.items()) + '.',
             f'Models: teacher {model_name(args.family, args.teacher)}, students '
             f'{model_name(args.family, args.student)}; students {args.epochs} epochs, teacher '
             + (f'given ({args.teacher_ckpt})' if args.teacher_ckpt else
                f'{args.teacher_epochs} epochs') + f'; input {args.img_size}x{args.img_size}, '
             f'batch {args.batch_size}, learning rate '
             f'{args.lr if args.lr is not None else "of the family config"}, seeds '
             f'{args.seeds} (paired: the baseline and every method share each seed); '
             + _share_words(args, shares)
             + (f'every distillation with {", ".join(f"`{o}`" for o in args.distill_options)}; '
                if args.distill_options else '')
             + f'precision: {precision}.', '',
             'Command: `python tools/distill.py ' + ' '.join(_argv(args)) + '`', '']
    csv_rows = []
    for split in splits:
        rows = method_rows(runs, split, args.methods)
        lines += [f'## {split} split', '',
                  'mAP: mean [min, max] over seeds; d_mAP50-95_points: method minus baseline '
                  'of the same seed, mean (per seed; the teacher\'s row: its lead over the '
                  'baseline of each seed); gap_closed: the mean difference as a '
                  'share of the teacher\'s lead over the baseline; kd_share: the '
                  'distillation\'s share of the training loss as the log records it, mean '
                  'over the steps and seeds (it trails a `distill_share` target, docs/ld.md); '
                  'params, FLOPs (one '
                  f'{args.img_size}x{args.img_size} image), images/s at batch 1 on this '
                  'machine (PyTorch; onnx: onnxruntime on the end-to-end ONNX export, '
                  f'{args.img_size}x{args.img_size} inputs) and training s/iter are per model.',
                  '', _md(rows), '']
        csv_rows += [dict(split=split, **r) for r in rows]
    with open(osp.join(out, 'report.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, list(csv_rows[0]))
        writer.writeheader()
        writer.writerows(csv_rows)
    run_keys = ['method', 'seed', 'val_mAP50', 'val_mAP50-95', 'test_mAP50', 'test_mAP50-95',
                'kd_share', 'train_s_per_iter', 'train_wall_s', 'work_dir']
    with open(osp.join(out, 'runs.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, run_keys)
        writer.writeheader()
        for r in runs:
            row = dict(method=r['method'], seed=r['seed'], work_dir=r['work_dir'],
                       kd_share=r['kd_share'], train_s_per_iter=r['train_s_per_iter'],
                       train_wall_s=r['train_wall_s'])
            for split in ('val', 'test'):
                for name, key in METRICS:
                    row[f'{split}_{name}'] = r[split][key] if split in r else None
            writer.writerow(row)
    curves = {r['label']: r['curves'] for r in runs
              if r['seed'] == args.seeds[0] and not r.get('given')}
    plot_curves(curves, osp.join(out, 'curves.png'),
                highlight=next((k for k in curves if k.startswith('baseline')), ''))
    pictures = {r['key']: cv2.imread(r['picture']) for r in runs if r.get('picture')}
    if pictures:
        cv2.imwrite(osp.join(out, 'detections.png'), stack_rows(pictures))
    lines += ['## The student to use', '', choose_student(runs, args.methods, 'val', out), '']
    saved = save_chosen_student(runs, args.methods, out, args.img_size)
    if saved:
        lines += [saved, '']
    lines += ['## Time', '', '| stage | wall s |', '|---|---|']
    lines += [f'| {k} | {v:.0f} |' for k, v in timings.items()]
    lines += [f'| total (this invocation; stages done before are not counted) | {total_s:.0f} |',
              '', f'Curves (seed {args.seeds[0]}): curves.png; detections on the val images '
              'with the most objects: detections.png; per run: runs.csv.', '']
    text = '\n'.join(lines)
    with open(osp.join(out, 'report.md'), 'w') as f:
        f.write(text)
    return text


def share_text(value) -> str:
    """A config's ``distill_share`` in words: ``'0.3'``, or one share per part,
    ``'head 0.3 + neck 0.1'``."""
    if isinstance(value, dict):
        return ' + '.join(f'{name} {part["share"]:g}' for name, part in value.items())
    return f'{value:g}'


def _share_words(args, shares) -> str:
    """What the report says of the distillation's share of the total loss."""
    if shares:
        kept = {m: v for m, v in shares.items() if v is not None}
        if not kept:
            return 'every distillation at its configured loss weights; '
        return ('distillation kept at a share of the total loss (`distill_share`): ' +
                ', '.join(f'{m} {share_text(v)}' for m, v in kept.items()) +
                (f'; {", ".join(m for m in shares if shares[m] is None)} at the configured '
                 'loss weights' if len(kept) < len(shares) else '') + '; ')
    if args.distill_share:
        return f'distillation kept at {args.distill_share:g} of the total loss (`distill_share`); '
    return ''


def _argv(args) -> List[str]:
    """The command line that reproduces this report."""
    out = [f'"{args.data}"' if ' ' in args.data else args.data, '--family', args.family,
           '--teacher', args.teacher, '--student', args.student, '--methods', *args.methods,
           '--epochs', str(args.epochs), '--img-size', str(args.img_size), '--batch-size',
           str(args.batch_size), '--seeds', *map(str, args.seeds)]
    if args.teacher_ckpt:
        out += ['--teacher-ckpt', args.teacher_ckpt]
    else:
        out += ['--teacher-epochs', str(args.teacher_epochs)]
    if args.lr is not None:
        out += ['--lr', f'{args.lr:g}']
    if args.distill_share is not None:
        out += ['--distill-share', f'{args.distill_share:g}']
    if args.distill_options:
        out += ['--distill-options', *args.distill_options]
    if args.classes:
        out += ['--classes', *args.classes]
    if args.precision != 'auto':
        out += ['--precision', args.precision]
    return out
