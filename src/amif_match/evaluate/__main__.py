import sys

from amif_match.evaluate.cli import main

sys.exit(main())
