"""The package version, in one place (read by hatchling and by every module that reports it)."""

__version__ = "0.1.0"
