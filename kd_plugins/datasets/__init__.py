from .checked_coco import CheckedYOLOv5CocoDataset, DatasetCheckError, image_problem
from .demo_data import DEMO_CLASSES, generate_demo_dataset, render_scene

__all__ = [
    'DEMO_CLASSES', 'DatasetCheckError', 'CheckedYOLOv5CocoDataset', 'generate_demo_dataset',
    'image_problem', 'render_scene'
]
