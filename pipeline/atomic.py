"""Atomic writes for the stages: the lock-then-rename protocol of :mod:`model.atomic` (one implementation,
in model/ because model/ must run without pipeline/)."""
from model.atomic import atomic_dir, atomic_file, remove_stale, stale_siblings, temp_pattern, write_json, write_text

__all__ = ["atomic_dir", "atomic_file", "remove_stale", "stale_siblings", "temp_pattern", "write_json", "write_text"]
