"""Stored mail: mailboxes, messages (append, flags, expunge), fetching and searching."""
