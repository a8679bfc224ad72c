"""Keeping Python's cyclic garbage collector from pausing the window.

A full collection walks every tracked object while holding the GIL; with Qt, SQLAlchemy and a
10,000-module environment loaded that is 100-300 ms (measured), and during a big run the engine
allocates enough to trigger one every second or so: the window froze for that long each time.
Objects that live as long as the window (imports, widgets, the loaded tables) are moved out of
the collector's reach after start-up and after each reload. They are still freed by reference
counting when dropped; only a reference cycle among them would outlive its use.
"""

from __future__ import annotations

import gc


def settle_long_lived() -> None:
    gc.freeze()
