"""``python -m asyncauth`` runs the CLI."""

from .cli import main

raise SystemExit(main())
