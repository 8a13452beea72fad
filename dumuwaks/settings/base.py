"""Settings shared by every environment. Holds no secret: everything sensitive comes from the environment."""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

ENVIRONMENT = env.str("ENVIRONMENT", default="development")
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
# Production refuses fakes, simulators and sandbox credentials unless this loudly named opt-in is set
# (dumuwaks/core/deployment.py); production.py fills INSECURE_SETTINGS, which /health reports.
INSECURE_STAGING = False
INSECURE_SETTINGS: list[str] = []

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "dumuwaks.core",
    "accounts",
    "bookings",
    "matching",
    "payments",
    "social",
    "support",
    "notifications",
    "featurephone",
]

MIDDLEWARE = [
    "dumuwaks.core.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ (admin, API docs) from the app under every server; no CDN, no separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dumuwaks.core.private_responses.PrivateApiResponsesMiddleware",
]

ROOT_URLCONF = "dumuwaks.urls"
WSGI_APPLICATION = "dumuwaks.wsgi.application"
ASGI_APPLICATION = "dumuwaks.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/dumuwaks")
}
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
    "DB_CONNECT_TIMEOUT", default=5
)
# Under ASGI every request may run on a different thread, so Django's per-thread persistent connections
# would pile up; psycopg's pool (Django >= 5.1) bounds them per process instead. DB_POOL_MAX_SIZE=0 turns
# the pool off (e.g. behind PgBouncer in transaction mode).
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=8)
if DB_POOL_MAX_SIZE:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": env.int("DB_POOL_TIMEOUT", default=10),
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Server-side binding lets psycopg prepare each statement a connection runs often (prepare_threshold), so
# PostgreSQL plans it once per connection instead of on every request. DB_PREPARED_STATEMENTS=false behind a
# pooler that cannot keep prepared statements (PgBouncer < 1.21 in transaction mode).
if env.bool("DB_PREPARED_STATEMENTS", default=True):
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True  # Django 6 behaviour for admin URL fields (transitional setting)

# The hottest reads (GET /bookings, /bookings/:id, /auth/me) keep each row's rendered JSON in the cache this
# long, keyed by the versions of the rows it shows, so never stale (dumuwaks/core/rendered_cache.py); 0 = off.
RENDERED_CACHE_SECONDS = env.int("RENDERED_CACHE_SECONDS", default=900)

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# For the cache's connections and the redis-py client of the counters (dumuwaks/core/cache.py).
REDIS_CONNECTION_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 2}
CACHES = {
    "default": {
        "BACKEND": "dumuwaks.core.cache.BinarySafeKeysRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="dw"),
        "OPTIONS": {**REDIS_CONNECTION_OPTIONS},
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNELS_PREFIX", default="dw-asgi")},
    }
}

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("sw", "Kiswahili")]
TIME_ZONE = "Africa/Nairobi"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
# `collectstatic` (make run, the image) writes hashed, compressed copies and a manifest; with DEBUG on,
# WhiteNoise serves straight from the apps' folders instead.
# "default" (uploaded media) is chosen by MEDIA_BACKEND below.
STORAGES = {
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))

