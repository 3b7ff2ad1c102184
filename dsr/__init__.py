"""Data-subject requests: intake, verification, lifecycle, the data-store registry and its
connectors, execution, export packages, erasure records and the compliance dashboard."""
