from . import models, server, wizards
