"""Kubernetes-style events, kept in memory: repeated events are counted, not duplicated."""

from __future__ import annotations

from collections import OrderedDict

from conveyor.clock import Clock, rfc3339
from conveyor.model.objects import ObjectKey
from conveyor.targets.protocol import Event

MAX_EVENTS = 5000


class EventRecorder:
    """The runtime's event log, newest last, bounded."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._events: OrderedDict[tuple[ObjectKey, str, str, str], Event] = OrderedDict()

    def record(self, key: ObjectKey, reason: str, message: str, type_: str = "Normal") -> None:
        """Record an event; the same (object, reason, message) again bumps its count."""
        now = rfc3339(self._clock.now())
        ident = (key, reason, message, type_)
        previous = self._events.pop(ident, None)
        if previous is None:
            event = Event(key, reason, message, type_, 1, now, now)
        else:
            event = Event(
                key, reason, message, type_, previous.count + 1, previous.first_timestamp, now
            )
        self._events[ident] = event
        while len(self._events) > MAX_EVENTS:
            self._events.popitem(last=False)

    def list(self, key: ObjectKey | None = None) -> list[Event]:
        """Events about ``key`` (or all), oldest first."""
        return [e for e in self._events.values() if key is None or e.involved == key]
