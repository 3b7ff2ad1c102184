"""Developer machine: debug on, everything embedded (SQLite, filesystem broker, file emails)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
