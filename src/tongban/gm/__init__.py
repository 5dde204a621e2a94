"""国密 (Chinese commercial cryptography): the only place crypto happens.

* SM2 signatures (tongsuopy), SM3 digest, default user id 1234567812345678
* SM3 hashes and HMAC-SM3, SM4-GCM encryption (cryptography)
* RFC 8785 canonical JSON for everything that is signed or hashed
"""
