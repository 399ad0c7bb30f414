"""`python -m groupware` runs the command-line interface."""

from groupware.cli import main

raise SystemExit(main())
