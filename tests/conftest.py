"""Shared fixtures: small, fixed-seed data sets (treat them as read-only)."""

from __future__ import annotations

import pytest

from crmtools.sampledata import SampleConfig, write_sample


@pytest.fixture(scope="session")
def small_sample_dir(tmp_path_factory):
    """A small sample data set as Parquet: 1,500 customers over 15 months from 2024-01, seed 3.

    Written once per session (per worker with pytest-xdist); tests must not write into it.
    """
    return write_sample(tmp_path_factory.mktemp("small_sample"), SampleConfig(customers=1500, months=15, seed=3))
