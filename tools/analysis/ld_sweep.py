"""Temperature sweep for a distillation config: run (or print) one training per temperature plus
the baseline, then collect Table 2 of Huang et al. (arXiv:2410.12259) and the training curves.

    python tools/analysis/ld_sweep.py CONFIG --baseline BASELINE_CONFIG \
        --temperatures 25 30 35 40 45 [--work-root work_dirs/ld_sweep] \
        [--mode run|print|collect] [--out results/ld_sweep] [--cfg-options k=v ...]

--mode print   prints the training commands (for a cluster) and stops;
--mode run     runs the missing ones here, one after the other, then collects (default);
--mode collect only collects existing work dirs.

The temperature is set on every distillation loss of CONFIG that has a ``temperature`` argument
(``model.distiller.distill_losses.<name>.temperature=T``). Work dirs: <work-root>/baseline and
<work-root>/T<t>. Outputs: <out>.md and <out>.csv (run, temperature, mAP50, mAP50-95, precision,
recall; baseline first; precision and recall when the config logs ``pr/precision`` and
``pr/recall``; a baseline config without that metric is run through a derived config
<work-root>/baseline_pr.py that adds CONFIG's) and <out>_curves.png (validation mAP50-95 and mAP50
vs epoch, training loss vs epoch, one line per run).
"""
import argparse
import inspect
import os
import os.path as osp
import shlex
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Temperature sweep: Table 2 and curves',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='the distillation config')
    parser.add_argument('--baseline', required=True, help='the baseline student config')
    parser.add_argument('--temperatures', type=float, nargs='+', required=True,
                        help='the LD temperatures to train or collect')
    parser.add_argument('--work-root', default='work_dirs/ld_sweep',
                        help='one work dir per temperature under it')
    parser.add_argument('--mode', choices=['run', 'print', 'collect'], default='run',
                        help='run: train each; print: only print the commands; collect: '
                        'only read the results back')
    parser.add_argument('--out', default='results/ld_sweep', help='output prefix')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='extra key=value options for every run (baseline included)')
    args = parser.parse_args(argv)
    if any(t <= 0 for t in args.temperatures):
        parser.error(f'temperatures must be > 0, got {args.temperatures}')
    return args


def _fmt_t(t: float) -> str:
    return f'{t:g}'


def temperature_options(config: str, t: float):
    """``--cfg-options`` that set temperature ``t`` on every loss of ``config`` that has one."""
    from mmengine.config import Config
    from mmrazor.registry import MODELS

    import kd_plugins  # noqa: F401  (registers the losses)
    cfg = Config.fromfile(config)
    losses = cfg.model.get('distiller', {}).get('distill_losses', {})
    names = []
    for name, loss in losses.items():
        cls = MODELS.get(loss['type'])
        if cls is not None and 'temperature' in inspect.signature(cls.__init__).parameters:
            names.append(name)
    if not names:
        raise ValueError(f'{config}: no distillation loss takes a temperature '
                         f'(losses: {", ".join(losses) or "none"})')
    return [f'model.distiller.distill_losses.{n}.temperature={t}' for n in names]


def baseline_with_pr(baseline: str, config: str, work_root: str) -> str:
    """The baseline config, or, when it does not report precision / recall while CONFIG does,
    a config written to <work-root>/baseline_pr.py that inherits it and adds CONFIG's
    precision / recall metric (so every row of Table 2 has them)."""
    from mmengine.config import Config

    def pr_metrics(path):
        evaluator = Config.fromfile(path).get('val_evaluator', [])
        evaluator = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
        return [e for e in evaluator if e.get('type') == 'DetPrecisionRecallMetric']

    theirs = pr_metrics(config)
    if pr_metrics(baseline) or not theirs:
        return baseline
    path = osp.join(work_root, 'baseline_pr.py')
    os.makedirs(work_root, exist_ok=True)
    with open(path, 'w') as f:
        f.write(f'# written by tools/analysis/ld_sweep.py: {baseline} + precision / recall\n'
                f'_base_ = {osp.abspath(baseline)!r}\n'
                f'val_evaluator = [_base_.val_evaluator, {dict(theirs[0])!r}]\n'
                'test_evaluator = val_evaluator\n')
    return path


def plan(args):
    """(label, temperature or None, work dir, command) per run, baseline first."""
    baseline = args.baseline if args.mode == 'collect' else \
        baseline_with_pr(args.baseline, args.config, args.work_root)
    runs = [('baseline', None, osp.join(args.work_root, 'baseline'),
             ['tools/train.py', baseline])]
    for t in args.temperatures:
        runs.append((f'T={_fmt_t(t)}', t, osp.join(args.work_root, f'T{_fmt_t(t)}'),
                     ['tools/train.py', args.config]))
    out = []
    for label, t, work_dir, cmd in runs:
        opts = list(args.cfg_options) + (temperature_options(args.config, t) if t else [])
        cmd = [*cmd, '--work-dir', work_dir] + (['--cfg-options', *opts] if opts else [])
        out.append((label, t, work_dir, cmd))
    return out


def _done(work_dir: str) -> bool:
    """Finished runs only: one stopped after an intermediate validation is run again (resumed)
    and left out of Table 2."""
    from kd_plugins.analysis import run_finished
    return run_finished(work_dir)


def collect(runs, out_prefix: str):
    """Table 2 (markdown + CSV) and the curves PNG from the runs' work dirs."""
    from kd_plugins.analysis import plot_curves, scalar_log, training_curves, write_table
    rows, curves = [], {}
    for label, t, work_dir, _ in runs:
        if not _done(work_dir):
            print(f'skipped {label}: no finished run in {work_dir}')
            continue
        log = scalar_log(work_dir)
        last = {}
        for rec in log:
            last.update(rec)
        rows.append({'run': label, 'temperature': t, 'mAP50': last['coco/bbox_mAP_50'],
                     'mAP50-95': last['coco/bbox_mAP'],
                     'precision': last.get('pr/precision'), 'recall': last.get('pr/recall')})
        curves[label] = training_curves(log)
    if not rows:
        raise SystemExit('no finished run to collect')
    os.makedirs(osp.dirname(osp.abspath(out_prefix)), exist_ok=True)
    table = write_table(rows, out_prefix)
    plot_curves(curves, out_prefix + '_curves.png', highlight='baseline')
    print(table)
    print(f'written: {out_prefix}.md, {out_prefix}.csv, {out_prefix}_curves.png')
    return rows


def main(argv=None):
    args = parse_args(argv)
    runs = plan(args)
    if args.mode == 'print':
        for _, _, _, cmd in runs:
            print(' '.join(shlex.quote(c) for c in ['python', *cmd]))
        return runs
    if args.mode == 'run':
        for k, (label, _, work_dir, cmd) in enumerate(runs):
            if _done(work_dir):
                print(f'[{k + 1}/{len(runs)}] {label}: done already ({work_dir})')
                continue
            print(f'[{k + 1}/{len(runs)}] {label}: ' + ' '.join(cmd), flush=True)
            subprocess.run([sys.executable, *cmd], cwd=ROOT, check=True)
    return collect(runs, args.out)


if __name__ == '__main__':
    main()
