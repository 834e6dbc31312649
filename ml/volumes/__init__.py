"""Volumes: slices in patient space, their order along the slice normal, and axial reformatting.

Plain numpy + nibabel (no Django, no pydicom): the DICOM and NIfTI readers of the web app hand
in pixel arrays with their geometry, and get back axial slices in radiological display
(patient right on the image's left, anterior up) with their position along the head's axis.
"""
