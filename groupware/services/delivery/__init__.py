"""Where a message goes: local delivery, each user's rules and vacation reply, SRS for
forwarded mail, bounces, and the router that is the only code sending mail anywhere."""
