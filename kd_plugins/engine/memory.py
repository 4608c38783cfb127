"""Host memory of a training run, logged every epoch: main process and data workers."""
import os
from typing import Dict, List

from mmengine.hooks import Hook
from mmyolo.registry import HOOKS


def _status_mib(pid) -> Dict[str, float]:
    """``VmRSS`` (resident now) and ``VmHWM`` (resident peak) of a process, in MiB, from
    ``/proc/<pid>/status`` (Linux); {} when unreadable (not Linux, or the process ended)."""
    try:
        with open(f'/proc/{pid}/status') as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        key, _, value = line.partition(':')
        if key in ('VmRSS', 'VmHWM'):
            out[key] = int(value.split()[0]) / 1024  # kB
    return out


def child_pids(pid='self') -> List[int]:
    """Direct children of a process (the data loader's workers of a training process)."""
    pids = []
    try:
        tasks = os.listdir(f'/proc/{pid}/task')
    except OSError:
        return pids
    for task in tasks:
        try:
            with open(f'/proc/{pid}/task/{task}/children') as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            continue
    return pids


def memory_mib() -> Dict[str, float]:
    """Resident memory of this process and its children, MiB: ``rss`` / ``peak_rss`` (this
    process, now / highest so far), ``workers_rss`` / ``workers_peak_rss`` (sums over the
    children alive now), ``total_peak_rss`` (the two peaks added: an upper bound of what the
    run has held at once), ``workers`` (how many). Empty where ``/proc`` is not available."""
    main = _status_mib('self')
    if not main:
        return {}
    kids = [m for m in (_status_mib(p) for p in child_pids()) if m]
    out = dict(rss=main['VmRSS'], peak_rss=main['VmHWM'],
               workers_rss=sum(m['VmRSS'] for m in kids),
               workers_peak_rss=sum(m['VmHWM'] for m in kids), workers=float(len(kids)))
    out['total_peak_rss'] = out['peak_rss'] + out['workers_peak_rss']
    return out


@HOOKS.register_module()
class KDMemoryHook(Hook):
    """Log the host memory (resident set) of training after every ``interval`` epochs.

    One log line per epoch, e.g. ``Epoch 3 host memory: main 1834 MiB (peak 1902), 2 data
    workers 812 MiB (peak 830), peak total 2732 MiB``, and the values as scalars ``mem/*``
    in the run's ``vis_data/scalars.json`` (step = epoch) for plots and checks. A run whose
    peak total keeps rising epoch after epoch holds on to something per iteration
    (tests/test_memory.py measures a distillation and a deliberate leak). Linux only (reads
    ``/proc``); elsewhere it logs once that it cannot measure.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 1):
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self._said_unavailable = False

    def after_train_epoch(self, runner) -> None:
        if not self.every_n_epochs(runner, self.interval):
            return
        mem = memory_mib()
        if not mem:
            if not self._said_unavailable:
                runner.logger.info('KDMemoryHook: /proc is not available here; no memory log')
                self._said_unavailable = True
            return
        runner.logger.info(
            f'Epoch {runner.epoch + 1} host memory: main {mem["rss"]:.0f} MiB (peak '
            f'{mem["peak_rss"]:.0f}), {int(mem["workers"])} data workers '
            f'{mem["workers_rss"]:.0f} MiB (peak {mem["workers_peak_rss"]:.0f}), peak total '
            f'{mem["total_peak_rss"]:.0f} MiB')
        runner.visualizer.add_scalars({f'mem/{k}': v for k, v in mem.items()},
                                      step=runner.epoch + 1)
