"""Moved to ``b24sms.domain.formdata``. Kept only for ``local/portal_emulator.py``, which is being split
into a package on another branch at the same time: remove this module once that code imports
``b24sms.domain.formdata``."""

from b24sms.domain.formdata import decode_form, encode_form

__all__ = ["decode_form", "encode_form"]
