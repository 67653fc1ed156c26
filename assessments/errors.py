"""Refusals of the assessments domain."""

from core.errors import DomainError


class AssessmentError(DomainError):
    code = "assessment_error"
