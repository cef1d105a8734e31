"""Search attributes the Temporal UI filters on; registered by `make run` and the tests."""

from temporalio.common import SearchAttributeKey

PROCESS_KIND = SearchAttributeKey.for_keyword("ProcessKind")
TRACKING_CODE = SearchAttributeKey.for_keyword("TrackingCode")
CURRENT_STEP = SearchAttributeKey.for_keyword("CurrentStep")

ALL = (PROCESS_KIND, TRACKING_CODE, CURRENT_STEP)
