"""Draw the key distillation regions (KDR) and expandable location regions (ELR) of an LD config
over an image, one panel per feature-map level (the paper's Figure 2), as PNG.

    python tools/analysis/draw_ld_regions.py CONFIG [--index 0] [--split val]
        [--checkpoint CKPT] [--out results/ld_regions.png] [--cfg-options k=v ...]

The image is sample --index of the config's --split dataset, through its test pipeline (no
augmentation). Regions come from the student's own assignment for that image, exactly as during
training: the student's loss runs once with the distiller's recorders, and the LD loss's
``region_weights`` turns the recorded assigner call into weights (YOLOv8), or the YOLOv5 LD loss
turns the recorded ground truth into YOLOv5's positives and anchor overlaps (a cell shows the
largest weight of its anchors). KDR red, ELR cyan, opacity = weight; ground truth in white.
--checkpoint loads trained weights (a distillation checkpoint or the student's); without it the
student is untrained and its assignment reflects only the box geometry.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
import kd_plugins  # noqa: E402,F401


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Draw KDR / ELR weights over an image',
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='an LD distillation config (configs/ld/)')
    parser.add_argument('--index', type=int, default=0, help='sample index in the split')
    parser.add_argument('--split', choices=['train', 'val'], default='val',
                        help='the split whose image is drawn')
    parser.add_argument('--checkpoint', help='trained weights (distillation or student)')
    parser.add_argument('--out', default='results/ld_regions.png', help='the PNG to write')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args(argv)


def _region_loss(distiller):
    for name, loss in distiller.distill_losses.items():
        if hasattr(loss, 'region_weights') or hasattr(getattr(loss, 'regions', None), 'weights'):
            return name, loss
    raise ValueError('this config has no region-weighted LD loss (KDDenseLDLoss, '
                     f'KDYOLOv5LDLoss): its losses are {", ".join(distiller.distill_losses)}')


def region_settings(loss) -> dict:
    """KDR / ELR weights, the ELR threshold and the prior box of a region-weighted LD loss."""
    if hasattr(loss, 'regions'):  # YOLOv5: anchors
        r = loss.regions
        return dict(kdr_weight=r.kdr_weight, elr_weight=r.elr_weight,
                    elr_iou_thr=r.elr_iou_thr, prior='anchor box (max over the anchors)')
    return dict(kdr_weight=loss.kdr_weight, elr_weight=loss.elr_weight,
                elr_iou_thr=loss.elr_iou_thr, prior=f'{loss.prior_scale:g}-stride prior box')


def region_maps(cfg, index=0, split='val', checkpoint=None):
    """(letterboxed RGB image, ground-truth boxes in it, [(stride, weight map H x W), ...],
    region loss) for one sample."""
    import torch
    from mmengine.dataset import Compose  # noqa: F401  (pipelines build through the registry)
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint
    from mmrazor.registry import MODELS
    from mmyolo.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmyolo'):
        algorithm = MODELS.build(dict(cfg.model, teacher_ckpt=None))
        if checkpoint:
            from kd_plugins.compat.checkpoint import safe_torch_load
            state = safe_torch_load(checkpoint, map_location='cpu')
            state = state.get('state_dict', state)
            if any(k.startswith('architecture.') for k in state):
                load_checkpoint(algorithm, checkpoint, map_location='cpu', strict=False)
            else:
                load_checkpoint(algorithm.student, checkpoint, map_location='cpu')
        ds_cfg = cfg[f'{split}_dataloader'].dataset.copy()
        ds_cfg.pipeline = cfg.val_dataloader.dataset.pipeline  # no augmentation
        ds_cfg.pop('batch_shapes_cfg', None)
        sample = DATASETS.build(ds_cfg)[index]
    img = sample['inputs']  # 3 x H x W, BGR uint8, letterboxed
    meta = sample['data_samples'].metainfo
    gt = sample['data_samples'].gt_instances
    boxes = getattr(gt.bboxes, 'tensor', gt.bboxes).clone().float()
    sx, sy = meta['scale_factor'][:2]
    top, _, left, _ = meta.get('pad_param', (0, 0, 0, 0))
    boxes[:, 0::2] = boxes[:, 0::2] * sx + left
    boxes[:, 1::2] = boxes[:, 1::2] * sy + top
    bboxes_labels = torch.cat([torch.zeros(len(boxes), 1), gt.labels.float()[:, None], boxes], 1)
    data = algorithm.data_preprocessor(
        dict(inputs=img[None], data_samples=dict(bboxes_labels=bboxes_labels,
                                                 img_metas=[meta])), training=True)
    distiller = algorithm.distiller
    name, loss = _region_loss(distiller)
    algorithm.student.train()
    with torch.no_grad(), distiller.student_recorders:
        algorithm.student(**data, mode='loss')
    mapping = distiller.loss_forward_mappings[name]
    rec = {k: distiller.get_record(**r) for k, r in mapping.items() if r.get('from_student')}
    h, w = img.shape[1:]
    maps = []
    if hasattr(loss, 'regions'):  # YOLOv5: (1, A, H, W) per level; a cell shows its anchors' max
        sizes = [tuple(p.shape[2:]) for p in rec['preds_S']]
        for stride, wl in zip(loss.regions.strides,
                              loss.regions.weights(rec['gt'], 1, sizes)):
            maps.append((int(stride), wl[0].amax(0)))
    else:
        weights = loss.region_weights(rec['priors'], rec['gt_bboxes'], rec['pad_flag'],
                                      rec['assigned']['fg_mask_pre_prior'])[0]
        priors = rec['priors']
        for stride in torch.unique(priors[:, 2]).tolist():
            sel = priors[:, 2] == stride
            maps.append((int(stride), weights[sel].reshape(round(h / stride), round(w / stride))))
    rgb = img.flip(0).permute(1, 2, 0).numpy()
    return rgb, boxes.numpy(), maps, loss


def draw(rgb, boxes, maps, loss, path, title=''):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Rectangle
    h, w = rgb.shape[:2]
    info = region_settings(loss)
    k_w, e_w = info['kdr_weight'], info['elr_weight']
    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps), 4.6))
    axes = np.atleast_1d(axes)
    for ax, (stride, wmap) in zip(axes, maps):
        wmap = wmap.numpy()
        overlay = np.zeros((*wmap.shape, 4))
        kdr = np.isclose(wmap, k_w) & (wmap > 0)
        elr = (wmap > 0) & ~kdr
        overlay[kdr] = (1., 0.1, 0.1, 0.)
        overlay[elr] = (0., 1., 1., 0.)
        overlay[..., 3] = 0.75 * wmap / max(k_w, e_w, 1e-9)
        ax.imshow(rgb)
        ax.imshow(overlay, extent=(0, w, h, 0), interpolation='nearest')
        for x1, y1, x2, y2 in boxes:
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color='white',
                                   linewidth=1.2))
        ax.set_title(f'stride {stride}: KDR {int(kdr.sum())} (w {k_w:g}, red), '
                     f'ELR {int(elr.sum())} (w {e_w:g}, cyan)', fontsize=8)
        ax.axis('off')
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    from mmengine.config import Config
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    rgb, boxes, maps, loss = region_maps(cfg, args.index, args.split, args.checkpoint)
    info = region_settings(loss)
    title = (f'{osp.basename(args.config)} - {args.split}[{args.index}]: '
             f'{len(boxes)} ground-truth boxes (white); ELR IoU >= {info["elr_iou_thr"]:g} '
             f'with the {info["prior"]}')
    draw(rgb, boxes, maps, loss, args.out, title)
    print(f'written: {args.out}')
    return maps


if __name__ == '__main__':
    main()
