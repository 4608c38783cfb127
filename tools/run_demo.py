"""The main job: ``tools/distill.py`` applied to the built-in synthetic demo data.

    python tools/run_demo.py [--out results/demo] [--data data/demo] [--num-train 400]
        [--num-val 100] [any tools/distill.py option, e.g. --seeds 0 1 2 or --precision fp32]

It generates the demo dataset (COCO json, 5 shape classes, 256x256 images; skipped when it
exists) and runs the one-command tool on it with the demo's settings, which any later option
overrides:

    python tools/distill.py data/demo --out results/demo --family yolov5 --teacher s \
        --student n --methods cwd_att ld_obj_kl --epochs 10 --teacher-epochs 14 \
        --img-size 256 --lr 0.08 --seeds 0 --precision fastest

Models: the teacher is YOLOv5-S with the LD head (box edges as distributions, what
localization distillation needs in the student); the baseline and both distilled students are
YOLOv5-N with the LD head, so that they differ only in what they learn from (no KD,
CWD+attention on the neck, LD on the head with its objectness KD as a KL divergence, the
``--family yolov5`` default: docs/ld.md). The learning rate 0.08 (YOLOv5's 0.01 is a recipe
for 300 epochs) and the 1-epoch warm-up fit the 10-epoch schedule (docs/getting_started.md).
Precision: the fastest this machine offers (``--precision fastest``): on a CPU each model
trains in the way one timed training step of it was fastest here (fp32, fp32 +
``channels_last``, or bf16 ``--amp`` where the CPU has bf16 instructions; it depends on the
processor: docs/benchmark.md), and each distillation's teacher times its forward the same way;
``--precision auto`` keeps training in fp32 (in the faster layout), ``--precision fp32`` turns
it all off. The time saved goes to the teacher (14 epochs, 10 for the students).
Stages, resumption and the report: see tools/distill.py; results in --out (report.md).
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools'))

from kd_plugins.recipe import FAMILIES  # noqa: E402

# the demo runs the family's default methods, so that it shows what tools/distill.py does
DEMO = ['--family', 'yolov5', '--teacher', 's', '--student', 'n', '--methods',
        *FAMILIES['yolov5']['default_methods'], '--epochs', '10', '--teacher-epochs', '14',
        '--img-size', '256', '--lr', '0.08', '--seeds', '0', '--precision', 'fastest']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='The main job: generate the demo data, then tools/distill.py on it with '
        'the demo settings (' + ' '.join(DEMO) + '); any other option is passed to '
        'tools/distill.py and overrides them (see python tools/distill.py --help)',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--out', default='results/demo', help='results folder')
    parser.add_argument('--data', default='data/demo', help='demo dataset folder')
    parser.add_argument('--num-train', type=int, default=400, help='generated train images')
    parser.add_argument('--num-val', type=int, default=100, help='generated val images')
    parser.add_argument('--force', action='store_true',
                        help='regenerate the data and redo every stage')
    return parser.parse_known_args(argv)


def main(argv=None):
    args, rest = parse_args(argv)
    from kd_plugins.datasets import generate_demo_dataset
    print(f'demo data: {args.data} ({args.num_train} train / {args.num_val} val images)',
          flush=True)
    generate_demo_dataset(args.data, args.num_train, args.num_val, seed=0, force=args.force)
    import distill
    return distill.main([args.data, '--out', args.out, *DEMO, *rest] +
                        (['--force'] if args.force else []))


if __name__ == '__main__':
    main()
