# CWD + channel and spatial attention (the CWD+attention of Y. Wang et al., "Enhanced Knowledge
# Distillation for YOLO via Attention Mechanisms in Smart City Applications"):
# cwd_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py, with each projected student map
# passed through the attention before the loss. Student side only, so the attention cannot
# flatten the teacher's maps to cheat the loss (see attention_connector.py in
# kd_plugins/models/connectors/).
#   python tools/train.py configs/cwd/cwd-att_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py
_base_ = './cwd_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py'

model = dict(
    distiller=dict(
        connectors={
            f's{i}': [  # MMRazor applies a list of connectors in order
                dict(type='KDChannelProjector', student_channels=s, teacher_channels=t),
                dict(type='KDChannelAttention', channels=t),
                dict(type='KDSpatialAttention', kernel_size=7),
            ]
            for i, (s, t) in enumerate(zip(_base_.student_channels, _base_.teacher_channels))
        }))
