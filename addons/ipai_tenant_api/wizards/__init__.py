from . import ipai_api_key_generate
