"""escalation: customer-contact routing and escalation on Kafka."""

__version__ = "0.1.0"
