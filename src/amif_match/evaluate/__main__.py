import sys

from amif_match.evaluate.classification import main

sys.exit(main())
