"""`with Server() as server:` for the local stand-ins: start() on entry, stop() on exit."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class Served(ABC):
    """A local server (the emulator, moto) that start() brings up and stop() takes down."""

    @abstractmethod
    def start(self) -> Self:
        """Serve; returns the server itself."""

    @abstractmethod
    def stop(self) -> None:
        """Stop serving (a second call does nothing)."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
