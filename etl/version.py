"""The package version, in one place for setup.py and the run metadata of reports."""

__version__ = "0.1.0"
