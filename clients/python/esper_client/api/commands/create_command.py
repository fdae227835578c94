from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.command_read import CommandRead
from ...models.emergency_halt import EmergencyHalt
from ...models.error_response import ErrorResponse
from ...models.pause import Pause
from ...models.profile import Profile
from ...models.registry_reset import RegistryReset
from ...models.resume import Resume
from ...models.rollback import Rollback
from ...models.seed_disable import SeedDisable
from ...models.seed_enable import SeedEnable
from ...models.stop import Stop
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    run_id: str,
    *,
    body: EmergencyHalt | Pause | Profile | RegistryReset | Resume | Rollback | SeedDisable | SeedEnable | Stop,
    wait: float | Unset = 0.0,
    idempotency_key: None | str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key



    

    params: dict[str, Any] = {}

    params["wait"] = wait


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/runs/{run_id}/commands".format(run_id=quote(str(run_id), safe=""),),
        "params": params,
    }

    
    if isinstance(body, EmergencyHalt):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, Pause):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, Resume):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, Stop):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, Rollback):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, SeedEnable):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, SeedDisable):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, RegistryReset):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body.to_dict()


    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> CommandRead | ErrorResponse | None:
    if response.status_code == 200:
        response_200 = CommandRead.from_dict(response.json())



        return response_200

    if response.status_code == 202:
        response_202 = CommandRead.from_dict(response.json())



        return response_202

    if response.status_code == 400:
        response_400 = ErrorResponse.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = ErrorResponse.from_dict(response.json())



        return response_403

    if response.status_code == 404:
        response_404 = ErrorResponse.from_dict(response.json())



        return response_404

    if response.status_code == 409:
        response_409 = ErrorResponse.from_dict(response.json())



        return response_409

    if response.status_code == 413:
        response_413 = ErrorResponse.from_dict(response.json())



        return response_413

    if response.status_code == 422:
        response_422 = ErrorResponse.from_dict(response.json())



        return response_422

    if response.status_code == 429:
        response_429 = ErrorResponse.from_dict(response.json())



        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[CommandRead | ErrorResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    run_id: str,
    *,
    client: AuthenticatedClient,
    body: EmergencyHalt | Pause | Profile | RegistryReset | Resume | Rollback | SeedDisable | SeedEnable | Stop,
    wait: float | Unset = 0.0,
    idempotency_key: None | str | Unset = UNSET,

) -> Response[CommandRead | ErrorResponse]:
    """ Create Run Command

     Issue a signed command to a run; with `wait`, 200 once the worker acks it.

    Args:
        run_id (str):
        wait (float | Unset): Seconds to wait for the ack. Default: 0.0.
        idempotency_key (None | str | Unset): Repeat-safe key: same key and body returns the
            original.
        body (EmergencyHalt | Pause | Profile | RegistryReset | Resume | Rollback | SeedDisable |
            SeedEnable | Stop):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CommandRead | ErrorResponse]
     """


    kwargs = _get_kwargs(
        run_id=run_id,
body=body,
wait=wait,
idempotency_key=idempotency_key,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    run_id: str,
    *,
    client: AuthenticatedClient,
    body: EmergencyHalt | Pause | Profile | RegistryReset | Resume | Rollback | SeedDisable | SeedEnable | Stop,
    wait: float | Unset = 0.0,
    idempotency_key: None | str | Unset = UNSET,

) -> CommandRead | ErrorResponse | None:
    """ Create Run Command

     Issue a signed command to a run; with `wait`, 200 once the worker acks it.

    Args:
        run_id (str):
        wait (float | Unset): Seconds to wait for the ack. Default: 0.0.
        idempotency_key (None | str | Unset): Repeat-safe key: same key and body returns the
            original.
        body (EmergencyHalt | Pause | Profile | RegistryReset | Resume | Rollback | SeedDisable |
            SeedEnable | Stop):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CommandRead | ErrorResponse
     """


    return sync_detailed(
        run_id=run_id,
client=client,
body=body,
wait=wait,
idempotency_key=idempotency_key,

    ).parsed

async def asyncio_detailed(
    run_id: str,
    *,
    client: AuthenticatedClient,
    body: EmergencyHalt | Pause | Profile | RegistryReset | Resume | Rollback | SeedDisable | SeedEnable | Stop,
    wait: float | Unset = 0.0,
    idempotency_key: None | str | Unset = UNSET,

) -> Response[CommandRead | ErrorResponse]:
    """ Create Run Command

     Issue a signed command to a run; with `wait`, 200 once the worker acks it.

    Args:
        run_id (str):
        wait (float | Unset): Seconds to wait for the ack. Default: 0.0.
        idempotency_key (None | str | Unset): Repeat-safe key: same key and body returns the
            original.
        body (EmergencyHalt | Pause | Profile | RegistryReset | Resume | Rollback | SeedDisable |
            SeedEnable | Stop):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CommandRead | ErrorResponse]
     """


    kwargs = _get_kwargs(
        run_id=run_id,
body=body,
wait=wait,
idempotency_key=idempotency_key,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    run_id: str,
    *,
    client: AuthenticatedClient,
    body: EmergencyHalt | Pause | Profile | RegistryReset | Resume | Rollback | SeedDisable | SeedEnable | Stop,
    wait: float | Unset = 0.0,
    idempotency_key: None | str | Unset = UNSET,

) -> CommandRead | ErrorResponse | None:
    """ Create Run Command

     Issue a signed command to a run; with `wait`, 200 once the worker acks it.

    Args:
        run_id (str):
        wait (float | Unset): Seconds to wait for the ack. Default: 0.0.
        idempotency_key (None | str | Unset): Repeat-safe key: same key and body returns the
            original.
        body (EmergencyHalt | Pause | Profile | RegistryReset | Resume | Rollback | SeedDisable |
            SeedEnable | Stop):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CommandRead | ErrorResponse
     """


    return (await asyncio_detailed(
        run_id=run_id,
client=client,
body=body,
wait=wait,
idempotency_key=idempotency_key,

    )).parsed
