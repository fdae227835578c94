"""The gateway's side of Leyline signing: the keyring and the signing key id."""

import logging

from api_schemas.signing import parse_keyring
from app.settings import Settings

log = logging.getLogger("esper.leyline")


class MissingSecret(RuntimeError):
    """Outside local mode the gateway refuses to start without a signing secret."""


def keyring(settings: Settings) -> dict[str, str]:
    keys = parse_keyring(
        settings.leyline_secret, settings.leyline_keys, settings.leyline_key_id
    )
    if settings.leyline_key_id not in keys:
        if not settings.local_mode:
            raise MissingSecret("ESPER_LEYLINE_SECRET is required outside local mode")
        log.warning("no ESPER_LEYLINE_SECRET: using an insecure local signing key")
        keys[settings.leyline_key_id] = "esper-local-insecure"
    return keys
