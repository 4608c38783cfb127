"""Host memory of a training run, logged every epoch: main process and data workers."""
import os
from typing import Dict, List, Union

from mmengine.hooks import Hook
from mmengine.runner import Runner
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


def _pss_mib(pid) -> float:
    """Proportional set size of a process in MiB (shared pages split between the processes
    sharing them, so that sums over processes do not count forked pages twice); 0 when
    ``/proc/<pid>/smaps_rollup`` is unreadable (Linux < 4.14, or the process ended)."""
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for line in f:
                if line.startswith('Pss:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def child_pids(pid: Union[int, str] = 'self') -> List[int]:
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
    run has held at once; forked workers share pages with the main process, which RSS counts
    in each), ``total_pss`` (this process and its children now, shared pages counted once),
    ``workers`` (how many). Empty where ``/proc`` is not available."""
    main = _status_mib('self')
    if not main:
        return {}
    pids = child_pids()
    kids = [m for m in (_status_mib(p) for p in pids) if m]
    out = dict(rss=main['VmRSS'], peak_rss=main['VmHWM'],
               workers_rss=sum(m['VmRSS'] for m in kids),
               workers_peak_rss=sum(m['VmHWM'] for m in kids), workers=float(len(kids)))
    out['total_peak_rss'] = out['peak_rss'] + out['workers_peak_rss']
    out['total_pss'] = _pss_mib('self') + sum(_pss_mib(p) for p in pids)
    return out


@HOOKS.register_module()
class HostMemoryHook(Hook):
    """Log the host memory (resident set) of training after every ``interval`` epochs.

    One log line per epoch, ``Epoch <e> host memory: main <m> MiB (peak <p>), <k> data
    workers <w> MiB (peak <q>), peak total <t> MiB; all processes now without double-counting
    shared pages (PSS) <s> MiB``, and the values as scalars ``mem/*`` in the run's
    ``vis_data/scalars.json`` (step = epoch) for plots and checks (see :func:`memory_mib`).
    Persistent validation workers appear after the first validation. A run whose peak total
    keeps rising epoch after epoch holds on to something per iteration
    (tests/test_engine/test_hooks/test_memory.py measures a distillation and a deliberate
    leak). Linux only (reads ``/proc``); elsewhere it logs once that it cannot measure.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 1):
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self._said_unavailable = False

    def after_train_epoch(self, runner: Runner) -> None:
        if not self.every_n_epochs(runner, self.interval):
            return
        mem = memory_mib()
        if not mem:
            if not self._said_unavailable:
                runner.logger.info('HostMemoryHook: /proc is not available here; no memory log')
                self._said_unavailable = True
            return
        runner.logger.info(
            f'Epoch {runner.epoch + 1} host memory: main {mem["rss"]:.0f} MiB (peak '
            f'{mem["peak_rss"]:.0f}), {int(mem["workers"])} data workers '
            f'{mem["workers_rss"]:.0f} MiB (peak {mem["workers_peak_rss"]:.0f}), peak total '
            f'{mem["total_peak_rss"]:.0f} MiB; all processes now without double-counting '
            f'shared pages (PSS) {mem["total_pss"]:.0f} MiB')
        runner.visualizer.add_scalars({f'mem/{k}': v for k, v in mem.items()},
                                      step=runner.epoch + 1)
