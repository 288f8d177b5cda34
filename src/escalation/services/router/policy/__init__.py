"""The routing policy: load and validate a file, match a contact, explain the decision."""

from .load import LoadedPolicy, PolicyError, load_policy, parse_policy
from .match import route_contact
from .model import Policy

__all__ = ["LoadedPolicy", "Policy", "PolicyError", "load_policy", "parse_policy", "route_contact"]
