"""Conveyor: GitOps continuous delivery that runs on a laptop and scales out onto Kubernetes."""

__version__ = "0.1.0"

__all__ = ["__version__"]
