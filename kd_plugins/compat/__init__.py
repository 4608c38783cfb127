"""Fixes for third-party versions, one module per breakage, each citing the upstream issue.

=====================  ===============================================================
module                 what it fixes
=====================  ===============================================================
``versions``           checks the supported version matrix at import
``mmrazor_quant``      ``import mmrazor.models`` fails on torch >= 2.0 (quantization)
``checkpoint``         MMEngine checkpoints fail to load on torch >= 2.6, safely fixed
``scope_leak``         ``_scope_`` from ``mmyolo::`` bases reaches collate_fn and Albu
``optim_constructor``  ``YOLOv5OptimizerConstructor`` chokes on norms without weights
``cpu_dist``           multi-process training on CPU (gloo, DDP device_ids, SyncBN)
``albu_seed``          ``mmdet.Albu`` ignores MMEngine's seeds on albumentations 2.x
=====================  ===============================================================

Undeclared upstream dependencies (``albumentations`` for MMYOLO's pipelines, ``joblib`` for
MMRazor) are declared in ``setup.py``. :func:`apply_all` runs on ``import kd_plugins``.
"""
from . import albu_seed, checkpoint, mmrazor_quant, optim_constructor, scope_leak
from .checkpoint import UnsafeCheckpointError, safe_torch_load
from .cpu_dist import prepare_cpu_distributed
from .mmrazor_quant import QuantizationUnavailableError
from .versions import UnsupportedVersionError, check_versions

__all__ = [
    'apply_all', 'check_versions', 'prepare_cpu_distributed', 'safe_torch_load',
    'QuantizationUnavailableError', 'UnsafeCheckpointError', 'UnsupportedVersionError'
]


def apply_all() -> None:
    """Check versions, then apply every fix (each is idempotent). The MMRazor stand-in goes first:
    it must be in place before anything imports MMRazor."""
    check_versions()
    mmrazor_quant.apply()
    checkpoint.apply()
    scope_leak.apply()
    optim_constructor.apply()
    albu_seed.apply()
