"""Loaded first (pytest -p tests.environment): the in-process node's environment,
set before Django reads its settings."""

import os
import tempfile

os.environ.setdefault("TONGBAN_NODE", "sh")
os.environ.setdefault("TONGBAN_DATA_DIR", tempfile.mkdtemp(prefix="tongban-test-"))
if os.environ.get("PYTEST_XDIST_WORKER"):
    # a pytest-xdist worker inherits the controller's directory: each gets its own
    # (test database, keys, media)
    os.environ["TONGBAN_DATA_DIR"] = tempfile.mkdtemp(
        prefix=f"{os.environ['PYTEST_XDIST_WORKER']}-", dir=os.environ["TONGBAN_DATA_DIR"]
    )
os.environ.setdefault("TONGBAN_BASE_URL", "http://127.0.0.1:8001")
# repeated sign-ins within seconds are normal in tests; throttling has its own test
os.environ.setdefault("TONGBAN_OTP_MIN_INTERVAL_SECONDS", "0")
os.environ.setdefault("TONGBAN_OTP_MAX_PER_HOUR", "1000")
