"""`python -m vaestudio` runs the same entry point as the `vaestudio` command."""

import sys

from vaestudio.cli import main

sys.exit(main())
