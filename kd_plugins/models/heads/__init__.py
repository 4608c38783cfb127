from .yolov5_ld_head import KDAnchorPointDistanceCoder, KDYOLOv5LDHead, KDYOLOv5LDHeadModule

__all__ = ['KDYOLOv5LDHead', 'KDYOLOv5LDHeadModule', 'KDAnchorPointDistanceCoder']
