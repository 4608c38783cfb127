"""MMRazor's ConfigurableDistiller with errors that name the loss and the recorders involved."""
from mmrazor.models.distillers import ConfigurableDistiller
from mmrazor.registry import MODELS


@MODELS.register_module()
class KDConfigurableDistiller(ConfigurableDistiller):
    """Same config and behaviour as ``ConfigurableDistiller``; a loss that rejects its inputs
    (e.g. student and teacher maps of different spatial size) raises an error that also names
    the loss, the recorders and the shapes they delivered."""

    def compute_distill_losses(self):
        losses = dict()
        for loss_name, forward_mappings in self.loss_forward_mappings.items():
            kwargs = {key: self.get_record(**record) for key, record in forward_mappings.items()}
            try:
                losses[loss_name] = self.distill_losses[loss_name](**kwargs)
            except (ValueError, TypeError, RuntimeError) as e:
                parts = []
                for key, record in forward_mappings.items():
                    side = 'student' if record.get('from_student') else 'teacher'
                    shape = getattr(kwargs[key], 'shape', None)
                    via = f" via connector '{record['connector']}'" if record.get('connector') \
                        else ''
                    parts.append(f"{key} = {side} recorder '{record['recorder']}'{via}, shape "
                                 f'{tuple(shape) if shape is not None else type(kwargs[key])}')
                raise type(e)(f"distillation loss '{loss_name}' failed: {e} [" +
                              '; '.join(parts) + ']') from e
        return losses
