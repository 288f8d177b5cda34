"""The metrics catalog and the monitoring artifacts' checks (docs/metrics.md, deploy/)."""
