# CWD + spatial and channel attention on the demo data: as cwd_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py,
# with each projected student map passed through channel attention then spatial attention before
# the loss (student side only: see kd_plugins/models/connectors/attention_connector.py).
_base_ = './cwd_fpn_yolov8-s_yolov8-n_1xb8-30e_demo.py'

student_channels = _base_.student_channels
teacher_channels = _base_.teacher_channels
model = dict(
    distiller=dict(
        connectors={
            f's{i}': dict(
                _delete_=True,
                type='KDConnectorChain',
                connectors=[
                    dict(type='KDChannelProjector', student_channels=student_channels[i],
                         teacher_channels=teacher_channels[i]),
                    dict(type='KDChannelAttention', channels=teacher_channels[i]),
                    dict(type='KDSpatialAttention', kernel_size=7),
                ])
            for i in range(len(student_channels))
        }))
