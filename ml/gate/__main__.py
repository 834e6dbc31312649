"""`python -m ml.gate`, as model cards and reports quote it: the same command as `python -m ml.cli.gate`."""

from ml.cli.gate import main

if __name__ == "__main__":
    main()
