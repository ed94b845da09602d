"""What ``card.json`` promises its readers: the schema version and the verdict names.

Written by :mod:`advrecon.report.card`, read by :mod:`advrecon.report.leaderboard`; one place so
that a new schema version is bumped for both. This module imports nothing (the leaderboard's
command is registered at start-up).
"""

__all__ = ["SCHEMA_VERSION", "VERDICTS"]

#: Version of the card.json layout (a reader refuses other versions).
SCHEMA_VERSION = 1
#: The verdicts a card may carry (:class:`advrecon.experiments.protocol.Verdict`).
VERDICTS = ("robust", "vulnerable", "inconclusive")
