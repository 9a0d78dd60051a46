"""Request types (诉求类型) and urgencies (紧急程度): the words the service-level clocks speak."""

from enum import StrEnum


class RequestType(StrEnum):
    ENQUIRY = "enquiry"
    HELP = "help"
    COMPLAINT = "complaint"
    REPORT = "report"
    SUGGESTION = "suggestion"
    PRAISE = "praise"


class Urgency(StrEnum):
    CRITICAL = "critical"
    URGENT = "urgent"
    NORMAL = "normal"
