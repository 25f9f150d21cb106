"""Settings and the default data files (rule sets, scheme parameters, reference tables).

This package imports nothing of ours: every other package may depend on it.
"""
