"""The POP3 front door (RFC 1939 with RFC 2449, 2595, 5034): grammar, session, handlers.
A new verb is a class in commands.py, a parser in grammar.py, a handler and its dispatch entry."""
