"""One settings module for the hub and every node.

Everything that differs between deployments comes from the environment
(see docs/operations.md); the defaults give a working node on SQLite.
"""

import os
import secrets
from pathlib import Path

import dj_database_url

from tongban.log_safety import logging_config

BASE_DIR = Path(__file__).resolve().parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


# --- role -------------------------------------------------------------------
TONGBAN_NODE = env("TONGBAN_NODE", "sh")
TONGBAN_ROLE = "hub" if TONGBAN_NODE == "hub" else env("TONGBAN_ROLE", "node")
if TONGBAN_ROLE not in ("hub", "node"):
    raise RuntimeError("TONGBAN_ROLE must be 'hub' or 'node'")
TONGBAN_DATA_DIR = Path(env("TONGBAN_DATA_DIR", str(Path.cwd() / "var" / TONGBAN_NODE)))
TONGBAN_BASE_URL = env("TONGBAN_BASE_URL", "http://127.0.0.1:8001").rstrip("/")
TONGBAN_HUB_URL = env("TONGBAN_HUB_URL", "http://127.0.0.1:8000").rstrip("/")
TONGBAN_KEY_DIR = Path(env("TONGBAN_KEY_DIR", str(TONGBAN_DATA_DIR / "keys")))
TONGBAN_MEDIA_DIR = Path(env("TONGBAN_MEDIA_DIR", str(TONGBAN_DATA_DIR / "media")))
# Global configuration: how long a published configuration stays valid, and
# how often nodes poll the hub for a newer one.
TONGBAN_CONFIG_VALIDITY_SECONDS = env_int("TONGBAN_CONFIG_VALIDITY_SECONDS", 24 * 3600)
TONGBAN_CONFIG_POLL_SECONDS = env_int("TONGBAN_CONFIG_POLL_SECONDS", 30)
# Exchange: envelope lifetime, delivery timeout, backoff.
TONGBAN_ENVELOPE_TTL_SECONDS = env_int("TONGBAN_ENVELOPE_TTL_SECONDS", 7 * 24 * 3600)
TONGBAN_EXCHANGE_TIMEOUT_SECONDS = env_int("TONGBAN_EXCHANGE_TIMEOUT_SECONDS", 15)
TONGBAN_BACKOFF_BASE_SECONDS = float(env("TONGBAN_BACKOFF_BASE_SECONDS", "1"))
TONGBAN_BACKOFF_MAX_SECONDS = float(env("TONGBAN_BACKOFF_MAX_SECONDS", "300"))
TONGBAN_DELIVERY_LEASE_SECONDS = env_int("TONGBAN_DELIVERY_LEASE_SECONDS", 60)
TONGBAN_WORKER_IDLE_SECONDS = float(env("TONGBAN_WORKER_IDLE_SECONDS", "0.5"))
# Identity: SMS gateway, one-time codes, agent authorizations
TONGBAN_SMS_BACKEND = env("TONGBAN_SMS_BACKEND", "tongban.identity.sms.ConsoleBackend")
TONGBAN_OTP_TTL_SECONDS = env_int("TONGBAN_OTP_TTL_SECONDS", 300)
TONGBAN_OTP_MAX_ATTEMPTS = env_int("TONGBAN_OTP_MAX_ATTEMPTS", 5)
TONGBAN_OTP_MIN_INTERVAL_SECONDS = env_int("TONGBAN_OTP_MIN_INTERVAL_SECONDS", 60)
TONGBAN_OTP_MAX_PER_HOUR = env_int("TONGBAN_OTP_MAX_PER_HOUR", 5)
# E-licences: how long a 亮证 QR code stays valid, how often verifiers refresh
# the issuing nodes' status lists, and how often an issuer re-signs its own list.
TONGBAN_PRESENTATION_TTL_SECONDS = env_int("TONGBAN_PRESENTATION_TTL_SECONDS", 180)
TONGBAN_STATUS_LIST_REFRESH_SECONDS = env_int("TONGBAN_STATUS_LIST_REFRESH_SECONDS", 300)
# the worker signs a checkpoint of the audit log this often (docs/exchange-protocol.md §16)
TONGBAN_AUDIT_CHECKPOINT_SECONDS = env_int("TONGBAN_AUDIT_CHECKPOINT_SECONDS", 120)
# the nodes asked to cosign this node's checkpoints (comma-separated; §16.5): by default the
# hub and the next province (sh→js→zj→ah→sh); the hub's own log by sh and js
_WITNESSES = {"hub": "sh,js", "sh": "hub,js", "js": "hub,zj", "zj": "hub,ah", "ah": "hub,sh"}
_witnesses = env("TONGBAN_AUDIT_WITNESSES", _WITNESSES.get(TONGBAN_NODE, "hub")) or ""
TONGBAN_AUDIT_WITNESSES = [w.strip() for w in _witnesses.split(",") if w.strip()]
# a signed list's hard expiry; how stale a list may be for a licence type is the
# type's own status_max_age_seconds (1 hour to 7 days), checked against its issue time
TONGBAN_STATUS_LIST_TTL_SECONDS = env_int("TONGBAN_STATUS_LIST_TTL_SECONDS", 7 * 24 * 3600)
TONGBAN_CONSENT_VALIDITY_DAYS = env_int("TONGBAN_CONSENT_VALIDITY_DAYS", 30)
# Materials
TONGBAN_MATERIAL_MAX_BYTES = env_int("TONGBAN_MATERIAL_MAX_BYTES", 10 * 1024 * 1024)


def _secret_from_file(name: str, nbytes: int) -> str:
    """A per-deployment secret kept in the data directory (development default)."""
    path = TONGBAN_KEY_DIR / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


