"""公文与凭证: every document the platform prints, signed, stored, rendered and verifiable by QR."""
