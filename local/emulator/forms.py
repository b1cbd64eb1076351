"""The emulator's one import from the layer: PHP-style form bodies (``data[MESSAGES][0][text]=…``) both ways.

Every room that reads or writes a form body imports these names from here, so a move of the layer's
module is a one-line change."""

from b24sms.domain.formdata import decode_form, encode_form

__all__ = ["decode_form", "encode_form"]