SECRET_KEY = env("TONGBAN_SECRET_KEY") or _secret_from_file("django-secret.txt", 32)
# Personal identifiers: SM4 keys "kid:hex32,kid:hex32" (first = current) and
# the SM3-HMAC key of the blind index.
TONGBAN_PII_KEYS = env("TONGBAN_PII_KEYS") or ("k1:" + _secret_from_file("pii-sm4.txt", 16))
TONGBAN_BLIND_INDEX_KEY = env("TONGBAN_BLIND_INDEX_KEY") or _secret_from_file("pii-index.txt", 32)


def _rsa_key_from_file(name: str) -> str:
    """The OpenID Connect signing key (RSA, as OIDC relying parties expect RS256)."""
    path = TONGBAN_KEY_DIR / name
    if not path.exists():
        if env("TONGBAN_GENERATE_KEYS", "1") != "1":
            raise RuntimeError(
                f"{path} is missing: create the keys once with TONGBAN_GENERATE_KEYS=1 tongban prepare-node"
            )
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        path.parent.mkdir(parents=True, exist_ok=True)
        pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    return path.read_text()


OIDC_RSA_PRIVATE_KEY = _rsa_key_from_file("oidc-rsa.pem")
OAUTH2_PROVIDER = {
    # Every node is an OpenID Connect provider for its own residents.
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": OIDC_RSA_PRIVATE_KEY,
    "OIDC_ISS_ENDPOINT": TONGBAN_BASE_URL + "/o",
    "PKCE_REQUIRED": True,
    "SCOPES": {"openid": "OpenID Connect", "profile": "姓名、身份证号、实名等级"},
    "DEFAULT_SCOPES": ["openid"],
    "OAUTH2_VALIDATOR_CLASS": "tongban.identity.oidc_provider.ResidentClaimsValidator",
    "ACCESS_TOKEN_EXPIRE_SECONDS": 300,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],  # production: https only
    "ALLOW_URI_WILDCARDS": False,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # follow the OAuth 2.0 Security BCP (RFC 9700) everywhere
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}
# An upstream identity provider (e.g. the national government service platform),
# optional, per node: discovery from its issuer URL.
TONGBAN_UPSTREAM_OIDC = {
    "issuer": env("TONGBAN_UPSTREAM_OIDC_ISSUER", ""),
    "client_id": env("TONGBAN_UPSTREAM_OIDC_CLIENT_ID", ""),
    "client_secret": env("TONGBAN_UPSTREAM_OIDC_CLIENT_SECRET", ""),
    "name": env("TONGBAN_UPSTREAM_OIDC_NAME", "国家政务服务平台"),
    "assurance": env("TONGBAN_UPSTREAM_OIDC_ASSURANCE", "L3"),
}

DEBUG = env("TONGBAN_DEBUG", "0") == "1"
ALLOWED_HOSTS = (env("TONGBAN_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver") or "").split(
    ","
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves its Swagger UI assets locally (no CDN)
    "oauth2_provider",
    "axes",
    "tongban.gm",
    "tongban.directory",
    "tongban.catalog",
    "tongban.identity",
    "tongban.exchange",
    "tongban.audit",
    "tongban.documents",
    "tongban.cases",
    "tongban.licences",
    "tongban.sharing",
    "tongban.notices",
    "tongban.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "tongban.portal.nul_guard.RefuseNulCharactersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tongban.urls"
WSGI_APPLICATION = "tongban.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tongban.portal.context.node_context",
            ],
        },
    }
]

# --- database ---------------------------------------------------------------
_default_db = f"sqlite:///{TONGBAN_DATA_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(env("DATABASE_URL", _default_db), conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # Writers take the lock at BEGIN: no deadlocked upgrades under load.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too (not shared-cache memory), so locking behaves as in production.
    DATABASES["default"]["TEST"] = {"NAME": str(TONGBAN_DATA_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # lockout after repeated failures
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes): lock an account name after 5 failures for 15 minutes.
AXES_FAILURE_LIMIT = env_int("TONGBAN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("TONGBAN_LOGIN_LOCKOUT_MINUTES", 15) / 60  # hours
# Locked per account name, whatever the address: rotating IPs, agents or cookies does not
# reset the count. Not per IP address: window halls share one office NAT, and a few
# typos by one clerk must not lock the whole hall. (Hence axes.W006 is silenced.)
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = [
    "axes.W006",
    # covering-index columns are a PostgreSQL optimization; SQLite builds the index without them
    "models.W040",
]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tongban.identity.lockout.lockout_response"
AXES_VERBOSE = False
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:home"

# --- i18n ---------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Served from the apps' static folders (whitenoise finders); collectstatic only
# for production (settings_production sets STATIC_ROOT).
STATIC_ROOT = env("TONGBAN_STATIC_ROOT")
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False

# --- security -----------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Session cookies are per node: several nodes on one host must not share one.
SESSION_COOKIE_NAME = f"tongban_{TONGBAN_NODE}_session"
CSRF_COOKIE_NAME = f"tongban_{TONGBAN_NODE}_csrftoken"
LANGUAGE_COOKIE_NAME = "tongban_language"

from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024

# Logs: stderr, one line per record, personal identifiers masked and control
# characters escaped; security events also as one JSON object per line on their
# own handler — stderr, or the file TONGBAN_SECURITY_LOG (tongban.log_safety).
TONGBAN_SECURITY_LOG = env("TONGBAN_SECURITY_LOG", "")
LOGGING = logging_config(
    node=TONGBAN_NODE,
    level=env("TONGBAN_LOG_LEVEL", "INFO"),
    security_log=TONGBAN_SECURITY_LOG,
)
