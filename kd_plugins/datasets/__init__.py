from .demo_data import DEMO_CLASSES, generate_demo_dataset, render_scene

__all__ = ['DEMO_CLASSES', 'generate_demo_dataset', 'render_scene']
