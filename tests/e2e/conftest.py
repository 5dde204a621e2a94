"""End-to-end tests run against real regions: ``live_region`` (hub, sh and zj) and
``full_region`` (hub and the four provinces), both in tests/conftest.py — shared with
the API fuzz test (tests/fuzz) and the browser tests."""
