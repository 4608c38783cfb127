"""Safe loading of MMEngine checkpoints on torch >= 2.6 (``weights_only``), never arbitrary code.

Upstream: MMEngine 0.10.7 calls ``torch.load(filename, map_location=...)``; since torch 2.6 that
means ``weights_only=True``, and an MMEngine checkpoint fails with ``UnpicklingError: Weights only
load failed`` (open-mmlab/mmengine issue 1655; PR 1650 proposes ``weights_only=False``). The
globals an MMEngine checkpoint holds beyond tensors are numpy arrays/scalars/dtypes (message hub),
``mmengine.logging.HistoryBuffer`` and ``builtins.getattr``: a ``HistoryBuffer`` pickles its
statistics functions as ``getattr(HistoryBuffer, 'mean')``.

Allowing ``builtins.getattr`` (or turning the check off) would let a downloaded checkpoint run any
code. Instead:

* every checkpoint MMEngine loads (local files, http(s), the model-zoo schemes; teacher
  checkpoints, ``load_from``, ``--resume`` and ``tools/test.py`` all go through
  ``CheckpointLoader``) is loaded with ``weights_only=True``, on every torch version;
* the only extra globals allowed are the numpy reconstructors, ``HistoryBuffer``, and, under the
  name ``builtins.getattr``, :func:`_history_buffer_getattr`, which returns one of HistoryBuffer's
  own statistics methods and refuses anything else;
* anything else in the pickle is refused with :class:`UnsafeCheckpointError`, naming the file.
"""
import contextlib
import functools
import pickle
from typing import Any, Callable, Iterator, List

import numpy as np
import torch

_torch_load = torch.load  # the real one; the guard below swaps torch.load for a moment


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds objects whose unpickling could run code; it was not loaded."""


# HistoryBuffer's built-in statistics; it fills ``_statistics_methods`` with them only when the
# first instance is made, which may not have happened yet in a process that loads a checkpoint.
_HISTORY_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` restricted to what HistoryBuffer pickles: its statistics methods."""
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and isinstance(name, str) and (
            name in _HISTORY_STATISTICS or name in HistoryBuffer._statistics_methods):
        return getattr(HistoryBuffer, name)
    raise UnsafeCheckpointError(
        f'refused getattr({obj!r}, {name!r}) while unpickling: only HistoryBuffer statistics '
        'methods may be looked up from a checkpoint')


def safe_globals() -> List[Any]:
    """The globals, beyond torch's own allow-list, that an MMEngine checkpoint may use."""
    from mmengine.logging import HistoryBuffer
    core = np._core if hasattr(np, '_core') else np.core
    dtype_classes = {type(np.dtype(t)) for t in
                     ('b', 'u1', 'i1', 'i2', 'i4', 'i8', 'u2', 'u4', 'u8', 'f2', 'f4', 'f8', '?')}
    return [HistoryBuffer, np.ndarray, np.dtype, core.multiarray._reconstruct,
            core.multiarray.scalar, *sorted(dtype_classes, key=str),
            (_history_buffer_getattr, 'builtins.getattr')]


def safe_torch_load(f: Any, map_location: Any = None, **kwargs) -> Any:
    """``torch.load`` with ``weights_only=True`` and the MMEngine allow-list above.

    Raises:
        UnsafeCheckpointError: the file holds a global outside the allow-list (possibly a
            crafted checkpoint that would execute code).
    """
    kwargs.pop('weights_only', None)
    kwargs.pop('pickle_module', None)
    with torch.serialization.safe_globals(safe_globals()):
        try:
            return _torch_load(f, map_location=map_location, weights_only=True, **kwargs)
        except UnsafeCheckpointError:
            raise
        except pickle.UnpicklingError as e:
            name = f if isinstance(f, str) else getattr(f, 'name', type(f).__name__)
            raise UnsafeCheckpointError(
                f'refused to load checkpoint {name}: it holds objects that are not tensors, '
                'numbers or MMEngine logging state, and unpickling them could execute code '
                f'({_unpickler_reason(e)}). If you trust where the file comes from, re-save '
                'only its weights: torch.save({"state_dict": torch.load(path, '
                'weights_only=False)["state_dict"]}, new_path).') from e


def _unpickler_reason(error: Exception) -> str:
    """What torch's weights-only error says was refused, without its boilerplate."""
    keep = []
    for line in str(error).splitlines():
        line = line.strip()
        if 'WeightsUnpickler error:' in line:
            line = line.split('WeightsUnpickler error:', 1)[1].strip()
        if line and not line.startswith(('Weights only load failed', 'Check the documentation',
                                         '(1)', '(2)', 'Please file an issue')):
            keep.append(line)
    return ' '.join(keep) or type(error).__name__


@contextlib.contextmanager
def _weights_only_torch_load() -> Iterator[None]:
    """Within the block, ``torch.load`` (as MMEngine calls it) is :func:`safe_torch_load`."""
    torch.load = safe_torch_load
    try:
        yield
    finally:
        torch.load = _torch_load


def _guard(loader: Callable) -> Callable:

    @functools.wraps(loader)
    def guarded(*args, **kwargs):
        with _weights_only_torch_load():
            return loader(*args, **kwargs)

    guarded.__kd_plugins_safe__ = True
    return guarded


def apply() -> int:
    """Wrap every checkpoint scheme registered in MMEngine's ``CheckpointLoader``.

    Schemes registered later (by other packages) are wrapped too, as
    ``CheckpointLoader._register_scheme`` is wrapped. Idempotent.

    Returns:
        int: how many schemes are guarded.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    for prefix, loader in list(CheckpointLoader._schemes.items()):
        if not getattr(loader, '__kd_plugins_safe__', False):
            CheckpointLoader._schemes[prefix] = _guard(loader)
    register = CheckpointLoader.__dict__['_register_scheme'].__func__
    if not getattr(register, '__kd_plugins_safe__', False):

        def _register_scheme(cls, prefixes, loader, force=False):
            return register(cls, prefixes, _guard(loader), force=force)

        _register_scheme.__kd_plugins_safe__ = True
        CheckpointLoader._register_scheme = classmethod(_register_scheme)
    return len(CheckpointLoader._schemes)