# --- API ---------------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["dumuwaks.core.renderers.CamelCaseJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "djangorestframework_camel_case.parser.CamelCaseJSONParser",
        "djangorestframework_camel_case.parser.CamelCaseFormParser",
        "djangorestframework_camel_case.parser.CamelCaseMultiPartParser",
    ],
    # Views parse their query parameters with serializers; a default backend would only add parameters
    # (`ordering`) to the schema that no view applies.
    "DEFAULT_FILTER_BACKENDS": [],
    "DEFAULT_PAGINATION_CLASS": "dumuwaks.core.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "dumuwaks.core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "dumuwaks.core.openapi.DomainAutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON_RATE", default="300/min"),
        "user": env.str("THROTTLE_USER_RATE", default="1200/min"),
        "login_ip": "20/min",
        "login_account": "10/min",
        "password_reset": "5/hour",
        "otp": "10/min",
        "two_factor": "10/min",
    },
    "DEFAULT_THROTTLE_CLASSES": [
        "dumuwaks.core.throttling.AnonRateThrottle",
        "dumuwaks.core.throttling.UserRateThrottle",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
}
# Client IPs (throttles, callback allow-list) are REMOTE_ADDR unless NUM_PROXIES says how many trusted proxies
# append to X-Forwarded-For (dumuwaks/core/client_ip.py). Unset means none here; production refuses to start
# without an explicit value.
NUM_PROXIES = env.int("NUM_PROXIES", default=None)
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES or 0

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Ours carry `iat` to the microsecond, so a logout ends exactly the access tokens issued up to it
    # (accounts.jwt, accounts.authentication). Minting goes through accounts.jwt's classes, not simplejwt's.
    "AUTH_TOKEN_CLASSES": ("accounts.jwt.AccessToken",),
    # Tokens carry a hash of the password hash: a password change or reset ends every access token at once,
    # not only the refresh tokens (checked on the user row authentication loads anyway, so no extra query).
    "CHECK_REVOKE_TOKEN": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Dumu Waks API",
    "DESCRIPTION": "Kenyan marketplace for skilled technicians: bookings, M-Pesa payments, chat and reviews.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "CAMELIZE_NAMES": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "drf_spectacular.contrib.djangorestframework_camel_case.camelize_serializer_fields",
    ],
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "accounts.models.Role",
        # One language choice set: users' preferredLanguage and the feature-phone enrolment's language.
        "PreferredLanguageEnum": "accounts.models.Language",
        "SelfServiceRoleEnum": "accounts.models.SELF_SERVICE_ROLE_CHOICES",
        "ProposalStatusEnum": "bookings.models.ProposalStatus",
        # The STK push and card endpoints take the price's purposes; payments show tips too.
        "PaymentPurposeEnum": "payments.models.PaymentPurpose",
        "PricePaymentPurposeEnum": "payments.models.PRICE_PAYMENT_PURPOSE_CHOICES",
    },
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CLIENT_WEB_URL = env.str("CLIENT_WEB_URL", default="http://localhost:3000")
if CLIENT_WEB_URL and CLIENT_WEB_URL not in CORS_ALLOWED_ORIGINS:
    CORS_ALLOWED_ORIGINS.append(CLIENT_WEB_URL)
PUBLIC_API_URL = env.str("PUBLIC_API_URL", default="http://localhost:8000")

# --- Celery ------------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = False  # the in-process tests run tasks eagerly (settings/test.py)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis redelivers a task whose worker died before acking (acks_late) once it has been unacked this long, so it
# must exceed the longest task run time and countdown/ETA, or a live task runs twice (kombu's default, 1 h).
# The key prefix keeps deployments (or test runs) that share one Redis database apart.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_BROKER_VISIBILITY_TIMEOUT", default=3600),
    "global_keyprefix": env.str("CELERY_BROKER_KEY_PREFIX", default=""),
}
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = TIME_ZONE
# Periodic tasks live in each app's schedules.py; dumuwaks/celery.py installs them. The system tests (and a
# staging that wants fast timers) run every entry this often instead of its own interval.
BEAT_INTERVAL_OVERRIDE_SECONDS = env.float("BEAT_INTERVAL_OVERRIDE_SECONDS", default=None)

# --- Email / SMS / push / media ----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Dumu Waks <no-reply@dumuwaks.co.ke>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

SMS_BACKEND = env.str("SMS_BACKEND", default="console")  # console | africastalking
AFRICASTALKING_USERNAME = env.str("AFRICASTALKING_USERNAME", default="sandbox")
AFRICASTALKING_API_KEY = env.str("AFRICASTALKING_API_KEY", default="")
AFRICASTALKING_SENDER_ID = env.str("AFRICASTALKING_SENDER_ID", default="")
# Inbound SMS/USSD callbacks (featurephone): the secret in the callback URL and, optionally, AT's addresses.
AFRICASTALKING_CALLBACK_TOKEN = env.str(
    "AFRICASTALKING_CALLBACK_TOKEN", default="dev-callback-token"
)
AFRICASTALKING_ALLOWED_IPS = env.list("AFRICASTALKING_ALLOWED_IPS", default=[])
if SMS_BACKEND == "africastalking" and not AFRICASTALKING_API_KEY:
    raise environ.ImproperlyConfigured("SMS_BACKEND=africastalking needs AFRICASTALKING_API_KEY")

PUSH_BACKEND = env.str("PUSH_BACKEND", default="console")  # console | fcm
FIREBASE_CREDENTIALS_FILE = env.str("FIREBASE_CREDENTIALS_FILE", default="")
if PUSH_BACKEND == "fcm" and not FIREBASE_CREDENTIALS_FILE:
    raise environ.ImproperlyConfigured("PUSH_BACKEND=fcm needs FIREBASE_CREDENTIALS_FILE")

