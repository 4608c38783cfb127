"""Helpers shared by the command-line tools."""
import contextlib
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


def enable_amp(cfg, device: str) -> str:
    """Switch ``cfg.optim_wrapper`` to mixed precision for ``device`` (``'cuda'`` or ``'cpu'``) and
    return what it chose: on CUDA MMEngine's ``AmpOptimWrapper`` (fp16, dynamic loss scale, as
    MMYOLO does; an ``optim_wrapper.loss_scale`` already set is kept), on CPU
    :class:`~kd_plugins.engine.CPUAmpOptimWrapper` (bf16; refused with a
    message on a CPU without bf16 instructions)."""
    from mmengine.logging import print_log

    from .engine.precision import EMULATED_BF16_ENV, cpu_bf16_allowed, cpu_bf16_support
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    amp_type = 'AmpOptimWrapper' if device == 'cuda' else 'CPUAmpOptimWrapper'
    if wrapper == amp_type:
        print_log('AMP training is already enabled in your config.', logger='current')
        return amp_type
    if wrapper not in ('OptimWrapper', 'AmpOptimWrapper', 'CPUAmpOptimWrapper'):
        raise SystemExit(f'--amp works with optim_wrapper.type=OptimWrapper, got {wrapper}')
    if device != 'cuda' and not cpu_bf16_allowed():
        raise SystemExit('--amp on this CPU: it has no bf16 instructions (neither avx512_bf16 '
                         'nor AMX), so mixed precision would be emulated and slower than fp32. '
                         f'Drop --amp to train in fp32 ({EMULATED_BF16_ENV}=1 runs it anyway, '
                         'emulated: for checking the code path, not for speed).')
    cfg.optim_wrapper.type = amp_type
    if device == 'cuda':  # dynamic unless the command line set one (e.g. loss_scale.init_scale)
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        cfg.optim_wrapper.pop('loss_scale', None)
    print_log(f'--amp on {device}: {amp_type}'
              + ('' if device == 'cuda' else f' (bf16, CPU support: {cpu_bf16_support()})'),
              logger='current')
    return amp_type


def enable_channels_last(cfg) -> str:
    """Switch ``cfg.optim_wrapper`` to train the convolution weights in ``channels_last``, fp32
    (:class:`~kd_plugins.engine.ChannelsLastOptimWrapper`); with ``--amp`` on a CPU the bf16
    wrapper already does, and on CUDA ``--amp`` it is refused (not measured here)."""
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper == 'CPUAmpOptimWrapper':
        return wrapper  # its weights are in channels_last already
    if wrapper not in ('OptimWrapper', 'ChannelsLastOptimWrapper'):
        raise SystemExit('--channels-last works with optim_wrapper.type=OptimWrapper (or with '
                         f'--amp on a CPU, which includes it), got {wrapper}')
    cfg.optim_wrapper.type = 'ChannelsLastOptimWrapper'
    return cfg.optim_wrapper.type


@contextlib.contextmanager
def quiet():
    """Silence what upstream prints while a tool works in-process: pycocotools' progress
    prints (stdout), MMEngine's logger below ERROR (e.g. the FLOP counter's "Unsupported
    operator" list) and Python warnings. A real error still raises."""
    import io
    import logging
    import warnings

    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter('ignore')
            yield
    finally:
        logger.setLevel(level)
