"""The package logger: messages users should read (what was done to their data), not debug."""

import logging

logger = logging.getLogger("equilens")
