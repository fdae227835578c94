from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.command_read import CommandRead
from ...models.error_response import ErrorResponse
from typing import cast



def _get_kwargs(
    command_id: str,

) -> dict[str, Any]:
    

    

    

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/commands/{command_id}".format(command_id=quote(str(command_id), safe=""),),
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> CommandRead | ErrorResponse | None:
    if response.status_code == 200:
        response_200 = CommandRead.from_dict(response.json())



        return response_200

    if response.status_code == 400:
        response_400 = ErrorResponse.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())



        return response_401

    if response.status_code == 404:
        response_404 = ErrorResponse.from_dict(response.json())



        return response_404

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
    command_id: str,
    *,
    client: AuthenticatedClient,

) -> Response[CommandRead | ErrorResponse]:
    """ Get Command

     One command with its state, timestamps and outcome.

    Args:
        command_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CommandRead | ErrorResponse]
     """


    kwargs = _get_kwargs(
        command_id=command_id,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    command_id: str,
    *,
    client: AuthenticatedClient,

) -> CommandRead | ErrorResponse | None:
    """ Get Command

     One command with its state, timestamps and outcome.

    Args:
        command_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CommandRead | ErrorResponse
     """


    return sync_detailed(
        command_id=command_id,
client=client,

    ).parsed

async def asyncio_detailed(
    command_id: str,
    *,
    client: AuthenticatedClient,

) -> Response[CommandRead | ErrorResponse]:
    """ Get Command

     One command with its state, timestamps and outcome.

    Args:
        command_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CommandRead | ErrorResponse]
     """


    kwargs = _get_kwargs(
        command_id=command_id,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    command_id: str,
    *,
    client: AuthenticatedClient,

) -> CommandRead | ErrorResponse | None:
    """ Get Command

     One command with its state, timestamps and outcome.

    Args:
        command_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CommandRead | ErrorResponse
     """


    return (await asyncio_detailed(
        command_id=command_id,
client=client,

    )).parsed
