"""`python -m starcast`: the same as the `starcast` command."""

from starcast.cli import main

if __name__ == "__main__":
    main()
