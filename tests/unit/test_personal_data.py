"""Personal identifiers: SM4 at rest, blind index, masking in logs, key rotation."""

from __future__ import annotations

import logging

import pytest

from tests.factories import id_number
from tongban.identity.masking import (
    MaskPersonalIdentifiersFilter,
    mask_id_number,
    mask_phone,
    mask_text,
)
from tongban.identity.models import Person
from tongban.identity.pii import blind_index, decrypt_identifier, reset_key_cache
from tongban.identity.services import person_upsert, pii_reencrypt_all


def test_masks():
    assert mask_id_number("310101199001011234") == "3101**********1234"
    assert mask_phone("13812345678") == "138****5678"
    text = "申请人 310101199001011234 电话 13812345678 订单 12345678901234567890"
    assert mask_text(text) == "申请人 3101**********1234 电话 138****5678 订单 12345678901234567890"


def test_log_filter_masks_messages():
    record = logging.LogRecord(
        "x", logging.INFO, "f", 1, "id=%s tel=%s", ("33042119900307123X", "13905731234"), None
    )
    MaskPersonalIdentifiersFilter().filter(record)
    assert record.getMessage() == "id=3304**********123X tel=139****1234"


@pytest.mark.django_db
def test_identifiers_are_encrypted_and_found_by_blind_index():
    number = id_number()
    person = person_upsert(name="张伟", id_number=number, phone="13905731234")
    raw = Person.objects.filter(pk=person.pk).values().get()
    assert number not in str(raw) and "13905731234" not in str(raw)
    assert Person.objects.get(id_number_index=blind_index(number)).id_number == number
    assert person.id_number_masked.startswith("3304**")


@pytest.mark.django_db
def test_key_rotation_without_data_loss(settings):
    number = id_number()
    person = person_upsert(name="张伟", id_number=number, phone="13905731234")
    old_token = Person.objects.get(pk=person.pk).id_number_encrypted
    assert old_token.startswith("sm4gcm:k1:")
    # a new key goes first; the old one stays for decryption; the index key changes too
    settings.TONGBAN_PII_KEYS = "k2:" + "ab" * 16 + "," + settings.TONGBAN_PII_KEYS
    settings.TONGBAN_BLIND_INDEX_KEY = "cd" * 32
    reset_key_cache()
    try:
        assert decrypt_identifier(old_token) == number  # old data still readable
        counts = pii_reencrypt_all()
        assert counts["identity.Person.id_number_encrypted"] == 1
        fresh = Person.objects.get(pk=person.pk)
        assert fresh.id_number_encrypted.startswith("sm4gcm:k2:") and fresh.id_number == number
        assert Person.objects.get(id_number_index=blind_index(number)).pk == person.pk
        # the old key can now be dropped
        settings.TONGBAN_PII_KEYS = "k2:" + "ab" * 16
        reset_key_cache()
        assert Person.objects.get(pk=person.pk).phone == "13905731234"
        assert pii_reencrypt_all()["identity.Person.id_number_encrypted"] == 0
    finally:
        reset_key_cache()
