"""Mail between servers: the outbound queue, submission's author check, SPF, DKIM keys and
signatures, DMARC verdicts, the DNS resolver and a message's provenance."""
