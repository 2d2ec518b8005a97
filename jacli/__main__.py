"""``python -m jacli``: the same program as the ``jacli`` console script."""

from jacli.entry import main

if __name__ == "__main__":
    main()
