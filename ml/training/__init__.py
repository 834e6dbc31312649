"""Training the classifier: the recipe's configuration, the data pipeline, the fit loop, and the post-fit steps that write the model card."""
