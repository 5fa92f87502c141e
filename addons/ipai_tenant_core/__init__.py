from . import server
from . import models
from . import wizards
