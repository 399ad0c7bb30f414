"""Setting devices up: what mail, calendar and contacts apps are told about this server
(Thunderbird autoconfig, Outlook Autodiscover, Apple configuration profiles, DNS service
records), all from one description of the listeners (setup.py)."""
