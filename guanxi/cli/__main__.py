"""``python -m guanxi.cli``: the same as the ``guanxi`` command."""

from guanxi.cli import main

if __name__ == "__main__":
    main()
