"""What the reliability tests injected, counted per backend (see ``conftest.py`` here).

A module of its own: pytest imports ``conftest.py`` under a name of its choosing, so tests
that imported the counters from it could get a second copy.
"""

from __future__ import annotations

from collections import Counter, defaultdict

TALLY: defaultdict[str, Counter[str]] = defaultdict(Counter)


def tally_of(name: str) -> Counter[str]:
    """The counter of backend ``name``, for tests that do not use the ``backend`` fixture."""
    return TALLY[name]
