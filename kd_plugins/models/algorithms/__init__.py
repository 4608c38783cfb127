from .yolo_teacher_distill import KDYOLOTeacherDistill

__all__ = ['KDYOLOTeacherDistill']
