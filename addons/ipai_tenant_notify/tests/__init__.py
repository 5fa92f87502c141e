from . import test_webhook_delivery, test_webhook_events, test_webhook_security
