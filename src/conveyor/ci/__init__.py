"""CI: the pipeline runner and the image updater (write-back to Git)."""
