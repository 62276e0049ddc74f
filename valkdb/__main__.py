"""`python -m valkdb` is the `valkdb` command."""

from valkdb.cli import main

main()
