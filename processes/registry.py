"""The processes this installation runs: one line per process."""

from __future__ import annotations

from processes.declaration import Registry
from processes.email_account import EMAIL_ACCOUNT
from processes.office_automation import APPOINTMENT, END_OF_APPOINTMENT
from processes.repair import REPAIR
from processes.sepas import SEPAS
from processes.shams import SHAMS

PROCESSES = Registry([EMAIL_ACCOUNT, REPAIR, APPOINTMENT, END_OF_APPOINTMENT, SHAMS, SEPAS])
