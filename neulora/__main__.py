"""``python -m neulora``."""

from .cli import main

raise SystemExit(main())
