"""Proving who someone is: logins by password, app password or TOTP, the credentials a
user manages, and the throttle and locks that slow down guessing."""
