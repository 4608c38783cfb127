"""Turn a distillation checkpoint into a plain MMYOLO checkpoint and config for the student.

    python tools/export_student.py CONFIG CHECKPOINT [--out-dir DIR] [--img-size 256]

Writes <out-dir>/<student config name>.py (the student's config, resolved) and
<out-dir>/student.pth (the student's weights only: no teacher, connectors or distiller keys;
the EMA weights when the run used EMA, as MMEngine saves them). Then checks on the spot that the
exported model, built from those two files, gives outputs identical to the student inside the
distiller (maximum absolute difference 0) and fails otherwise. Use the result like any MMYOLO
model: python tools/test.py <out-dir>/<student config>.py <out-dir>/student.pth
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import kd_plugins  # noqa: E402,F401


def main(argv=None):
    parser = argparse.ArgumentParser(description='Export the student of a distillation',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='the distillation config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='the distillation checkpoint')
    parser.add_argument('--out-dir', help='default: <checkpoint dir>/student')
    parser.add_argument('--img-size', type=int, default=256,
                        help='input size of the equality check')
    args = parser.parse_args(argv)
    from kd_plugins.export import export_student
    out_dir = args.out_dir or osp.join(osp.dirname(osp.abspath(args.checkpoint)), 'student')
    cfg_out, ckpt_out, diff = export_student(args.config, args.checkpoint, out_dir,
                                             args.img_size)
    print(f'written: {cfg_out}\nwritten: {ckpt_out}\n'
          f'exported student vs student in the distiller: max abs difference {diff:g}')
    if diff != 0:
        raise SystemExit('the exported student does not reproduce the distiller\'s student')
    return cfg_out, ckpt_out, diff


if __name__ == '__main__':
    main()
