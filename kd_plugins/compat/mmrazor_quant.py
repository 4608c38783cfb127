"""MMRazor 1.0.0 cannot be imported on torch >= 2.0: keep distillation, disable quantization.

Upstream: open-mmlab/mmrazor issues 615 and 632 ("torch>=1.13 is not installed properly"); the
upstream answer is to downgrade to torch 1.13.

Cause: ``mmrazor.structures.quantization`` (imported by ``mmrazor.structures``, hence by
``mmrazor.models`` and ``mmrazor.engine``) builds backend configs at import time from torch.ao
names that newer torch renamed or removed (``reverse2``, ``reverse_sequential_wrapper2``, ...), and
its fall-back placeholders raise ``ImportError`` as soon as they are touched.

Fix: before MMRazor is imported, put a stand-in for that one subpackage in ``sys.modules``. It
exports the two names the rest of MMRazor imports from it (``BackendConfigs``,
``QConfigHandler``); using either raises :class:`QuantizationUnavailableError` with this
explanation. Distillation (algorithms, distillers, recorders, connectors, losses) never touches
them.
"""
import sys
import types

MODULE = 'mmrazor.structures.quantization'


class QuantizationUnavailableError(RuntimeError):
    """Raised when MMRazor's quantization is used on a torch it does not support."""


class _Unavailable:
    """A stand-in object: any use raises :class:`QuantizationUnavailableError`."""

    def __init__(self, name: str):
        self._name = name

    def _fail(self, *args, **kwargs):
        import torch
        raise QuantizationUnavailableError(
            f'mmrazor quantization ({self._name}) is unavailable: MMRazor 1.0.0 quantization needs '
            f'torch 1.13 and this is torch {torch.__version__} (open-mmlab/mmrazor issues 615, '
            '632). kd_plugins disables it so that distillation works; use a torch 1.13 '
            'environment without kd_plugins for quantization.')

    __call__ = _fail
    __getitem__ = _fail

    def __getattr__(self, item):
        if item.startswith('__'):
            raise AttributeError(item)
        self._fail()


def needs_fix() -> bool:
    """Whether this torch lacks the torch.ao names MMRazor's quantization imports."""
    try:
        from torch.ao.quantization.fuser_method_mappings import reverse2  # noqa: F401
    except ImportError:
        return True
    return False


def apply() -> bool:
    """Install the stand-in unless MMRazor's quantization is already imported or works.

    Returns:
        bool: True if the stand-in is (now) in place.
    """
    current = sys.modules.get(MODULE)
    if current is not None:
        return getattr(current, '__kd_plugins_stub__', False)
    if not needs_fix():
        return False
    stub = types.ModuleType(MODULE, 'Stand-in for MMRazor quantization (see kd_plugins.compat)')
    stub.__kd_plugins_stub__ = True
    stub.__all__ = ['BackendConfigs', 'QConfigHandler']
    stub.BackendConfigs = _Unavailable('BackendConfigs')
    stub.QConfigHandler = _Unavailable('QConfigHandler')
    sys.modules[MODULE] = stub
    return True
