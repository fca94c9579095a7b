"""Monitoring: detect machine-speed reconnaissance and exploit attempts in operators' logs.

``record`` holds the normalised log record; ``parsers/`` turn log lines into records (one module
per log format, pure); ``detectors/`` turn record streams into alerts (one module per detector
family, pure, bounded state); ``watch`` reads files and runs them all.
"""
