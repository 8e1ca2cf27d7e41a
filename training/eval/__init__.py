"""Evaluation: the field's metrics, every threshold rule, scoring cached crops, the report and its figures."""
