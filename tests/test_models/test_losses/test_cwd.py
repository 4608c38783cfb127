"""Channel-wise distillation loss and the attention / projector connectors."""
import math

import pytest
import torch
from mmrazor.registry import MODELS

from kd_plugins.models import (KDChannelAttention, KDChannelProjector, KDChannelWiseDivergence,
                               KDSpatialAttention)


@pytest.fixture(autouse=True)
def mmrazor_scope():
    """Other tests leave MMYOLO as the default scope; these build from MMRazor's registry."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmrazor'):
        yield


def cwd(**kw):
    return MODELS.build(dict(type='KDChannelWiseDivergence', **kw))


def test_golden_tau_reading():
    # One channel, two positions: T = softmax([0, ln 3]) = [1/4, 3/4], S = [1/2, 1/2].
    s = torch.zeros(1, 1, 1, 2)
    t = torch.tensor([0., math.log(3.)]).view(1, 1, 1, 2)
    expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)  # 0.130812
    assert cwd(tau=1.0)(s, t).item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(0.130812, abs=1e-6)
    # tau = 2 softens: T = softmax([0, ln(3)/2]) and the loss is multiplied by 4.
    p = 1 / (1 + math.sqrt(3.))
    soft = p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p))
    assert cwd(tau=2.0)(s, t).item() == pytest.approx(4 * soft, abs=1e-6)
    assert 4 * soft == pytest.approx(0.145363, abs=1e-6)


def test_golden_sqrt_hw_reading():
    # 2x2 map divided by sqrt(4) = 2: T = [1, 1, 1, 3] / 6, S uniform.
    s = torch.zeros(1, 1, 2, 2)
    t = torch.tensor([0., 0., 0., 2 * math.log(3.)]).view(1, 1, 2, 2)
    kl = 0.5 * math.log(2 / 3) + 0.5 * math.log(2)  # 0.143841
    loss = cwd(tau=0.5, normalize='sqrt_hw')
    assert loss(s, t).item() == pytest.approx(0.25 * kl, abs=1e-6)
    assert 0.25 * kl == pytest.approx(0.035960, abs=1e-6)


def test_golden_channel_axis_reading():
    # Two channels at one position: per position T = softmax([0, ln 3]) over the channels,
    # S uniform; the spatial reading has one position per channel, so it sees nothing.
    s = torch.zeros(1, 2, 1, 1)
    t = torch.tensor([0., math.log(3.)]).view(1, 2, 1, 1)
    assert cwd(tau=1.0)(s, t).item() == pytest.approx(0.0, abs=1e-7)
    assert cwd(tau=1.0, softmax_axis='channel')(s, t).item() == pytest.approx(0.130812, abs=1e-6)
    # In general the channel reading is the spatial one on maps with C and H*W swapped (whose
    # normaliser, N x their channel count, is then N*H*W).
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 3, 4, 5, generator=g), torch.randn(2, 3, 4, 5, generator=g)
    swap = (lambda x: x.permute(0, 2, 3, 1).reshape(2, 20, 3, 1))
    channel = cwd(tau=0.5, softmax_axis='channel')(s, t)
    spatial = cwd(tau=0.5)(swap(s), swap(t))
    assert channel.item() == pytest.approx(spatial.item(), rel=1e-6)
    assert channel.item() > 0.1
    with pytest.raises(ValueError, match='softmax_axis'):
        cwd(softmax_axis='width')


def test_zero_for_identical_inputs_and_batch_channel_mean():
    x = torch.randn(3, 5, 4, 6)
    assert cwd(tau=0.5)(x, x.clone()).item() == pytest.approx(0.0, abs=1e-6)
    # Averaged over N and C: stacking the same pair twice gives the same loss.
    s, t = torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 3)
    one = cwd()(s, t)
    assert cwd()(torch.cat([s, s]), torch.cat([t, t])).item() == pytest.approx(one.item(),
                                                                               rel=1e-6)


def test_tau_squared_scaling_in_sqrt_hw_reading():
    s, t = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    base = cwd(tau=1.0, normalize='sqrt_hw')(s, t)
    assert cwd(tau=3.0, normalize='sqrt_hw')(s, t).item() == pytest.approx(9 * base.item(),
                                                                           rel=1e-6)
    assert cwd(tau=1.0, loss_weight=0.5, normalize='sqrt_hw')(s, t).item() == pytest.approx(
        0.5 * base.item(), rel=1e-6)


@pytest.mark.parametrize('tau', [0.5, 1.0, 4.0])
def test_tau_reading_equals_mmrazor_cwd(tau):
    from mmrazor.models.losses import ChannelWiseDivergence
    torch.manual_seed(0)
    s, t = torch.randn(2, 8, 5, 7), torch.randn(2, 8, 5, 7) * 3
    ours = cwd(tau=tau, loss_weight=2.0)(s, t)
    theirs = ChannelWiseDivergence(tau=tau, loss_weight=2.0)(s, t)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)


def test_levels_are_summed():
    s = [torch.randn(1, 2, 4, 4), torch.randn(1, 2, 2, 2)]
    t = [torch.randn(1, 2, 4, 4), torch.randn(1, 2, 2, 2)]
    loss = cwd()
    assert loss(s, t).item() == pytest.approx((loss(s[0], t[0]) + loss(s[1], t[1])).item())


def _chain(cfgs):
    """MMRazor's own chain: a list of connectors under one name, applied in order."""
    distiller = MODELS.build(dict(type='KDConfigurableDistiller', connectors=dict(s0=cfgs)))
    return distiller.connectors['s0']


