"""Synthetic feeds: every source of a night, in its real layout, for N buyers, with a hidden
ground truth (true 12-month PD, default dates) written apart for benchmarks.

Call :func:`generate`; see ``feeds/LAYOUTS.md`` for the layouts it follows."""

from feeds.synthetic.generator import GeneratedFeeds, generate

__all__ = ["GeneratedFeeds", "generate"]
