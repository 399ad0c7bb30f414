"""The fuzz target table: every parser the server runs on what clients send, by name.
Both runners read it (test_targets.py in CI, campaign.py for `make fuzz`); a new target
is a Target in protocol_targets.py, content_targets.py or server_targets.py.
"""

from __future__ import annotations

from tests.fuzz import content_targets, protocol_targets, server_targets
from tests.fuzz.target import Target

TARGETS: dict[str, Target] = {
    target.name: target
    for module in (protocol_targets, content_targets, server_targets)
    for target in module.TARGETS
}
