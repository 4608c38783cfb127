# The CWD distiller shared by the configs in configs/cwd/: channel-wise distillation on the
# three outputs of an MMYOLO neck (YOLOv5PAFPN and YOLOv8PAFPN both end in `neck.out_layers`),
# student map -> connector `s{i}` -> loss `loss_cwd{i}` against the teacher map of the same level.
# A config inheriting it adds the connectors (the student -> teacher width projectors, optionally
# chained with attention) and builds the algorithm around it; see cwd_fpn_yolov8-l_yolov8-n_*.py.
# tau 0.5 and weight 1 are the setting of Y. Wang et al., "Enhanced Knowledge Distillation for
# YOLO via Attention Mechanisms in Smart City Applications"; normalize='tau' reads its Eq. 1 as
# the original CWD (Shu et al., ICCV 2021; see KDChannelWiseDivergence for 'sqrt_hw').
cwd_distiller = dict(
    type='KDConfigurableDistiller',
    student_recorders={
        f'neck{i}': dict(type='ModuleOutputs', source=f'neck.out_layers.{i}')
        for i in range(3)
    },
    teacher_recorders={
        f'neck{i}': dict(type='ModuleOutputs', source=f'neck.out_layers.{i}')
        for i in range(3)
    },
    distill_losses={
        f'loss_cwd{i}': dict(type='KDChannelWiseDivergence', tau=0.5, loss_weight=1.0,
                             normalize='tau')
        for i in range(3)
    },
    loss_forward_mappings={
        f'loss_cwd{i}': dict(
            preds_S=dict(from_student=True, recorder=f'neck{i}', connector=f's{i}'),
            preds_T=dict(from_student=False, recorder=f'neck{i}'))
        for i in range(3)
    })
