"""syncd benchmark (see bench/run.py)."""
