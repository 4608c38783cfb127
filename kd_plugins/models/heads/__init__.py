from .yolov5_ld_head import KDYOLOv5LDHead, KDYOLOv5LDHeadModule

__all__ = ['KDYOLOv5LDHead', 'KDYOLOv5LDHeadModule']
