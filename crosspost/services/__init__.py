"""Use cases: functions over a unit of work, taking and returning plain values."""
