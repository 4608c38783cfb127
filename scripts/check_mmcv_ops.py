"""Does the installed mmcv work here? ``python scripts/check_mmcv_ops.py`` exits 0 when mmcv is
2.0.1 and its compiled NMS gives the right answer on every device torch sees: the CPU, and CUDA
where torch sees a GPU. Otherwise it names each problem on stderr and exits 1.

``scripts/setup_env.sh`` runs it to accept an installed, cached or prebuilt mmcv wheel and to
check the one it builds. The CUDA check matters on a GPU machine: a wheel built without CUDA
kernels (the CPU wheels of ``../shared/wheels``, a cache filled before the GPU was visible) or for
another GPU architecture imports and passes on the CPU, then fails at the first validation on the
GPU (MMDet's NMS runs where the detections are).

Runs as a file, before kd_plugins is installed: it imports only torch and mmcv.
"""
import sys
from typing import List

MMCV_VERSION = '2.0.1'


def devices() -> List[str]:
    """The devices to check: ``'cpu'``, and ``'cuda'`` when torch sees a GPU."""
    import torch
    return ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


def problems(on: List[str]) -> List[str]:
    """What is wrong with the installed mmcv on the devices ``on`` (empty: nothing)."""
    try:
        import mmcv
        import torch
        from mmcv.ops import nms
    except Exception as e:  # a missing package or an _ext that does not load with this torch
        return [f'import: {type(e).__name__}: {e}'.splitlines()[0]]
    if mmcv.__version__ != MMCV_VERSION:
        return [f'mmcv {mmcv.__version__} installed, kd_plugins needs {MMCV_VERSION}']
    # two overlapping boxes (IoU 0.81) and one apart: NMS at 0.5 keeps the 1st and the 3rd
    boxes = [[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]]
    found = []
    for device in on:
        try:
            _, keep = nms(torch.tensor(boxes, device=device),
                          torch.tensor([0.9, 0.8, 0.7], device=device), 0.5)
            keep = keep.tolist()
        except Exception as e:
            found.append(f'nms on {device}: {type(e).__name__}: {e}'.splitlines()[0])
            continue
        if keep != [0, 2]:
            found.append(f'nms on {device} kept boxes {keep}, expected [0, 2]')
    return found


if __name__ == '__main__':
    try:
        found = problems(devices())
    except Exception as e:  # no torch at all
        found = [f'{type(e).__name__}: {e}'.splitlines()[0]]
    for problem in found:
        print(f'mmcv check: {problem}', file=sys.stderr)
    sys.exit(1 if found else 0)
