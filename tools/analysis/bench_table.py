"""Collect the JSON files of ``tools/benchmark_kd.py --out`` into one markdown table.

    python tools/analysis/bench_table.py results/bench/*.json [--out results/bench/table.md]

One row per file: config, device, batch size, the precision of the student step and of the
teacher forward, (a) student step, (b) teacher forward, (c) distillation step (medians,
seconds), c / (a + b), c / a, and the peak memory of each phase (MiB: peak RSS added on CPU,
peak allocated on CUDA).
"""
import argparse
import json
import os.path as osp


def table(paths):
    head = ('| config | device | batch | student | teacher | (a) student step s | '
            '(b) teacher forward s | (c) distillation step s | c / (a + b) | c / a | '
            'peak memory MiB a / b / c |')
    lines = [head, '|' + '---|' * 11]
    for path in paths:
        with open(path) as f:
            r = json.load(f)
        ph = r['phases']
        if 'distill_step' not in ph:
            raise SystemExit(f'{path}: not a distillation benchmark (no distill_step)')
        a, b, c = (ph[k]['median_s'] for k in ('student_step', 'teacher_forward',
                                               'distill_step'))
        mem = ' / '.join(f'{ph[k]["peak_mem_bytes"] / 2**20:.0f}' if 'peak_mem_bytes' in ph[k]
                         else '-' for k in ('student_step', 'teacher_forward', 'distill_step'))
        precision = r.get('precision', {})  # files of older versions: fp32, or AMP
        student = precision.get('student_step', 'AMP' if r.get('amp') else 'fp32')
        teacher = precision.get('teacher_forward', 'fp32')
        name = osp.splitext(osp.basename(r['config']))[0]
        lines.append(f'| `{name}` | {r["device"]} | {r["batch_size"]} | {student} | {teacher} '
                     f'| {a:.3f} | {b:.3f} | {c:.3f} | {c / (a + b):.2f} | {c / a:.2f} | {mem} |')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark JSON files -> markdown table',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('files', nargs='+', help='JSON files written by benchmark_kd.py --out')
    parser.add_argument('--out', help='also write the table to this file')
    args = parser.parse_args(argv)
    text = table(args.files)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return text


if __name__ == '__main__':
    main()
