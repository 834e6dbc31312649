"""The input gate: the checks that refuse what is not a brain MRI slice, the image statistics they use, and fitting them for a model."""