# Where uploaded media live: Django's default storage (social/storage/files.py only uses the storage API).
MEDIA_BACKEND = env.str("MEDIA_BACKEND", default="local")  # local | cloudinary
CLOUDINARY_URL = env.str("CLOUDINARY_URL", default="")
CLOUDINARY_UPLOAD_PREFIX = env.str(
    "CLOUDINARY_UPLOAD_PREFIX", default=""
)  # tests only: point the Cloudinary SDK at a local fake
_MEDIA_STORAGES = {
    # Files under MEDIA_ROOT, served at MEDIA_URL: development and tests (production refuses it).
    "local": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "cloudinary": {
        "BACKEND": "social.storage.cloudinary.CloudinaryStorage",
        "OPTIONS": {"cloudinary_url": CLOUDINARY_URL, "upload_prefix": CLOUDINARY_UPLOAD_PREFIX},
    },
}
if MEDIA_BACKEND not in _MEDIA_STORAGES:
    raise environ.ImproperlyConfigured(f"MEDIA_BACKEND must be one of {', '.join(_MEDIA_STORAGES)}")
if MEDIA_BACKEND == "cloudinary" and not CLOUDINARY_URL:
    raise environ.ImproperlyConfigured("MEDIA_BACKEND=cloudinary needs CLOUDINARY_URL")
STORAGES["default"] = _MEDIA_STORAGES[MEDIA_BACKEND]

# --- M-Pesa / Stripe ---------------------------------------------------------------------------------------------
MPESA_BACKEND = env.str("MPESA_BACKEND", default="simulator")  # simulator | sandbox | production
MPESA_CONSUMER_KEY = env.str("MPESA_CONSUMER_KEY", default="")
MPESA_CONSUMER_SECRET = env.str("MPESA_CONSUMER_SECRET", default="")
MPESA_SHORTCODE = env.str("MPESA_SHORTCODE", default="174379")
MPESA_PASSKEY = env.str(
    "MPESA_PASSKEY", default="bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
)  # the public Daraja sandbox passkey, only meaningful with the simulator/sandbox
MPESA_B2C_SHORTCODE = env.str("MPESA_B2C_SHORTCODE", default="600992")
MPESA_INITIATOR_NAME = env.str("MPESA_INITIATOR_NAME", default="testapi")
MPESA_INITIATOR_PASSWORD = env.str("MPESA_INITIATOR_PASSWORD", default="")
MPESA_CERTIFICATE_FILE = env.str("MPESA_CERTIFICATE_FILE", default="")
MPESA_CALLBACK_TOKEN = env.str("MPESA_CALLBACK_TOKEN", default="dev-callback-token")
MPESA_CALLBACK_BASE_URL = env.str("MPESA_CALLBACK_BASE_URL", default=PUBLIC_API_URL)
MPESA_ALLOWED_IPS = env.list("MPESA_ALLOWED_IPS", default=[])
MPESA_BASE_URL_OVERRIDE = env.str(
    "MPESA_BASE_URL_OVERRIDE", default=""
)  # tests point the client at a fake
if MPESA_BACKEND in {"sandbox", "production"}:
    for _name in (
        "MPESA_CONSUMER_KEY",
        "MPESA_CONSUMER_SECRET",
        "MPESA_PASSKEY",
        "MPESA_INITIATOR_PASSWORD",
        "MPESA_CERTIFICATE_FILE",
    ):
        if not globals()[_name]:
            raise environ.ImproperlyConfigured(f"MPESA_BACKEND={MPESA_BACKEND} needs {_name}")
MPESA_SIMULATOR_DELAY_SECONDS = env.int("MPESA_SIMULATOR_DELAY_SECONDS", default=3)
MPESA_HTTP_TIMEOUT_SECONDS = env.float("MPESA_HTTP_TIMEOUT_SECONDS", default=30.0)
MPESA_TRANSACTION_TYPE = env.str("MPESA_TRANSACTION_TYPE", default="CustomerPayBillOnline")
MPESA_STK_PARTY_B = env.str(
    "MPESA_STK_PARTY_B", default=""
)  # the till number for CustomerBuyGoodsOnline

STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE_OVERRIDE = env.str("STRIPE_API_BASE_OVERRIDE", default="")
STRIPE_API_VERSION = env.str("STRIPE_API_VERSION", default="")
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
STRIPE_HTTP_TIMEOUT_SECONDS = env.float("STRIPE_HTTP_TIMEOUT_SECONDS", default=20)

