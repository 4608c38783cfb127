"""Measure what distillation costs per training iteration (see kd_plugins/benchmark.py).

    python tools/benchmark_kd.py CONFIG [--iters 10] [--warmup 3] [--batch-size N]
        [--device cpu|cuda] [--amp] [--channels-last] [--teacher-precision auto|fp32|bf16|fp16]
        [--random-teacher] [--no-memory] [--out FILE.json] [--profile N] [--cfg-options k=v ...]

Prints the median seconds of (a) a student training step alone, (b) a teacher forward without
gradients, (c) a distillation training step, all on the same batches, interleaved, and the
overhead ratio c / (a + b) (1.0 is the physical limit) beside c / a (what distillation costs
over training the student alone), the precision each phase ran in and the CPU's bf16
instructions, with the peak memory of each phase
(CUDA: peak allocated; CPU: how far the phase raises the resident set size of a child process
that runs that phase alone, above what the models and batches already hold).
``--random-teacher`` times a distillation whose teacher checkpoint has not been trained yet
(timings do not depend on the teacher's weights). ``--profile N`` then runs torch.profiler over N
student steps and N distillation steps and prints the operators with the most self time and
the ``kd:`` ranges (each distillation loss, teacher forward, student loss): where an overhead
above 1.0 goes. ``--teacher-precision`` sets the algorithm's ``teacher_precision`` (default: the
config's, ``'auto'`` unless it says otherwise); ``--amp`` trains the student steps in mixed
precision (fp16 on CUDA, bf16 on a CPU with bf16 instructions), as ``tools/train.py --amp``;
``--channels-last`` trains them in fp32 with ``channels_last`` weights, as ``tools/train.py
--channels-last``.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import kd_plugins  # noqa: E402,F401  (compat fixes and registries, before anything else)
from kd_plugins.benchmark import PHASES  # noqa: E402


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Time the phases of a distillation step',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='a distillation (or plain detector) config')
    parser.add_argument('--iters', type=int, default=10, help='timed iterations per phase')
    parser.add_argument('--warmup', type=int, default=3, help='untimed iterations first')
    parser.add_argument('--batch-size', type=int, help="override the config's batch size")
    parser.add_argument('--device', default='cuda' if _cuda() else 'cpu', help='cpu or cuda',
                        choices=['cpu', 'cuda'])
    parser.add_argument('--amp', action='store_true',
                        help='mixed-precision student steps (CUDA fp16, CPU bf16)')
    parser.add_argument('--channels-last', action='store_true',
                        help='fp32 student steps with channels_last weights')
    parser.add_argument('--teacher-precision', choices=['auto', 'fp32', 'bf16', 'fp16'],
                        help="the distillation's teacher_precision (default: the config's)")
    parser.add_argument('--random-teacher', action='store_true',
                        help='do not load teacher_ckpt (for configs whose teacher is untrained)')
    parser.add_argument('--out', help='also write the results as JSON to this file')
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the peak-memory runs (on CPU, one child process per phase)')
    parser.add_argument('--profile', type=int, default=0, metavar='N',
                        help='profile N student and N distillation steps after timing')
    parser.add_argument('--phase', choices=PHASES, help=argparse.SUPPRESS)  # a memory child
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        parser.error('--iters must be >= 1 and --warmup >= 0')
    return args


def _cuda():
    import torch
    return torch.cuda.is_available()


def _peak_rss_alone(argv, phase):
    """Peak RSS (bytes) that ``phase`` adds to a child process that runs only that phase,
    above the RSS after building the models and loading the batches."""
    import subprocess
    cmd = [sys.executable, osp.abspath(__file__), *argv, '--phase', phase, '--iters', '1',
           '--warmup', '1', '--no-memory']
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f'the memory run of {phase} failed:\n{r.stderr[-3000:]}')
    return int(r.stdout.strip().splitlines()[-1].split('peak_rss_bytes=')[1])


def main(argv=None):
    import torch
    from mmengine.config import Config
    from mmengine.logging import print_log
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    from mmrazor.registry import MODELS as RAZOR
    from mmyolo.registry import MODELS as YOLO
    from mmyolo.utils import register_all_modules

    from kd_plugins.benchmark import Benchmark, overhead
    from kd_plugins.engine.precision import cpu_bf16_support
    from kd_plugins.utils import enable_amp, enable_channels_last

    args = parse_args(argv)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.batch_size:
        cfg.train_dataloader.batch_size = args.batch_size
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    distill = 'distiller' in cfg.model
    if distill and args.random_teacher:
        cfg.model.teacher_ckpt = None
    if distill and args.teacher_precision:
        cfg.model.teacher_precision = args.teacher_precision
    if args.amp:
        enable_amp(cfg, args.device)
    if args.channels_last:
        enable_channels_last(cfg)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmyolo')):
        model = (RAZOR if distill else YOLO).build(cfg.model).to(args.device)
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
        batches = []
        for batch in loader:
            batches.append(batch)
            if len(batches) == min(args.iters + args.warmup, 4):
                break
        bench = Benchmark(model, cfg.optim_wrapper, batches)
        precision = bench.precisions()
        print_log(f'{args.config}: {len(batches)} batches of {cfg.train_dataloader.batch_size} '
                  f'images on {args.device}, {args.warmup} warm-up + {args.iters} timed '
                  f'iterations, threads {torch.get_num_threads()}; CPU bf16 support: '
                  f'{cpu_bf16_support()}; precision: ' + ', '.join(
                      f'{k} {v}' for k, v in precision.items()), logger='current')
        if args.phase:  # a memory child: run one phase, report its peak RSS above the start
            from kd_plugins.benchmark import PeakRSS
            with PeakRSS() as rss:
                bench.run(args.iters, args.warmup, phases=[args.phase])
            print(f'peak_rss_bytes={rss.peak - rss.start}')
            return None
        result = bench.run(args.iters, args.warmup, log=lambda m: print_log(m, logger='current'))
        if args.profile:
            for phase in ('student_step', 'distill_step') if distill else ('student_step', ):
                print(bench.profile(phase, args.profile))
    if args.device == 'cpu' and not args.no_memory:
        child_argv = list(argv if argv is not None else sys.argv[1:])
        for phase in result:
            print_log(f'peak memory of {phase}: a child process runs it alone',
                      logger='current')
            result[phase]['peak_mem_bytes'] = _peak_rss_alone(child_argv, phase)
    ratio = overhead(result)
    names = dict(student_step='(a) student step', teacher_forward='(b) teacher forward',
                 distill_step='(c) distillation step')
    mem = 'peak GPU memory' if args.device == 'cuda' else 'peak RSS added'
    lines = [f'| phase | precision | median s | min s | max s | {mem} (MiB) |',
             '|---|---|---|---|---|---|']
    for phase, r in result.items():
        mib = f'{r["peak_mem_bytes"] / 2**20:.0f}' if 'peak_mem_bytes' in r else 'not measured'
        lines.append(f'| {names[phase]} | {precision[phase]} | {r["median_s"]:.4f} | '
                     f'{r["min_s"]:.4f} | {r["max_s"]:.4f} | {mib} |')
    print('\n'.join(lines))
    c_over_a = None
    if ratio is not None:
        c_over_a = result['distill_step']['median_s'] / result['student_step']['median_s']
        print(f'overhead c / (a + b) = {ratio:.3f}; distillation step / student step '
              f'c / a = {c_over_a:.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, device=args.device, amp=args.amp,
                           channels_last=args.channels_last,
                           batch_size=cfg.train_dataloader.batch_size, phases=result,
                           precision=precision, cpu_bf16=cpu_bf16_support(),
                           overhead=ratio, distill_over_student=c_over_a), f, indent=1)
    return result


if __name__ == '__main__':
    main()
