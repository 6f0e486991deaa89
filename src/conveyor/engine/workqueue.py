"""The engine's name for the shared keyed work queue (``conveyor.workqueue``).

The queue is one mechanism shared with the local runtime; this module only keeps the engine's
import path working until the controller imports ``conveyor.workqueue`` itself.
"""

from conveyor.workqueue import WorkQueue

__all__ = ["WorkQueue"]
