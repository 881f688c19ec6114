"""assembly: runs the General Assembly of a federation of national member organizations."""

__version__ = "0.1.0"
