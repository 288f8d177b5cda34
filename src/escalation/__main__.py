import sys

from escalation.cli.main import main

sys.exit(main())
