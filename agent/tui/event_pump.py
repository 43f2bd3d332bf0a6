"""Carries the session's events from its worker thread to the UI thread, merging streamed deltas.

The session emits on a worker thread, sometimes hundreds of deltas a second. `EventPump.push` queues an
event and wakes the UI at most once until the UI drains the queue; consecutive text deltas of the same
item, and consecutive output chunks of the same command, are merged into one event (command output is
cut to its last `OUTPUT_TAIL_CHARS`, all a cell shows). The UI decides how often it drains (the app
throttles to ~30 times a second), so a fast stream costs a bounded number of repaints.

No Textual here: the wake-up is any thread-safe callable (the app posts a message).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from agent.protocol import Event, OutputDelta, TextDelta

OUTPUT_TAIL_CHARS = 64 * 1024


class EventPump:
    def __init__(self, wake: Callable[[], None]):
        self._wake = wake
        self._lock = threading.Lock()
        self._queue: list[Event] = []
        self._awake = False
        self.closed = False

    def push(self, event: Event) -> None:
        """Queue an event (any thread); wakes the UI unless a wake-up is already pending."""
        with self._lock:
            if self.closed:
                return
            if not self._merge(event):
                self._queue.append(event)
            wake, self._awake = not self._awake, True
        if wake:
            self._wake()

    def _merge(self, event: Event) -> bool:
        if not self._queue:
            return False
        last = self._queue[-1]
        if isinstance(event, TextDelta) and isinstance(last, TextDelta) and (last.item_id, last.kind) == (
            event.item_id, event.kind
        ):
            self._queue[-1] = TextDelta(last.item_id, last.delta + event.delta, last.kind)
            return True
        if isinstance(event, OutputDelta) and isinstance(last, OutputDelta) and last.item_id == event.item_id:
            self._queue[-1] = OutputDelta(last.item_id, (last.chunk + event.chunk)[-OUTPUT_TAIL_CHARS:])
            return True
        return False

    def drain(self) -> list[Event]:
        """Everything queued since the last drain, in order (UI thread); re-arms the wake-up."""
        with self._lock:
            events, self._queue = self._queue, []
            self._awake = False
        return events

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._queue = []
