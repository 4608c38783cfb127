"""kd_plugins: knowledge distillation for MMYOLO YOLOv5/YOLOv8 detectors as MMRazor plugins.

``import kd_plugins`` (configs do it with ``custom_imports``) checks the OpenMMLab versions,
applies the compatibility fixes in :mod:`kd_plugins.compat` and registers the project's modules.
"""
from . import compat

compat.apply_all()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__version__ = '0.1.0'
