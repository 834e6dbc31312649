"""`python -m ml.predict`, as model cards and reports quote it: the same command as `python -m ml.cli.predict`."""

from ml.cli.predict import main

if __name__ == "__main__":
    raise SystemExit(main())
