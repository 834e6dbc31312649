"""The data sets: where the images are (samples, sources), how they are split, their duplicates (the data-set audit), and the non-MRI set."""
