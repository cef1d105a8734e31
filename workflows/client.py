"""One way to reach Temporal, for the worker, the API and the tests: pydantic + encryption."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from settings import Settings
from workflows.codec import EncryptionCodec


def data_converter(settings: Settings) -> DataConverter:
    return dataclasses.replace(
        pydantic_data_converter, payload_codec=EncryptionCodec(settings.encryption_keys())
    )


async def connect(settings: Settings) -> Client:
    settings.require_secrets()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )
