import sys

from bprop.cli import main

sys.exit(main())
