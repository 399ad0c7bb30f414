"""Pure message helpers: MIME parsing, ENVELOPE/BODYSTRUCTURE data, searchable text.

No database, sockets or config here. `parse.py` is the entry point; each module's
docstring says what it owns.
"""

from groupware.mime.parse import ParsedMessage, parse_message
from groupware.mime.structure import Address, BodyPart, Envelope, section_bounds

__all__ = ["Address", "BodyPart", "Envelope", "ParsedMessage", "parse_message", "section_bounds"]
