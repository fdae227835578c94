from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_response import ErrorResponse
from ...models.run_page import RunPage
from ...models.run_sort import RunSort
from ...models.run_state import RunState
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    *,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    state: None | RunState | Unset = UNSET,
    label: None | str | Unset = UNSET,
    task: None | str | Unset = UNSET,
    q: None | str | Unset = UNSET,
    sort: RunSort | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    params["limit"] = limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    json_state: None | str | Unset
    if isinstance(state, Unset):
        json_state = UNSET
    elif isinstance(state, RunState):
        json_state = state.value
    else:
        json_state = state
    params["state"] = json_state

    json_label: None | str | Unset
    if isinstance(label, Unset):
        json_label = UNSET
    else:
        json_label = label
    params["label"] = json_label

    json_task: None | str | Unset
    if isinstance(task, Unset):
        json_task = UNSET
    else:
        json_task = task
    params["task"] = json_task

    json_q: None | str | Unset
    if isinstance(q, Unset):
        json_q = UNSET
    else:
        json_q = q
    params["q"] = json_q

    json_sort: str | Unset = UNSET
    if not isinstance(sort, Unset):
        json_sort = sort.value

    params["sort"] = json_sort


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/runs",
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorResponse | RunPage | None:
    if response.status_code == 200:
        response_200 = RunPage.from_dict(response.json())



        return response_200

    if response.status_code == 400:
        response_400 = ErrorResponse.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())



        return response_401

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorResponse | RunPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    state: None | RunState | Unset = UNSET,
    label: None | str | Unset = UNSET,
    task: None | str | Unset = UNSET,
    q: None | str | Unset = UNSET,
    sort: RunSort | Unset = UNSET,

) -> Response[ErrorResponse | RunPage]:
    """ List Runs

     Runs, newest first unless sorted, filtered by state, label, task and name.

    Args:
        limit (int | Unset): Page size (1..500). Default: 50.
        cursor (None | str | Unset): Opaque cursor from a page.
        state (None | RunState | Unset):
        label (None | str | Unset): `key=value`
        task (None | str | Unset): The spec's task name.
        q (None | str | Unset): Search: a substring of the name (any case) or an id prefix.
        sort (RunSort | Unset): A column to sort on; `-` first for descending.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | RunPage]
     """


    kwargs = _get_kwargs(
        limit=limit,
cursor=cursor,
state=state,
label=label,
task=task,
q=q,
sort=sort,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    state: None | RunState | Unset = UNSET,
    label: None | str | Unset = UNSET,
    task: None | str | Unset = UNSET,
    q: None | str | Unset = UNSET,
    sort: RunSort | Unset = UNSET,

) -> ErrorResponse | RunPage | None:
    """ List Runs

     Runs, newest first unless sorted, filtered by state, label, task and name.

    Args:
        limit (int | Unset): Page size (1..500). Default: 50.
        cursor (None | str | Unset): Opaque cursor from a page.
        state (None | RunState | Unset):
        label (None | str | Unset): `key=value`
        task (None | str | Unset): The spec's task name.
        q (None | str | Unset): Search: a substring of the name (any case) or an id prefix.
        sort (RunSort | Unset): A column to sort on; `-` first for descending.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | RunPage
     """


    return sync_detailed(
        client=client,
limit=limit,
cursor=cursor,
state=state,
label=label,
task=task,
q=q,
sort=sort,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    state: None | RunState | Unset = UNSET,
    label: None | str | Unset = UNSET,
    task: None | str | Unset = UNSET,
    q: None | str | Unset = UNSET,
    sort: RunSort | Unset = UNSET,

) -> Response[ErrorResponse | RunPage]:
    """ List Runs

     Runs, newest first unless sorted, filtered by state, label, task and name.

    Args:
        limit (int | Unset): Page size (1..500). Default: 50.
        cursor (None | str | Unset): Opaque cursor from a page.
        state (None | RunState | Unset):
        label (None | str | Unset): `key=value`
        task (None | str | Unset): The spec's task name.
        q (None | str | Unset): Search: a substring of the name (any case) or an id prefix.
        sort (RunSort | Unset): A column to sort on; `-` first for descending.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | RunPage]
     """


    kwargs = _get_kwargs(
        limit=limit,
cursor=cursor,
state=state,
label=label,
task=task,
q=q,
sort=sort,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 50,
    cursor: None | str | Unset = UNSET,
    state: None | RunState | Unset = UNSET,
    label: None | str | Unset = UNSET,
    task: None | str | Unset = UNSET,
    q: None | str | Unset = UNSET,
    sort: RunSort | Unset = UNSET,

) -> ErrorResponse | RunPage | None:
    """ List Runs

     Runs, newest first unless sorted, filtered by state, label, task and name.

    Args:
        limit (int | Unset): Page size (1..500). Default: 50.
        cursor (None | str | Unset): Opaque cursor from a page.
        state (None | RunState | Unset):
        label (None | str | Unset): `key=value`
        task (None | str | Unset): The spec's task name.
        q (None | str | Unset): Search: a substring of the name (any case) or an id prefix.
        sort (RunSort | Unset): A column to sort on; `-` first for descending.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | RunPage
     """


    return (await asyncio_detailed(
        client=client,
limit=limit,
cursor=cursor,
state=state,
label=label,
task=task,
q=q,
sort=sort,

    )).parsed
