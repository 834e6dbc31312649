"""`python -m ml.evaluate`, as model cards and reports quote it: the same command as `python -m ml.cli.evaluate`."""

from ml.cli.evaluate import main

if __name__ == "__main__":
    main()
