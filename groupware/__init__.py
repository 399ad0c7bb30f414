"""groupware: one server for a company's mail, calendars, contacts and tasks.

The package map is ../shared/DESIGN.md; `runtime.build` is the composition root.
"""

__version__ = "0.1.0"
