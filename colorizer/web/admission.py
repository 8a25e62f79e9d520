"""Admission control for colorizer.web.server: a bounded queue of requests.

At most max_concurrent requests are decoded and colorized at once; up to
max_queue more wait for a turn, each holding its upload (up to the upload
limit) in memory. A request beyond that is refused at once, before its body
is read, with HTTP 503 and a Retry-After header, so memory stays bounded by
(max_concurrent + max_queue) uploads however many clients connect.

Retry-After is an estimate: the requests ahead of a new one, times the
recent average time a request spends colorizing, over max_concurrent.
"""

import contextlib
import math
import threading
import time
from typing import Iterator

# Before any request has finished there is no average to go by.
_INITIAL_SECONDS_PER_REQUEST = 1.0
# The weight of the newest duration in the running average.
_AVERAGE_WEIGHT = 0.2
_MIN_RETRY_AFTER_S = 1
_MAX_RETRY_AFTER_S = 120


class RequestQueue:
  """Counts colorize requests in flight: running and waiting for a slot.

  Use try_enter() when a request arrives (False: refuse it with 503),
  then `with queue.slot():` around the work that needs one of the
  max_concurrent slots, and leave() once the request is over, whatever
  happened to it. Thread-safe.
  """

  def __init__(self, max_concurrent: int, max_queue: int):
    """Creates the queue.

    Args:
      max_concurrent: requests that hold a slot at once.
      max_queue: requests that may wait for a slot; 0 refuses every request
        that finds all slots taken.

    Raises:
      ValueError: if max_concurrent < 1 or max_queue < 0.
    """
    if max_concurrent < 1:
      raise ValueError(f"max_concurrent={max_concurrent} must be at least 1.")
    if max_queue < 0:
      raise ValueError(f"max_queue={max_queue} must be 0 or more.")
    self.max_concurrent = max_concurrent
    self.max_queue = max_queue
    self._slots = threading.BoundedSemaphore(max_concurrent)
    self._lock = threading.Lock()
    self._admitted = 0
    self._seconds_per_request = _INITIAL_SECONDS_PER_REQUEST

  @property
  def admitted(self) -> int:
    """Requests in flight now: running plus waiting."""
    with self._lock:
      return self._admitted

  def try_enter(self) -> bool:
    """Admits a request unless max_concurrent + max_queue are in flight."""
    with self._lock:
      if self._admitted >= self.max_concurrent + self.max_queue:
        return False
      self._admitted += 1
      return True

  def leave(self) -> None:
    """Ends a request admitted by try_enter().

    Raises:
      ValueError: if no request is in flight.
    """
    with self._lock:
      if self._admitted <= 0:
        raise ValueError("leave() without a matching try_enter().")
      self._admitted -= 1

  @contextlib.contextmanager
  def slot(self) -> Iterator[None]:
    """Waits for one of the max_concurrent slots and holds it inside."""
    with self._slots:
      start = time.monotonic()
      try:
        yield
      finally:
        self._record(time.monotonic() - start)

  def retry_after_s(self) -> int:
    """Seconds a refused client should wait: the queue's estimated drain."""
    with self._lock:
      ahead, seconds = self._admitted, self._seconds_per_request
    estimate = math.ceil(seconds * (ahead + 1) / self.max_concurrent)
    return min(max(estimate, _MIN_RETRY_AFTER_S), _MAX_RETRY_AFTER_S)

  def _record(self, seconds: float) -> None:
    with self._lock:
      self._seconds_per_request += _AVERAGE_WEIGHT * (
          seconds - self._seconds_per_request)

