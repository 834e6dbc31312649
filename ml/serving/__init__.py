"""Serving one model: the TensorFlow runtime (verified load, compiled forward pass), the Engine that analyses a slice, Grad-CAM and the overlay."""
