"""The interpreter's recursion limit belongs to the server, not to a dependency.

``py_ecc`` (imported by ``eth_keys``, under ``eth_account`` and web3) raises ``sys.setrecursionlimit`` to 100,000
when it is imported, and ``py-evm`` (eth-tester, tests only) to 12,288. Python's C code that recurses (the ``json``
parser above all) then overflows the C stack long before the limit: a deeply nested request body killed the
process with a segmentation fault instead of raising ``RecursionError``. The edges (the app factory, the CLI) call
:func:`cap_recursion_limit` once the dependencies are imported.
"""

from __future__ import annotations

import importlib
import logging
import sys

__all__ = ["SAFE_RECURSION_LIMIT", "cap_recursion_limit"]

log = logging.getLogger("xacthuc")

#: CPython's own default, sized for its C stack. Nothing in xacthuc recurses deeper.
SAFE_RECURSION_LIMIT = 1000

# Imported first so that their import-time ``setrecursionlimit`` has already happened when the limit is capped
# (``eth_keys`` imports py_ecc only on some paths, and a later import would raise the limit again).
_RAISERS = ("py_ecc",)


def cap_recursion_limit(limit: int = SAFE_RECURSION_LIMIT) -> int:
    """Lowers the recursion limit to ``limit`` if a dependency raised it above; returns the limit now in force."""
    for name in _RAISERS:
        try:
            importlib.import_module(name)
        except ImportError:  # not installed: it cannot raise anything
            continue
    current = sys.getrecursionlimit()
    if current > limit:
        log.debug("recursion limit %d (raised by a dependency) capped at %d", current, limit)
        sys.setrecursionlimit(limit)
    return sys.getrecursionlimit()
