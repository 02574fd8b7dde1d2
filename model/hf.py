"""Helpers around transformers shared by export and fine-tuning."""
from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def quiet():
    """No progress bars and no info/warning chatter from transformers (restored afterwards): saving a model,
    or loading a discriminator folder as a bare encoder, whose head is "unexpected" there by design."""
    from transformers.utils import logging as hf_logging
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