# --- Logging -----------------------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="text")  # text | json
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "dumuwaks.core.request_id.RequestIdLogFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "dumuwaks.core.logging_json.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- accounts ----------------------------------------------------------------------------------------------------
# Product rules (link lifetimes, lockouts, ...) are constants in each app's rules.py, listed in the README
# ("Product rules"); settings hold only what differs between deployments.
OTP_TOTP_ISSUER = "Dumu Waks"
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].setdefault("verification_email", "5/hour")
# Public technician profiles are open to anonymous callers: enough for a person browsing, not for scraping.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].setdefault("technician_profile", "60/min")
AFRICASTALKING_API_BASE_OVERRIDE = env.str(
    "AFRICASTALKING_API_BASE_OVERRIDE", default=""
)  # tests only: point the SMS client (notifications/sms.py) at a local fake

# --- social ---
MEDIA_FOLDER_ROOT = env.str(
    "MEDIA_FOLDER_ROOT", default="dumuwaks"
)  # Cloudinary/local folder prefix
# Uploads above 2.5 MB stream to a temporary file instead of memory (100 MB videos); the upload views also refuse
# a request whose Content-Length exceeds what the endpoint can accept before parsing it.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- notifications ---
# Name the chat/notification enums explicitly so other apps' `kind`/`type`/`platform` fields never collide.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "ConversationKindEnum": "notifications.models.ConversationKind",
        "DeviceTargetKindEnum": "notifications.models.DeviceTargetKind",
        "DevicePlatformEnum": "notifications.models.DevicePlatform",
        "ChatAttachmentTypeEnum": "notifications.models.AttachmentType",
        "NotificationGroupEnum": "notifications.models.NotificationGroup",
    }
)

# --- payments ---
# Pending STK payments older than this with no callback are resolved by STK Query (beat task). A setting, not
# a product rule, because deployments differ: the system tier (tests/system) has it query after a second.
PAYMENT_STK_QUERY_AFTER_SECONDS = env.int("PAYMENT_STK_QUERY_AFTER_SECONDS", default=120)

# --- support ---
# Support ticket enums get their own names so they never collide with bookings'/payments' `status`.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "SupportTicketStatusEnum": "support.models.TicketStatus",
        "SupportTicketPriorityEnum": "support.models.TicketPriority",
        "SupportTicketCategoryEnum": "support.models.TicketCategory",
    }
)
# --- accounts (schema enum names) ---
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {"KycRejectionReasonEnum": "accounts.models.KycRejectionReason"}
)
# --- bookings (schema enum names) ---
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "BookingStatusEnum": "bookings.models.BookingStatus",
        "BookingDisputeStatusEnum": "bookings.models.DisputeStatus",
        "BookingDisputeOutcomeEnum": "bookings.models.DisputeOutcome",
        "BookingUrgencyEnum": "bookings.models.Urgency",
    }
)
# --- payments (schema enum names) ---
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "PaymentStatusEnum": "payments.models.PaymentStatus",
        "PaymentPurposeEnum": "payments.models.PaymentPurpose",
        "PaymentMethodEnum": "payments.models.PaymentMethod",
        "PayoutStatusEnum": "payments.models.PayoutStatus",
        "PayoutKindEnum": "payments.models.PayoutKind",
        "PayoutChannelEnum": "payments.models.PayoutChannel",
    }
)

# --- matching ---
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {"MatchStatusEnum": "matching.models.MatchStatus"}
)

# --- social (OpenAPI enum names) ---
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "PostStatusEnum": "social.models.posts.PostStatus",
        "PostTypeEnum": "social.models.posts.PostType",
        "PostReportStatusEnum": "social.models.posts.ReportStatus",
        "MediaResourceTypeEnum": "social.models.media.ResourceType",
        "ReviewDirectionEnum": "social.models.reviews.ReviewDirection",
    }
)

# --- social (upload throttle) ---
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].setdefault("media_upload", "120/hour")

# --- hardening (tests/, dumuwaks/core/openapi_hooks.py, dumuwaks/core/request_limits.py) ---
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    *SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"],
    "dumuwaks.core.openapi_hooks.honest_response_formats",
    "dumuwaks.core.openapi_hooks.domain_tags",
]
# Body-size and JSON-depth caps (413/400 in the error body) and 503 for outages outside DRF views.
MIDDLEWARE.insert(
    MIDDLEWARE.index("dumuwaks.core.request_id.RequestIdMiddleware") + 1,
    "dumuwaks.core.request_limits.RequestLimitsMiddleware",
)
