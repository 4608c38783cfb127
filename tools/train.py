"""Train a detector or a distillation with the OpenMMLab runner (MMYOLO's flags).

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--channels-last] [--resume [CKPT]]
        [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import kd_plugins  # noqa: E402,F401  (compat fixes and registries, before anything else)
from kd_plugins.utils import (build_runner, enable_amp, enable_channels_last,  # noqa: E402
                              load_config, parse_runner_args)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector or a distillation',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='mixed precision: fp16 with a dynamic loss scale on CUDA, bf16 on '
                        'a CPU with bf16 instructions')
    parser.add_argument('--channels-last', action='store_true', default=False,
                        help='train the convolution weights in channels_last, fp32 (faster on '
                        'some CPUs; tools/distill.py times it; --amp on a CPU includes it)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint; without a path, from the latest checkpoint in the '
        'work dir')
    return parse_runner_args(parser, argv)


def build_cfg(args):
    """The config with the command line applied (work dir, AMP, layout, resume, launcher)."""
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        import torch
        enable_amp(cfg, 'cuda' if torch.cuda.is_available() else 'cpu')
    if args.channels_last:
        enable_channels_last(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint {args.resume} does not exist')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    runner = build_runner(build_cfg(args))
    runner.train()
    return runner


if __name__ == '__main__':
    main()
