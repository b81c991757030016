"""``python -m kybernetes`` runs the ``kyb`` command."""

from kybernetes.cli.main import main

raise SystemExit(main())
