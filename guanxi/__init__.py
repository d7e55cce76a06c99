"""Guanxi: next-best actions for B2B relationship selling."""

__version__ = "0.1.0"
