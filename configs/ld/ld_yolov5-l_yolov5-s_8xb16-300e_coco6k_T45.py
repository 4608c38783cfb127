# LD YOLOv5-L -> YOLOv5-S on the COCO 6000-image subset at temperature 45 (a row of Huang et al.'s
# Table 2); everything else: ./ld_yolov5-l_yolov5-s_8xb16-300e_coco6k.py.
_base_ = './ld_yolov5-l_yolov5-s_8xb16-300e_coco6k.py'

temperature = 45
model = dict(
    distiller=dict(
        distill_losses=dict(
            loss_ld=dict(temperature=temperature),
            loss_cls_kd=dict(temperature=temperature))))
