"""The routing policy: load and validate a file, decide owners, explain the decision."""

from .engine import NoLoads, RouteDecision, RoutingEngine
from .load import LoadedPolicy, PolicyError, load_policy, parse_policy
from .model import Policy
from .roster import PolicyRoster

__all__ = [
    "LoadedPolicy",
    "NoLoads",
    "Policy",
    "PolicyError",
    "PolicyRoster",
    "RouteDecision",
    "RoutingEngine",
    "load_policy",
    "parse_policy",
]
