from amif_match.cli import main

raise SystemExit(main())
