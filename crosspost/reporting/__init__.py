"""Presenting a `crosspost.services.report.Report`: labels (vi/en), CSV, JSON, HTML with SVG charts.

Pure formatting: no database, no terminal. The CLI picks the format and where it goes.
"""
