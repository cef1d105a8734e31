"""Search attributes the Temporal UI filters on; registered by `make run` and the tests."""

from temporalio.common import SearchAttributeKey

PROCESS_KIND = SearchAttributeKey.for_keyword("ProcessKind")
TRACKING_CODE = SearchAttributeKey.for_keyword("TrackingCode")
CURRENT_STEP = SearchAttributeKey.for_keyword("CurrentStep")
ROLLOUT_ID = SearchAttributeKey.for_keyword("RolloutId")
"""SHAMS: the rollout's tracking code, on the rollout and on each of its counties and sites."""
COUNTY = SearchAttributeKey.for_keyword("County")
"""SHAMS: the county's code, on a county's workflow and on its sites'."""
SITE_STEP = SearchAttributeKey.for_keyword("SiteStep")
"""SHAMS: where a site's workflow stands (ranging, line, entry, probe, end)."""

ALL = (PROCESS_KIND, TRACKING_CODE, CURRENT_STEP, ROLLOUT_ID, COUNTY, SITE_STEP)
