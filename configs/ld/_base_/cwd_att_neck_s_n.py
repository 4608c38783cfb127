# CWD + attention on the neck, as a part to merge into an LD distiller (the LD + CWD configs
# ld-cwd-att_*_demo.py): the CWD distiller's neck recorders, its three loss_cwd{i} and their
# mappings (../../cwd/_base_/cwd_yolo_neck.py), and the CWD+attention connectors for an S teacher
# and an N student, whose neck widths YOLOv5 and YOLOv8 share.
_base_ = ['../../cwd/_base_/cwd_yolo_neck.py']

student_channels = [64, 128, 256]  # YOLOv5-N / YOLOv8-N neck outputs (widen 0.25)
teacher_channels = [128, 256, 512]  # YOLOv5-S / YOLOv8-S neck outputs (widen 0.5)

cwd_att_neck = dict(
    connectors={
        f's{i}': [  # MMRazor applies a list of connectors in order
            dict(type='KDChannelProjector', student_channels=s, teacher_channels=t),
            dict(type='KDChannelAttention', channels=t),
            dict(type='KDSpatialAttention', kernel_size=7),
        ]
        for i, (s, t) in enumerate(zip(student_channels, teacher_channels))
    },
    student_recorders=_base_.cwd_distiller.student_recorders,
    teacher_recorders=_base_.cwd_distiller.teacher_recorders,
    distill_losses=_base_.cwd_distiller.distill_losses,
    loss_forward_mappings=_base_.cwd_distiller.loss_forward_mappings)
