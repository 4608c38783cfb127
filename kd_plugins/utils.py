"""Helpers shared by the command-line tools."""
import os.path as osp
from typing import Optional


def parse_runner_args(parser, argv=None):
    """Add the arguments tools/train.py and tools/test.py share (MMYOLO's names) and parse.

    ``--local-rank`` (passed by older launchers) is exported as ``LOCAL_RANK`` unless set.
    """
    import os

    from mmengine.config import DictAction
    parser.add_argument('--work-dir', help='the directory for logs, checkpoints and metrics')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (e.g. train_cfg.max_epochs=5)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(path: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                launcher: str = 'none'):
    """Load a config as ``tools/train.py`` and ``tools/test.py`` do.

    ``--cfg-options`` are merged, the work dir is the command line's, else the config's, else
    ``work_dirs/<config name>``, and for CPU multi-process runs the config is adapted
    (:func:`kd_plugins.compat.prepare_cpu_distributed`).
    """
    from mmengine.config import Config

    from .compat import prepare_cpu_distributed
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path} does not exist')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    prepare_cpu_distributed(cfg, launcher)
    return cfg


def build_runner(cfg):
    """The runner named by ``cfg.runner_type``, else MMEngine's ``Runner``."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
