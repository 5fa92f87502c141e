from . import upgrade_probe
