"""Settings of the authtools test project: a small shop with a custom user model.

The database is SQLite unless TESTPROJECT_DB says "postgresql" or "mysql" (MariaDB); then
TESTPROJECT_DB_NAME names the database (created by the tests), on 127.0.0.1 with the
machine's default users (postgres / root, no password) unless TESTPROJECT_DB_USER,
TESTPROJECT_DB_PASSWORD, TESTPROJECT_DB_HOST or TESTPROJECT_DB_PORT say otherwise.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "authtools-testproject-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_extensions",
    "authtools",
    "accounts",
    "shop",
    "profiles",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "testproject.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

_vendor = os.environ.get("TESTPROJECT_DB", "sqlite")
if _vendor == "postgresql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("TESTPROJECT_DB_NAME", "testproject"),
            "USER": os.environ.get("TESTPROJECT_DB_USER", "postgres"),
            "PASSWORD": os.environ.get("TESTPROJECT_DB_PASSWORD", ""),
            "HOST": os.environ.get("TESTPROJECT_DB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("TESTPROJECT_DB_PORT", "5432"),
        }
    }
elif _vendor == "mysql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.environ.get("TESTPROJECT_DB_NAME", "testproject"),
            "USER": os.environ.get("TESTPROJECT_DB_USER", "root"),
            "PASSWORD": os.environ.get("TESTPROJECT_DB_PASSWORD", ""),
            "HOST": os.environ.get("TESTPROJECT_DB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("TESTPROJECT_DB_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4"},
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("TESTPROJECT_DB_NAME", str(BASE_DIR / "db.sqlite3")),
        }
    }

AUTH_USER_MODEL = "accounts.User"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
STATIC_URL = "static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast for tests and demos
