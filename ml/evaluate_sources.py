"""`python -m ml.evaluate_sources`, as model cards and reports quote it: the same command as `python -m ml.cli.evaluate_sources`."""

from ml.cli.evaluate_sources import main

if __name__ == "__main__":
    main()
