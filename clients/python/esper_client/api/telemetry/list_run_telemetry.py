from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_response import ErrorResponse
from ...models.packet_kind import PacketKind
from ...models.telemetry_page import TelemetryPage
from ...models.telemetry_series import TelemetrySeries
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    run_id: str,
    *,
    after: None | str | Unset = UNSET,
    names: None | str | Unset = UNSET,
    kind: None | PacketKind | Unset = UNSET,
    limit: int | Unset = 500,
    resolution: int | None | Unset = UNSET,
    step_from: int | None | Unset = UNSET,
    step_to: int | None | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    json_after: None | str | Unset
    if isinstance(after, Unset):
        json_after = UNSET
    else:
        json_after = after
    params["after"] = json_after

    json_names: None | str | Unset
    if isinstance(names, Unset):
        json_names = UNSET
    else:
        json_names = names
    params["names"] = json_names

    json_kind: None | str | Unset
    if isinstance(kind, Unset):
        json_kind = UNSET
    elif isinstance(kind, PacketKind):
        json_kind = kind.value
    else:
        json_kind = kind
    params["kind"] = json_kind

    params["limit"] = limit

    json_resolution: int | None | Unset
    if isinstance(resolution, Unset):
        json_resolution = UNSET
    else:
        json_resolution = resolution
    params["resolution"] = json_resolution

    json_step_from: int | None | Unset
    if isinstance(step_from, Unset):
        json_step_from = UNSET
    else:
        json_step_from = step_from
    params["step_from"] = json_step_from

    json_step_to: int | None | Unset
    if isinstance(step_to, Unset):
        json_step_to = UNSET
    else:
        json_step_to = step_to
    params["step_to"] = json_step_to


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/runs/{run_id}/telemetry".format(run_id=quote(str(run_id), safe=""),),
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorResponse | TelemetryPage | TelemetrySeries | None:
    if response.status_code == 200:
        def _parse_response_200(data: object) -> TelemetryPage | TelemetrySeries:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_200_type_0 = TelemetryPage.from_dict(data)



                return response_200_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            response_200_type_1 = TelemetrySeries.from_dict(data)



            return response_200_type_1

        response_200 = _parse_response_200(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorResponse | TelemetryPage | TelemetrySeries]:
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
    after: None | str | Unset = UNSET,
    names: None | str | Unset = UNSET,
    kind: None | PacketKind | Unset = UNSET,
    limit: int | Unset = 500,
    resolution: int | None | Unset = UNSET,
    step_from: int | None | Unset = UNSET,
    step_to: int | None | Unset = UNSET,

) -> Response[ErrorResponse | TelemetryPage | TelemetrySeries]:
    """ List Run Telemetry

     The run's persisted telemetry, oldest first, or bucketed for charts; a step
    range narrows either (a chart's zoom, an export of part of a run).

    Args:
        run_id (str):
        after (None | str | Unset):
        names (None | str | Unset): Comma-separated fnmatch globs on `name`.
        kind (None | PacketKind | Unset):
        limit (int | Unset): Page size. Default: 500.
        resolution (int | None | Unset): Buckets per metric: returns min/max/last buckets over
            step ranges instead of packets.
        step_from (int | None | Unset): Only packets at this step or later.
        step_to (int | None | Unset): Only packets at this step or earlier.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | TelemetryPage | TelemetrySeries]
     """


    kwargs = _get_kwargs(
        run_id=run_id,
after=after,
names=names,
kind=kind,
limit=limit,
resolution=resolution,
step_from=step_from,
step_to=step_to,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    run_id: str,
    *,
    client: AuthenticatedClient,
    after: None | str | Unset = UNSET,
    names: None | str | Unset = UNSET,
    kind: None | PacketKind | Unset = UNSET,
    limit: int | Unset = 500,
    resolution: int | None | Unset = UNSET,
    step_from: int | None | Unset = UNSET,
    step_to: int | None | Unset = UNSET,

) -> ErrorResponse | TelemetryPage | TelemetrySeries | None:
    """ List Run Telemetry

     The run's persisted telemetry, oldest first, or bucketed for charts; a step
    range narrows either (a chart's zoom, an export of part of a run).

    Args:
        run_id (str):
        after (None | str | Unset):
        names (None | str | Unset): Comma-separated fnmatch globs on `name`.
        kind (None | PacketKind | Unset):
        limit (int | Unset): Page size. Default: 500.
        resolution (int | None | Unset): Buckets per metric: returns min/max/last buckets over
            step ranges instead of packets.
        step_from (int | None | Unset): Only packets at this step or later.
        step_to (int | None | Unset): Only packets at this step or earlier.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | TelemetryPage | TelemetrySeries
     """


    return sync_detailed(
        run_id=run_id,
client=client,
after=after,
names=names,
kind=kind,
limit=limit,
resolution=resolution,
step_from=step_from,
step_to=step_to,

    ).parsed

async def asyncio_detailed(
    run_id: str,
    *,
    client: AuthenticatedClient,
    after: None | str | Unset = UNSET,
    names: None | str | Unset = UNSET,
    kind: None | PacketKind | Unset = UNSET,
    limit: int | Unset = 500,
    resolution: int | None | Unset = UNSET,
    step_from: int | None | Unset = UNSET,
    step_to: int | None | Unset = UNSET,

) -> Response[ErrorResponse | TelemetryPage | TelemetrySeries]:
    """ List Run Telemetry

     The run's persisted telemetry, oldest first, or bucketed for charts; a step
    range narrows either (a chart's zoom, an export of part of a run).

    Args:
        run_id (str):
        after (None | str | Unset):
        names (None | str | Unset): Comma-separated fnmatch globs on `name`.
        kind (None | PacketKind | Unset):
        limit (int | Unset): Page size. Default: 500.
        resolution (int | None | Unset): Buckets per metric: returns min/max/last buckets over
            step ranges instead of packets.
        step_from (int | None | Unset): Only packets at this step or later.
        step_to (int | None | Unset): Only packets at this step or earlier.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | TelemetryPage | TelemetrySeries]
     """


    kwargs = _get_kwargs(
        run_id=run_id,
after=after,
names=names,
kind=kind,
limit=limit,
resolution=resolution,
step_from=step_from,
step_to=step_to,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    run_id: str,
    *,
    client: AuthenticatedClient,
    after: None | str | Unset = UNSET,
    names: None | str | Unset = UNSET,
    kind: None | PacketKind | Unset = UNSET,
    limit: int | Unset = 500,
    resolution: int | None | Unset = UNSET,
    step_from: int | None | Unset = UNSET,
    step_to: int | None | Unset = UNSET,

) -> ErrorResponse | TelemetryPage | TelemetrySeries | None:
    """ List Run Telemetry

     The run's persisted telemetry, oldest first, or bucketed for charts; a step
    range narrows either (a chart's zoom, an export of part of a run).

    Args:
        run_id (str):
        after (None | str | Unset):
        names (None | str | Unset): Comma-separated fnmatch globs on `name`.
        kind (None | PacketKind | Unset):
        limit (int | Unset): Page size. Default: 500.
        resolution (int | None | Unset): Buckets per metric: returns min/max/last buckets over
            step ranges instead of packets.
        step_from (int | None | Unset): Only packets at this step or later.
        step_to (int | None | Unset): Only packets at this step or earlier.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | TelemetryPage | TelemetrySeries
     """


    return (await asyncio_detailed(
        run_id=run_id,
client=client,
after=after,
names=names,
kind=kind,
limit=limit,
resolution=resolution,
step_from=step_from,
step_to=step_to,

    )).parsed
