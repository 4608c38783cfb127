from .kd_configurable_distiller import KDConfigurableDistiller

__all__ = ['KDConfigurableDistiller']
