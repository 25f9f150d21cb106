"""The operational database: one typed SQLAlchemy table per file, the session factory,
the bulk-write helper of the nightly path, and the Alembic migrations.

Importing this package registers every table on :data:`models.base.Base.metadata`.
"""

from models.arbiter_user import ArbiterUser
from models.audit_log import AuditLog
from models.base import Base
from models.buyer import Buyer
from models.buyer_financials import BuyerFinancials
from models.country_grade import CountryGrade
from models.credit_limit import CreditLimit
from models.decision import Decision
from models.eligibility import Eligibility
from models.feed_file import FeedFile
from models.legal_event import LegalEvent
from models.monitoring_metric import MonitoringMetric
from models.notification import Notification, NotificationBody
from models.payment_aggregate import PaymentAggregate
from models.policy import Policy
from models.policyholder import Policyholder
from models.quarantine import QuarantinedRow
from models.review_task import ReviewTask
from models.run import Run, RunStep
from models.score import Score

__all__ = [
    "ArbiterUser",
    "AuditLog",
    "Base",
    "Buyer",
    "BuyerFinancials",
    "CountryGrade",
    "CreditLimit",
    "Decision",
    "Eligibility",
    "FeedFile",
    "LegalEvent",
    "MonitoringMetric",
    "Notification",
    "NotificationBody",
    "PaymentAggregate",
    "Policy",
    "Policyholder",
    "QuarantinedRow",
    "ReviewTask",
    "Run",
    "RunStep",
    "Score",
]
