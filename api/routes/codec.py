"""The codec endpoint the Temporal UI calls to show encrypted payloads to an operator.

Protocol: POST /codec/encode and /codec/decode with `{"payloads": [...]}` in protobuf JSON.
Only operators and admins may use it; in development, calls from this machine are let in too,
because the dev server's UI cannot send credentials.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.errors import ApiError, documented
from api.security import optional_user, session_user
from db.models import User
from domain.cases import Role
from settings import AppEnv
from workflows.codec import EncryptionCodec

router = APIRouter(tags=["ops"], responses=documented(400, 401, 403))

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def may_decode(
    request: Request,
    bearer_user: Annotated[User | None, Depends(optional_user)],
    cookie_user: Annotated[User | None, Depends(session_user)],
) -> None:
    # The Temporal UI sends the operator's session cookie (JSON POSTs need a CORS preflight).
    user = bearer_user or cookie_user
    if user is not None and {Role.operator, Role.admin} & set(user.roles):
        return
    local = request.client is not None and request.client.host in LOOPBACK
    if request.app.state.settings.app_env == AppEnv.development and local:
        return
    raise ApiError(
        401 if user is None else 403, "not_authenticated" if user is None else "forbidden"
    )


async def _transcode(request: Request, decode: bool) -> Response:
    codec: EncryptionCodec = request.app.state.codec
    payloads = Payloads()
    try:
        json_format.Parse(await request.body(), payloads)
    except json_format.ParseError:
        raise ApiError(400, "invalid_value") from None
    try:
        result = await (codec.decode if decode else codec.encode)(payloads.payloads)
    except Exception:
        raise ApiError(400, "invalid_value") from None
    body = json_format.MessageToJson(Payloads(payloads=result))
    return Response(content=body, media_type="application/json")


@router.post("/codec/decode", dependencies=[Depends(may_decode)], summary="Decrypt payloads")
async def decode(request: Request) -> Response:
    return await _transcode(request, decode=True)


@router.post("/codec/encode", dependencies=[Depends(may_decode)], summary="Encrypt payloads")
async def encode(request: Request) -> Response:
    return await _transcode(request, decode=False)
