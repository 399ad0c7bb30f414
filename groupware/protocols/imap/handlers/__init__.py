"""IMAP command handlers, one small coroutine per command, grouped by the state they
serve; dispatch.py maps each command class to its handler."""
