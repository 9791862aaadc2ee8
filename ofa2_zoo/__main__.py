"""``python -m ofa2_zoo`` is the ``ofa2`` command."""

from .cli import main

main()
