"""Policy: rules on rendered objects, checked before anything is applied."""
