from .checked_coco import DatasetCheckError, KDYOLOv5CocoDataset, image_problem
from .demo_data import DEMO_CLASSES, generate_demo_dataset, render_scene

__all__ = [
    'DEMO_CLASSES', 'DatasetCheckError', 'KDYOLOv5CocoDataset', 'generate_demo_dataset',
    'image_problem', 'render_scene'
]
