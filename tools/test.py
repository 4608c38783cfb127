"""Evaluate a checkpoint with the OpenMMLab runner (MMYOLO's flags).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
        [--show-dir DIR] [--split {test,val}] [--cfg-options k=v ...]
        [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import kd_plugins  # noqa: E402,F401
from kd_plugins.utils import build_runner, load_config, parse_runner_args  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', type=str,
                        help='dump predictions to a pickle file (.pkl) for offline evaluation')
    parser.add_argument('--show-dir', help='save images with predictions drawn into this '
                        'directory (relative to the work dir\'s timestamped folder)')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help="'val': evaluate on the config's val_dataloader with its "
                        'val_evaluator instead of the test ones')
    return parse_runner_args(parser, argv)


def build_cfg(args):
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint file {args.checkpoint} does not exist')
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    if args.split == 'val':
        cfg.test_dataloader, cfg.test_evaluator = cfg.val_dataloader, cfg.val_evaluator
    if args.show_dir:
        vis = cfg.default_hooks.get('visualization')
        if vis is None:
            raise SystemExit('--show-dir needs default_hooks.visualization in the config')
        vis['draw'] = True
        vis['test_out_dir'] = args.show_dir
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'--out must be a .pkl file, got {args.out}')
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type='mmdet.DumpDetResults',
                                                out_file_path=args.out)]
    return cfg


def main(argv=None):
    args = parse_args(argv)
    return build_runner(build_cfg(args)).test()


if __name__ == '__main__':
    main()
