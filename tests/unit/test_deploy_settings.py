"""Production settings pass Django's deployment checks."""

import os
import subprocess
import sys


def test_check_deploy_is_clean(tmp_path):
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="tongban.settings_production",
        TONGBAN_SECRET_KEY="x" * 20 + "-production-secret-that-is-long-enough-0123456789",
        TONGBAN_PII_KEYS="k1:00112233445566778899aabbccddeeff",
        TONGBAN_BLIND_INDEX_KEY="ab" * 32,
        TONGBAN_DATA_DIR=str(tmp_path),
        TONGBAN_ALLOWED_HOSTS="sh.example.gov.cn",
        TONGBAN_GENERATE_KEYS="1",  # the deliberate key-creation step of a new deployment
        TONGBAN_SMS_BACKEND="tongban.identity.sms.LocmemBackend",  # stands in for a gateway
    )
    result = subprocess.run(
        [sys.executable, "-m", "tongban.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_missing_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env.update(DJANGO_SETTINGS_MODULE="tongban.settings_production", TONGBAN_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "tongban.cli", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "must be set in production" in result.stderr
