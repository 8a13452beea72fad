"""Development: safe defaults so `make run` works on a fresh machine with no .env."""

import os

os.environ.setdefault("SECRET_KEY", "dev-only-insecure-key-change-me-0123456789abcdef")
os.environ.setdefault("DEBUG", "true")

from .base import *  # noqa: F403
