"""API keys: create (token shown once), list, revoke; and who the caller is."""

from fastapi import APIRouter, Request, Response
from sqlmodel import col, select

from api_schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, Role
from app.auth import hash_token, new_token
from app.deps import Admin, SessionDep, Viewer
from app.errors import ERRORS, NotFound
from app.models import ApiKey
from app.models._types import as_utc, utcnow

router = APIRouter(prefix="/api/v1", tags=["keys"])


def key_read(key: ApiKey) -> ApiKeyRead:
    created = as_utc(key.created_at)
    assert created is not None
    return ApiKeyRead(
        id=key.id,
        name=key.name,
        role=Role(key.role),
        created_at=created,
        revoked_at=as_utc(key.revoked_at),
    )


@router.post("/keys", status_code=201, operation_id="create_key", responses=ERRORS)
async def create_key(
    body: ApiKeyCreate, request: Request, session: SessionDep, _: Admin
) -> ApiKeyCreated:
    """Create an API key; the token is in this response only (stored hashed)."""
    token = new_token()
    key = ApiKey(
        name=body.name,
        role=body.role.value,
        token_hash=hash_token(token, request.app.state.settings),
    )
    session.add(key)
    await session.flush()
    return ApiKeyCreated(id=key.id, name=key.name, role=body.role, token=token)


@router.get("/keys", operation_id="list_keys", responses=ERRORS)
async def list_keys(session: SessionDep, _: Admin) -> list[ApiKeyRead]:
    """Every key, without tokens."""
    rows = (await session.exec(select(ApiKey).order_by(col(ApiKey.created_at)))).all()
    return [key_read(k) for k in rows]


@router.delete(
    "/keys/{key_id}", status_code=204, operation_id="revoke_key", responses=ERRORS
)
async def revoke_key(
    key_id: str, request: Request, session: SessionDep, _: Admin
) -> Response:
    """Revoke a key; its token stops working at once (on other gateway
    replicas within ESPER_KEY_RELOAD_S)."""
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No key {key_id}.", code="key_not_found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        # Committed before the cache forgets it: a reload that started after
        # the forget must already read the key as revoked.
        await session.commit()
    request.app.state.keys.forget(key_id)
    return Response(status_code=204)


@router.get("/whoami", operation_id="whoami", responses=ERRORS)
async def whoami(request: Request, principal: Viewer) -> dict[str, object]:
    """The caller's key id and role, and whether auth is on (for the dashboard)."""
    return {
        "key_id": principal.key_id,
        "role": principal.role.value,
        "auth": request.app.state.settings.auth_enabled,
    }
