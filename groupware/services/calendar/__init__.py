"""Calendars and address books: collections and items, sharing, and scheduling (iTIP
invitations and replies)."""
