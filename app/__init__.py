"""Deploy Center: the modules deployment step of a platform upgrade."""

__version__ = "1.0.0"