def test_gradients_reach_student_and_connectors_never_teacher():
    student = torch.randn(2, 4, 6, 6, requires_grad=True)
    teacher = torch.randn(2, 8, 6, 6, requires_grad=True)
    chain = _chain([
        dict(type='KDChannelProjector', student_channels=4, teacher_channels=8),
        dict(type='KDChannelAttention', channels=8, reduction=2),
        dict(type='KDSpatialAttention', kernel_size=3)])
    cwd(tau=0.5)(chain(student), teacher).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None
    for name, p in chain.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def _optimise_attention_only(teacher_side_too):
    torch.manual_seed(0)
    student = torch.randn(2, 16, 8, 8)  # the student's own weights are frozen: fixed maps
    teacher = torch.randn(2, 16, 8, 8) * 2
    att = _chain([dict(type='KDChannelAttention', channels=16),
                  dict(type='KDSpatialAttention')])
    loss = cwd(tau=1.0)
    opt = torch.optim.Adam(att.parameters(), lr=0.05)
    first = None
    for _ in range(300):
        value = loss(att(student), att(teacher) if teacher_side_too else teacher)
        first = value.item() if first is None else first
        opt.zero_grad()
        value.backward()
        opt.step()
    return first, value.item()


def test_attention_alone_cannot_minimise_the_loss():
    first, last = _optimise_attention_only(teacher_side_too=False)
    assert last > 0.8 * first > 1.0


def test_attention_on_both_sides_would_collapse():
    # The design this project avoids (see attention_connector.py): a shared mask flattens both
    # distributions and the loss vanishes without the student learning anything.
    first, last = _optimise_attention_only(teacher_side_too=True)
    assert last < 1e-3 * first


def test_attention_shapes_and_ranges():
    x = torch.randn(2, 6, 5, 7)
    sa, ca = KDSpatialAttention(kernel_size=3), KDChannelAttention(6, reduction=3)
    m, w = sa.mask(x), ca.weights(x)
    assert m.shape == (2, 1, 5, 7) and w.shape == (2, 6, 1, 1)
    assert 0 < m.min() and m.max() < 1 and 0 < w.min() and w.max() < 1
    assert torch.allclose(sa(x), x * m) and torch.allclose(ca(x), x * w)
    assert KDChannelProjector(6, 10)(x).shape == (2, 10, 5, 7)


def test_bad_inputs_say_how_to_fix():
    with pytest.raises(ValueError, match='spatial size'):
        cwd()(torch.randn(1, 2, 4, 4), torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match="KDChannelProjector', student_channels=2, "
                       'teacher_channels=4'):
        cwd()(torch.randn(1, 2, 4, 4), torch.randn(1, 4, 4, 4))
    with pytest.raises(ValueError, match='tau must be > 0'):
        KDChannelWiseDivergence(tau=0)
    with pytest.raises(ValueError, match='loss_weight must be >= 0'):
        KDChannelWiseDivergence(loss_weight=-1)
    with pytest.raises(ValueError, match="normalize must be 'tau' or 'sqrt_hw'"):
        KDChannelWiseDivergence(normalize='paper')
    with pytest.raises(ValueError, match='channels'):
        KDChannelAttention(8)(torch.randn(1, 4, 2, 2))
    with pytest.raises(ValueError, match='kernel_size must be odd'):
        KDSpatialAttention(kernel_size=4)


def test_names_do_not_shadow_mmrazor():
    from mmrazor.models.losses import ChannelWiseDivergence
    assert MODELS.get('ChannelWiseDivergence') is ChannelWiseDivergence
    for name in ('KDChannelWiseDivergence', 'KDSpatialAttention', 'KDChannelAttention',
                 'KDChannelProjector'):
        assert MODELS.get(name).__module__.startswith('kd_plugins.')


