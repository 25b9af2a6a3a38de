"""`python -m pruning`: see pruning/cli.py."""
import sys

from .cli import main

sys.exit(main())
