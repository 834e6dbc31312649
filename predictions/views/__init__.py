"""The clinician's and the reviewer's pages, one module per concept.

`access` (who may open what: the decorators every view module uses, so views never import
views), `scans` (history, upload, batch, result, delete), `files` (the stored images and the
browser preview), `exports` (the CSV files), `model` (the model card, the model in use).
"""
