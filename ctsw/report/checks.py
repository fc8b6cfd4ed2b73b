"""Asset check results from the Dagster instance (run history), for the report and `ctsw status`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ctsw.report.data import CheckResult


def latest_check_results(instance, check_keys: Iterable, descriptions: Mapping | None = None) -> list[CheckResult]:
    """The latest completed evaluation of each check that has one (planned-only or never-run checks are left out)."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

    keys = list(check_keys)
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys) if keys else {}
    out = []
    for key in sorted(records, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        record = records[key]
        if record.status not in (Status.SUCCEEDED, Status.FAILED):
            continue
        evaluation = record.event.dagster_event.event_specific_data if record.event and record.event.dagster_event \
            else None
        severity = getattr(getattr(evaluation, "severity", None), "value", "ERROR")
        out.append(CheckResult(asset=key.asset_key.to_user_string(), name=key.name,
                               passed=record.status == Status.SUCCEEDED, partition=record.partition,
                               description=(descriptions or {}).get(key, "") or "", severity=severity))
    return out
