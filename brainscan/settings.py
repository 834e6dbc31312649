"""brainscan settings: one module, driven by the environment.

The default is embedded (SQLite under var/, Celery tasks run in-process, files under var/):
clone, install, migrate, runserver. `BRAINSCAN_PRODUCTION=True` switches to the production
profile, which needs MySQL, Redis and a real secret key and refuses to start without them.
`.env.example` lists every variable.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from brainscan.env import env_bool, env_int, env_list, env_secret, require

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.getenv("VAR_DIR", BASE_DIR / "var"))

PRODUCTION = env_bool("BRAINSCAN_PRODUCTION", default=False)
DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env_secret("SECRET_KEY", default=DEV_SECRET_KEY)
# Off unless asked for, in the embedded default too: Django's debug pages list every URL
# pattern, settings and tracebacks to whoever asks, and `make run` may be reached from another
# machine (runserver bound to 0.0.0.0). DEBUG=True is for a developer at their own machine,
# and even then only a loopback client sees the debug pages (brainscan/debugpages.py).
DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_NAME = os.getenv("SITE_NAME", "brainscan")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "accounts",
    "predictions",
    "studies",
    "api",
    "pacs",
    "audit",
]

MIDDLEWARE = [
    "brainscan.debugpages.LocalDebugPagesMiddleware",  # under DEBUG: debug pages for loopback only
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "brainscan.headers.SecurityHeadersMiddleware",  # CSP and no-store (static files excepted)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.sessions.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.RequireReviewerMFAMiddleware",
]

ROOT_URLCONF = "brainscan.urls"
WSGI_APPLICATION = "brainscan.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "brainscan.context_processors.site",
            ],
        },
    },
]

# --- Database: SQLite by default, MySQL/MariaDB with DB=mysql -------------------------------
DB = os.getenv("DB", "sqlite")
DATABASES: dict[str, dict[str, Any]]
if DB == "mysql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.getenv("DB_NAME", "brainscan"),
            "USER": os.getenv("DB_USER", "brainscan"),
            "PASSWORD": env_secret("DB_PASSWORD"),
            "HOST": os.getenv("DB_HOST", "127.0.0.1"),
            "PORT": os.getenv("DB_PORT", "3306"),
            "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                "charset": "utf8mb4",
                "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
                "isolation_level": "read committed",
            },
            "TEST": {"NAME": os.getenv("DB_TEST_NAME", "test_brainscan"), "CHARSET": "utf8mb4"},
        }
    }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.getenv("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (login rate limits live here; shared across processes only with Redis) --------
REDIS_URL = os.getenv("REDIS_URL", "")
if REDIS_URL:
    # Acts as an empty cache while Redis is down (brainscan/cache.py), with short timeouts so
    # a hung Redis cannot hold a request either.
    CACHES = {
        "default": {
            "BACKEND": "brainscan.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Accounts ----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # NIST SP 800-63B: length, and no password from a list of common/breached ones (Django's
    # list of 20,000), rather than composition rules.
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "predictions:dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Mandatory verification is what lets allauth's enumeration prevention work at sign-up: an
# address that already has an account gets the same "check your mail" answer (and its owner
# a mail saying so) instead of "already registered". With "optional" or "none" sign-up tells
# anyone which addresses have accounts, so production refuses them.
ACCOUNT_EMAIL_VERIFICATION = os.getenv("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_SESSION_REMEMBER = None
# Sessions end after SESSION_IDLE_TIMEOUT seconds without activity (0: never) and, however
# active, SESSION_MAX_AGE seconds after sign-in (accounts/sessions.py).
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 30 * 60)
SESSION_COOKIE_AGE = env_int("SESSION_MAX_AGE", 12 * 3600)
# allauth's limits, written out so they are visible and testable: failed logins per IP and
# per account, password resets and sign-ups.
ACCOUNT_RATE_LIMITS = {
    "login_failed": os.getenv("LOGIN_RATE_LIMIT", "10/m/ip,5/5m/key"),
    "login": "30/m/ip",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = SITE_NAME
# Reviewers see every clinician's scans: with True they must set up TOTP before anything else.
REQUIRE_MFA_FOR_REVIEWERS = env_bool("REQUIRE_MFA_FOR_REVIEWERS", default=False)
# Proxies in front of the app that append to X-Forwarded-For (nginx: 1); 0 trusts REMOTE_ADDR
# and ignores the header. The one setting for the client's address (brainscan/clientip.py):
# the audit log, allauth's sign-in/sign-up rate limits and the API throttles all read it.
NUM_PROXIES = env_int("NUM_PROXIES", 0)
ALLAUTH_TRUSTED_PROXY_COUNT = NUM_PROXIES  # allauth's own reading, should anything bypass ours

# --- REST API (api/) -----------------------------------------------------------------------
# Requests per API token, as DRF writes rates: "120/min", "2000/hour", "10/s".
API_RATE_LIMIT = os.getenv("API_RATE_LIMIT", "120/min")
REST_FRAMEWORK = {"NUM_PROXIES": NUM_PROXIES}  # DRF's default get_ident; ours reads NUM_PROXIES
# `POST /api/analyze?wait=N` holds a web worker for up to min(N, this) seconds (N <= 30).
API_MAX_WAIT_SECONDS = env_int("API_MAX_WAIT_SECONDS", 30)

# --- Celery --------------------------------------------------------------------------------
# No broker configured: tasks run in-process (eagerly), so the embedded default needs nothing.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # status lives on the Prediction row, not in a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
# Redis redelivers an unacknowledged message after this; it must exceed the longest task.
# The socket timeouts and the short publish retry bound how long an upload waits for a broker
# that is down or hung (15 s at worst, measured: a publish on a pooled connection waits out
# socket_timeout, then the one retry reconnects twice, each handshake waiting it out too): its
# rows stay PENDING and the recovery sweep queues them once Redis is back
# (predictions.tasks.enqueue_predictions).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT * 3,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# kombu's Redis transport, except that an ack Redis never answered (hung or dropped mid-ack)
# still frees the worker's prefetch slot: with kombu's own, such a worker stops taking tasks
# for good (brainscan/broker.py). rediss:// keeps kombu's transport, which sets up its TLS.
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "brainscan.broker:Transport"
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic work, run by `celery -A brainscan beat` (one beat process per deployment).
CELERY_BEAT_SCHEDULE = {
    "purge-expired-images": {
        "task": "predictions.tasks.run_retention_purge",
        "schedule": 3600.0,  # hourly; a no-op unless SCAN_RETENTION_DAYS is set
    },
    "purge-orphan-files": {
        "task": "predictions.tasks.run_orphan_purge",
        "schedule": 86400.0,  # daily: files no row refers to, e.g. from a killed worker
    },
}

# --- Files -----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", BASE_DIR / "media"))
# Scans and heatmaps: outside STATIC_ROOT and MEDIA_ROOT, served only by views that check access.
PRIVATE_MEDIA_ROOT = Path(os.getenv("PRIVATE_MEDIA_ROOT", VAR_DIR / "private"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Without DEBUG, runserver serves no static files: whitenoise serves them from the apps'
# folders in the embedded default (from STATIC_ROOT, collected, in production).
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 25 * 1024 * 1024)
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 40_000_000)
# Pixels one request may decode, every file and DICOM frame together, checked on what each
# header declares before any pixel is decoded (a per-image limit alone let 30 PNGs of 39.7 Mpx
# in 1.1 MB hold a web thread for 11.5 s). Keep it at least MAX_IMAGE_PIXELS.
MAX_UPLOAD_PIXELS = env_int("MAX_UPLOAD_PIXELS", 64_000_000)
MAX_FILES_PER_UPLOAD = env_int("MAX_FILES_PER_UPLOAD", 100)
# Whole studies (studies/): a folder of DICOM files, a zip of one, or NIfTI volumes, refused
# from sizes and headers before any pixel is decoded (studies/reading.py).
STUDY_MAX_BYTES = env_int("STUDY_MAX_BYTES", 512 * 1024 * 1024)
STUDY_MAX_FILES = env_int("STUDY_MAX_FILES", 2000)
STUDY_MAX_SLICES = env_int("STUDY_MAX_SLICES", 1000)  # source images and frames
STUDY_MAX_VOXELS = env_int("STUDY_MAX_VOXELS", 100_000_000)  # rows x columns x frames in all
STUDY_BATCH_SIZE = env_int("STUDY_BATCH_SIZE", 32)  # slices per model call in the worker
DATA_UPLOAD_MAX_NUMBER_FILES = max(MAX_FILES_PER_UPLOAD, STUDY_MAX_FILES)
# A multi-frame DICOM file is analysed frame by frame, at most this many frames per file.
MAX_DICOM_FRAMES = env_int("MAX_DICOM_FRAMES", 64)
# Scan images, overlays and heatmaps older than this many days are deleted (the result row
# stays, marked "image purged"); 0 keeps them until the clinician deletes the scan.
SCAN_RETENTION_DAYS = env_int("SCAN_RETENTION_DAYS", 0)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- DICOM network (pacs/) --------------------------------------------------------------
# `manage.py dicomlistener`: the Storage SCP that PACS and scanners push studies to. Only the
# nodes allow-listed in the admin (AE title + address) may connect.
DICOM_AE_TITLE = os.getenv("DICOM_AE_TITLE", "BRAINSCAN")
# Loopback by default; the docker-compose `dicom` service listens on all interfaces.
DICOM_BIND_ADDRESS = os.getenv("DICOM_BIND_ADDRESS", "127.0.0.1")
DICOM_PORT = env_int("DICOM_PORT", 11112)
# A study is complete when none of its instances has arrived for this many seconds.
DICOM_QUIET_SECONDS = env_int("DICOM_QUIET_SECONDS", 30)
# Received instances wait here (with their identifiers) until the study is read; private
# (0700/0600), outside MEDIA_ROOT and PRIVATE_MEDIA_ROOT; emptied once a study is submitted.
DICOM_SPOOL_ROOT = Path(os.getenv("DICOM_SPOOL_ROOT", VAR_DIR / "dicom-spool"))
# Sending results back (pacs/delivery.py): the identifiers a PACS needs to file them in the
# patient's study are the only identifying data kept, encrypted with this Fernet key (or
# several, comma-separated: the first seals, all unseal). Generate one with
#   python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
# Required in production (a real key, not derived). The embedded default derives one from
# SECRET_KEY: base64url(SHA-256(DEV_IDENTIFIERS_KEY_CONTEXT + SECRET_KEY)), stable across
# restarts, so a development database's tokens are ciphertext too.
DEV_IDENTIFIERS_KEY_CONTEXT = b"brainscan pacs identifiers v1 (development key from SECRET_KEY)"
PACS_IDENTIFIERS_KEY = env_secret("PACS_IDENTIFIERS_KEY") or base64.urlsafe_b64encode(
    hashlib.sha256(DEV_IDENTIFIERS_KEY_CONTEXT + SECRET_KEY.encode("utf-8")).digest()
).decode("ascii")
# They are deleted once the results were delivered, and in any case after this many hours
# (delivered or not; `pacs.tasks.purge_return_identifiers`, hourly in beat).
PACS_IDENTIFIERS_RETENTION_HOURS = env_int("PACS_IDENTIFIERS_RETENTION_HOURS", 72)
# C-STORE attempts per delivery, the first retry after PACS_SEND_RETRY_SECONDS, then doubling
# (30 s, 1 min, 2 min, ... about 2 h for 8 attempts); then the delivery is marked failed.
PACS_SEND_MAX_ATTEMPTS = env_int("PACS_SEND_MAX_ATTEMPTS", 8)
PACS_SEND_RETRY_SECONDS = env_int("PACS_SEND_RETRY_SECONDS", 30)
PACS_SEND_TIMEOUT_SECONDS = env_int("PACS_SEND_TIMEOUT_SECONDS", 30)  # per network step
# Key images sent back: the flagged slices (or, when none is flagged, the driving ones), at most.
PACS_MAX_KEY_IMAGES = env_int("PACS_MAX_KEY_IMAGES", 24)

# --- The model -------------------------------------------------------------------------------
MODEL_PATH = Path(os.getenv("MODEL_PATH", BASE_DIR / "ml" / "artifacts" / "brainscan.keras"))
# A study's slices through the network body in bfloat16 (the head, Grad-CAM and every single
# slice stay float32): "auto" (default) where the CPU computes bfloat16 itself, "1", "0".
# Study-slice probabilities then differ from a single-slice analysis by up to ~0.008.
TF_BATCH_BFLOAT16 = os.getenv("BRAINSCAN_TF_BATCH_BFLOAT16", "auto")
# A prediction still RUNNING after this was claimed by a worker that died; it may be retried.
PREDICTION_STALE_AFTER_SECONDS = env_int(
    "PREDICTION_STALE_AFTER_SECONDS", CELERY_TASK_TIME_LIMIT * 2
)
PREDICTION_MAX_ATTEMPTS = env_int("PREDICTION_MAX_ATTEMPTS", 5)
# The recovery sweep (beat, and every worker at start): how often beat sends it, and how old a
# PENDING row must be before the sweep takes its message for lost (a younger one is most
# likely still waiting in the queue; sending it again is harmless but wasted work).
PREDICTION_SWEEP_SECONDS = env_int("PREDICTION_SWEEP_SECONDS", 60)
PREDICTION_REQUEUE_PENDING_AFTER_SECONDS = env_int("PREDICTION_REQUEUE_PENDING_AFTER_SECONDS", 120)
CELERY_BEAT_SCHEDULE["requeue-stuck-studies"] = {
    "task": "studies.tasks.run_recovery_sweep",
    "schedule": float(PREDICTION_SWEEP_SECONDS),
}
# Results to PACS (pacs/tasks.py): deliveries whose retry message was lost, and the hourly
# deletion of return identifiers past PACS_IDENTIFIERS_RETENTION_HOURS.
CELERY_BEAT_SCHEDULE["send-due-deliveries"] = {
    "task": "pacs.tasks.send_due_deliveries",
    "schedule": float(PREDICTION_SWEEP_SECONDS),
}
CELERY_BEAT_SCHEDULE["purge-return-identifiers"] = {
    "task": "pacs.tasks.purge_return_identifiers",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["requeue-stuck-predictions"] = {
    "task": "predictions.tasks.run_recovery_sweep",
    "schedule": float(PREDICTION_SWEEP_SECONDS),
}

# --- E-mail ----------------------------------------------------------------------------------
EMAIL_BACKEND = os.getenv("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.getenv("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.getenv("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "brainscan <noreply@localhost>")

# --- Internationalisation ------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.getenv("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Security ----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # pynetdicom's DEBUG output dumps every DIMSE message, UIDs included: never below INFO.
        "pynetdicom": {"level": "INFO"},
        # highdicom's INFO output names the UIDs of the objects it builds and copies from.
        "highdicom": {"level": "WARNING"},
    },
}

if PRODUCTION:
    require(
        [
            problem
            for problem, missing in [
                (
                    "SECRET_KEY (or SECRET_KEY_FILE) must be set to a random value of 50+ characters",
                    SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50,
                ),
                ("DB must be mysql", DB != "mysql"),
                (
                    "DB_PASSWORD (or DB_PASSWORD_FILE) must be set",
                    DB == "mysql" and not DATABASES["default"]["PASSWORD"],
                ),
                ("REDIS_URL must be set (Celery broker and shared cache)", not REDIS_URL),
                (
                    "ALLOWED_HOSTS must be set to the site's host names",
                    "ALLOWED_HOSTS" not in os.environ,
                ),
                ("DEBUG must be False", DEBUG),
                (
                    "PACS_IDENTIFIERS_KEY (or PACS_IDENTIFIERS_KEY_FILE) must be set to a Fernet "
                    "key (it encrypts the identifiers results are sent back with)",
                    not env_secret("PACS_IDENTIFIERS_KEY"),
                ),
                (
                    "ACCOUNT_EMAIL_VERIFICATION must be mandatory (otherwise sign-up reveals "
                    "which e-mail addresses have accounts)",
                    ACCOUNT_EMAIL_VERIFICATION != "mandatory",
                ),
            ]
            if missing
        ]
    )
