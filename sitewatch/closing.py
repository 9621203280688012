"""A resource that closes itself at the end of a `with` block: the one place that says so."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """Mix in to any class with a `close()`: `with Resource(...) as r:` closes it on the way out,
    whatever happened inside."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
