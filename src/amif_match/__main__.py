from amif_match.interfaces.cli import main

raise SystemExit(main())
