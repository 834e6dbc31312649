"""`python -m ml.audit`, as model cards and reports quote it: the same command as `python -m ml.cli.audit`."""

from ml.cli.audit import main

if __name__ == "__main__":
    main()
