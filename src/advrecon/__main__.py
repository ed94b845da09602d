"""``python -m advrecon`` (also what ``torchrun -m advrecon ...`` runs)."""

from advrecon.cli import main

raise SystemExit(main())
