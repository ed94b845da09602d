"""The ``rotation`` plug-in's part of the report (figures, panels, findings, tables)."""

from __future__ import annotations

from advrecon.attacks.contract import ReportHooks

__all__ = ["HOOKS"]

HOOKS = ReportHooks()
