"""`python -m gateway` is the `labgw` command."""

from gateway.cli import main

main()
