"""Outgoing SMS and e-mail: the message every sender takes, whatever carries it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Channel(StrEnum):
    sms = "sms"
    email = "email"


class OutgoingMessage(BaseModel):
    """One SMS or e-mail to send; the same `message_key` always means the same message."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    message_key: str = Field(min_length=1, max_length=200)
    """Natural key making a retried send go out once, e.g. `email-ABC123:answer:sms`."""
    case_id: int | None = None
    """The case the message is about, if any."""
    recipient: str = Field(min_length=1, max_length=200)
    """A mobile number for SMS, an address for e-mail."""
    subject: str = Field(default="", max_length=300)
    """E-mail subject; unused for SMS."""
    body: str = Field(max_length=4000, repr=False)
    """The text (Persian); kept out of repr so it never reaches a log line."""
