"""``python -m orbitscout.cli``: the same command as ``orbitscout``."""

from orbitscout.cli import main

main()
