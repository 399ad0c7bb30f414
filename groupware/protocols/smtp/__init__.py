"""SMTP: MX (25), submission (587, STARTTLS) and submissions (465, implicit TLS) on
aiosmtpd; handler.py maps its hooks to services, statuses.py maps errors to replies.
"""
