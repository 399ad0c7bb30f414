"""Mail protocol front doors (SMTP now; IMAP and POP3 to come): bytes in, service calls,
bytes out. Siblings never import each other; shared helpers live in this package root.
"""
