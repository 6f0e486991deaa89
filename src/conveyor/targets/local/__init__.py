"""The local runtime: the embedded default target, with host processes in place of containers."""
