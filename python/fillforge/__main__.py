"""``python -m fillforge``: the command line."""

from fillforge.cli import main

main()
