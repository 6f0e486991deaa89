"""Pure data: Conveyor's own kinds, status types and the identity of unstructured objects."""
