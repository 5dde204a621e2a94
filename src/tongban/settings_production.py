"""Production settings: HTTPS only, secrets from the environment.

Use with DJANGO_SETTINGS_MODULE=tongban.settings_production. Every secret
must come from the environment (TONGBAN_SECRET_KEY, TONGBAN_PII_KEYS,
TONGBAN_BLIND_INDEX_KEY); nothing is generated on disk.
"""

import os

for _name in ("TONGBAN_SECRET_KEY", "TONGBAN_PII_KEYS", "TONGBAN_BLIND_INDEX_KEY"):
    if not os.environ.get(_name):
        raise RuntimeError(f"{_name} must be set in production")

# Keys are created deliberately (TONGBAN_GENERATE_KEYS=1 tongban keys create), never on the fly.
os.environ.setdefault("TONGBAN_GENERATE_KEYS", "0")

from tongban.settings import *  # noqa: E402,F403

if TONGBAN_SMS_BACKEND == "tongban.identity.sms.ConsoleBackend":  # noqa: F405
    raise RuntimeError(
        "set TONGBAN_SMS_BACKEND to the province's SMS gateway: the console backend "
        "would write one-time codes into the logs"
    )

DEBUG = False
SECURE_SSL_REDIRECT = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
STATIC_ROOT = env("TONGBAN_STATIC_ROOT", str(TONGBAN_DATA_DIR / "static"))  # noqa: F405
WHITENOISE_USE_FINDERS = False
OAUTH2_PROVIDER = {  # noqa: F405
    **OAUTH2_PROVIDER,  # noqa: F405
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
}
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]
