"""`python -m ml.train`, as model cards and reports quote it: the same command as `python -m ml.cli.train`."""

from ml.cli.train import main

if __name__ == "__main__":
    main()
