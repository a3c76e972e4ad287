"""Hypothesis profiles for the fuzz suite, registered before pytest reads ``--hypothesis-profile`` (a plugin of
tests/conftest.py).

Without a profile the fuzz tests run derandomized with a bounded number of examples (``make test``: the same inputs
every run, the decoder file in well under a minute). ``--hypothesis-profile=long`` runs many more, randomly seeded
(Hypothesis prints the seed of a failure); other tests are unaffected by the fuzz tests' own settings.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

LONG = "long"

settings.register_profile(
    LONG,
    max_examples=3000,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def fuzz_settings(examples: int) -> settings:
    """``examples`` derandomized examples for ``make test``; under the ``long`` profile, the profile's own."""
    if settings.get_current_profile_name() == LONG:
        return settings(settings.get_profile(LONG), suppress_health_check=list(HealthCheck))
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