@pytest.mark.parametrize('cfg,message', [
    (dict(type='KDConfigurableDistiller',
          connectors=dict(s0=[dict(type='KDChannelAttention', channels=2),
                              dict(type='KDSpatialAtention')])),
     "connector 's0' [1]: type 'KDSpatialAtention' is not registered; closest: "
     "KDSpatialAttention"),
    (dict(type='KDConfigurableDistiller',
          connectors=dict(s0=dict(type='KDChanelProjector', student_channels=1,
                                  teacher_channels=2))),
     "connector 's0': type 'KDChanelProjector' is not registered; closest: KDChannelProjector"),
    (dict(type='KDConfigurableDistiller',
          distill_losses=dict(loss_cwd=dict(type='KDChannelWiseDivergense'))),
     "distillation loss 'loss_cwd': type 'KDChannelWiseDivergense' is not registered; "
     "closest: KDChannelWiseDivergence"),
    (dict(type='KDConfigurableDistiller', distill_losses=dict(loss_x=dict(type='Xyzzy'))),
     "distillation loss 'loss_x': type 'Xyzzy' is not registered; kd_plugins registers "
     "KDChannelAttention, KDChannelProjector,"),
])
def test_unknown_connector_attention_or_loss_type_names_the_closest(cfg, message):
    from kd_plugins.models.registry_check import UnknownTypeError
    with pytest.raises(UnknownTypeError) as info:
        MODELS.build(cfg)
    assert str(info.value).startswith(message), str(info.value)


def test_teacher_attention_golden():
    # One image, two channels, two positions, attention_tau 1: teacher channel 0 = [0, 2],
    # channel 1 = [0, 0], student all zero. Masks: spatial 2 softmax([0, 1]) (mean |t| over
    # channels per position), channel 2 softmax([1, 0]) (mean |t| over positions per channel).
    e = math.e
    spatial = [2 / (1 + e), 2 * e / (1 + e)]  # [0.5379, 1.4621]
    channel = [2 * e / (1 + e), 2 / (1 + e)]
    t = torch.tensor([[[[0., 2.]], [[0., 0.]]]])
    s = torch.zeros_like(t)
    # both maps times the spatial mask; channel 0's teacher distribution softmax([0, 2 x 1.4621])
    # against a uniform student; channel 1 is flat on both sides; weights = the channel mask
    z = 2 * spatial[1]
    p = [1 / (1 + math.exp(z)), math.exp(z) / (1 + math.exp(z))]
    kl0 = sum(q * math.log(2 * q) for q in p)
    expected = (channel[0] * kl0 + channel[1] * 0.0) / 2  # / (N x C)
    loss = cwd(tau=1.0, teacher_attention=True, attention_tau=1.0)
    assert loss(s, t).item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(0.359527, abs=1e-6)
    # without the masks: softmax([0, 2]) against uniform, plain mean over the two channels
    q = [1 / (1 + e**2), e**2 / (1 + e**2)]
    plain = sum(x * math.log(2 * x) for x in q) / 2
    assert cwd(tau=1.0)(s, t).item() == pytest.approx(plain, abs=1e-6)
    sm, cm = loss.teacher_masks(t)
    assert sm.flatten().tolist() == pytest.approx(spatial, abs=1e-6)
    assert cm.flatten().tolist() == pytest.approx(channel, abs=1e-6)


@pytest.mark.parametrize('axis', ['spatial', 'channel'])
def test_teacher_attention_properties(axis):
    g = torch.Generator().manual_seed(0)
    t = torch.randn(2, 4, 3, 5, generator=g) * 2
    s = torch.randn(2, 4, 3, 5, generator=g, requires_grad=True)
    loss = cwd(tau=0.5, teacher_attention=True, softmax_axis=axis, attention_tau=0.5)
    sm, cm = loss.teacher_masks(t)
    assert sm.shape == (2, 1, 3, 5) and cm.shape == (2, 4, 1, 1)
    assert sm.mean(dim=(1, 2, 3)).tolist() == pytest.approx([1, 1], abs=1e-6)
    assert cm.mean(dim=(1, 2, 3)).tolist() == pytest.approx([1, 1], abs=1e-6)
    assert (sm > 0).all() and (cm > 0).all()
    value = loss(s, t)
    assert value.item() > 0
    assert loss(t.clone(), t).item() == pytest.approx(0.0, abs=1e-6)
    # masks made from the teacher alone: a student change leaves them, a teacher change moves
    # them, and no gradient reaches the teacher
    teacher = t.clone().requires_grad_()
    loss(s, teacher).backward()
    assert teacher.grad is None and s.grad is not None and s.grad.abs().sum() > 0
    # a teacher of equal magnitude everywhere gives masks of 1: the plain loss
    flat = torch.where(t > 0, 1.5, -1.5)
    assert loss(s, flat).item() == pytest.approx(
        cwd(tau=0.5, softmax_axis=axis)(s, flat).item(), rel=1e-5)
    with pytest.raises(ValueError, match='attention_tau must be > 0'):
        cwd(teacher_attention=True, attention_tau=0)
