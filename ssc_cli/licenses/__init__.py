"""Licences: the SPDX list (spdx.py), per-ecosystem signals (signals.py), the verdict (classify.py)."""
