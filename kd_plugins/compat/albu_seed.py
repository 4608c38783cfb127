"""``mmdet.Albu`` ignores every seed on albumentations 2.x (YOLO training not reproducible).

Upstream: in albumentations 2.0.8 (the version installed here; the change came with the
``seed`` argument of ``Compose``) a ``Compose`` draws from its own generators
(``np.random.default_rng(seed)`` and ``random.Random(seed)``), seeded from the operating system
when ``seed`` is None; its documentation says that seeding ``random`` or NumPy "has no effect on
augmentations". MMDetection 3.3.0's ``Albu`` (in MMYOLO's YOLOv5 and YOLOv8 training pipelines:
Blur, MedianBlur, ToGray, CLAHE) builds its ``Compose`` without a seed, written for older
albumentations that drew from the global ``random``. So MMEngine's ``randomness.seed`` and its
per-worker seeding never reach it: two runs of the same config and seed apply these transforms
to different images, and a resumed run cannot repeat an uninterrupted one.

Fix: ``Albu.transform`` is wrapped to seed its ``Compose`` from NumPy's global generator right
before each call, which is what MMEngine seeds (per process and per data worker) - the
behaviour MMDetection was written for. One 32-bit draw and a reseed per image (tens of
microseconds). Without ``Compose.set_random_seed`` (older albumentations) nothing is wrapped.
"""
import numpy as np

from ._wrap import ORIGINAL as _ORIGINAL  # noqa: F401  (tests reach the upstream function)
from ._wrap import wrap_once


def apply() -> bool:
    """Wrap ``mmdet.datasets.transforms.Albu.transform`` (idempotent)."""
    try:
        from albumentations import Compose
    except ImportError:  # Albu then raises its own "albumentations is not installed"
        return False
    if not hasattr(Compose, 'set_random_seed'):
        return False
    from mmdet.datasets.transforms import Albu

    def make(original):

        def transform(self, results):
            self.aug.set_random_seed(int(np.random.randint(0, 2**32, dtype=np.uint64)))
            return original(self, results)

        return transform

    return wrap_once(Albu, 'transform', make)
