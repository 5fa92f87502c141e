from . import controllers
from .metrics import ensure_token


def post_init_hook(env):
    ensure_token(env)
