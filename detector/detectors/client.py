"""Unusual client: software the identity has never used (a stolen credential is rarely
used with the tool its owner uses)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import ClassVar

from detector.detectors.base import DetectorBase, Finding, Signal, combine, surprise
from detector.event import EnrichedEvent
from detector.state import Decay, DecayingCounter, IdentityState

__all__ = ["Client", "client_family"]

# Tools whose name says more than the first product token of their user agent.
_KNOWN = re.compile(
    r"(terraform|aws-cli|boto3|botocore|aws-sdk-[a-z]+|vault-agent|vault cli|consul-template|"
    r"hvac|openbao|bao cli|python-requests|go-http-client|curl|wget|postman|okhttp|"
    r"stratus-red-team|pacu|edg|firefox|chrome|safari|[a-z.]+\.amazonaws\.com)",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def client_family(user_agent: str) -> str:
    """The software family of a user agent, without versions.

    >>> client_family("python-requests/2.31.0")
    'python-requests'
    >>> client_family("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537")
    'chrome'
    >>> client_family("APN/1.0 HashiCorp/1.0 Terraform/1.1.2 (+https://www.terraform.io)")
    'terraform'
    """
    match = _KNOWN.search(user_agent)
    if match:
        return match.group(1).lower()
    first = user_agent.strip().split("/", 1)[0].split(" ", 1)[0]
    return first.lower()[:40] or "unknown"


class ClientState:
    """An identity's client families and how often it turns up with a new one."""

    __slots__ = ("families", "novelty")

    def __init__(self) -> None:
        self.families = DecayingCounter()
        self.novelty = 0.0  # running share of learned events made with a new family


class Client(DetectorBase):
    """A client software family new to the identity.

    Like networks, novelty is weighed by how often the identity turns up with a new
    client at all (a person tries tools; a service's agent does not change), and a family
    becomes the identity's own through trusted use.

    Parameters
    ----------
    half_life
        Seconds after which an observation counts half.
    established
        Trusted (decayed) events with a client before it counts as known.
    max_clients
        Client families remembered per identity.
    memory
        Events the running rate of new clients effectively averages over.
    """

    name: ClassVar[str] = "client"

    def __init__(
        self,
        half_life: float = 30 * 86400.0,
        established: float = 1.0,
        max_clients: int = 4,
        memory: int = 500,
    ) -> None:
        self.half_life = half_life
        self.established = established
        self.max_clients = max_clients
        self.memory = memory
        self._decay = Decay(half_life)

    @classmethod
    def _unit_test_params(cls):
        yield {"established": 2.0, "max_clients": 2}

    def score_one(self, event: EnrichedEvent, state: IdentityState) -> Finding | None:
        clients: ClientState | None = state.client
        agent = event.event.user_agent
        if clients is None or not agent:
            return None
        family = client_family(agent)
        time = event.event.time
        if self._known(clients, family, time):
            return None
        known = min(state.learned, self.memory)
        p_new = (clients.novelty * known + 0.5) / (known + 1.0)
        usual = ", ".join(f"{k} {share:.0%}" for k, share in clients.families.most_common(3))
        return combine(
            self.name,
            [
                Signal(
                    0.6 * surprise(p_new, decades=2.5),
                    f"first use of client {family!r} by {event.display_identity} "
                    f"({p_new:.1%} of its requests come with a new client), its clients: "
                    f"{usual or 'none yet'}",
                )
            ],
            client=family,
        )

    def learn_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        agent = event.event.user_agent
        if not agent:
            return
        clients: ClientState | None = state.client
        if clients is None:
            clients = state.client = ClientState()
        family, time = client_family(agent), event.event.time
        new = not self._known(clients, family, time)
        clients.novelty += (float(new) - clients.novelty) / min(state.learned + 1, self.memory)
        # Trust-weighted, as places are: a thief's tool does not become the owner's at once.
        clients.families.add(family, time, self._decay, self.max_clients, 1.0 - 0.5 * event.risk)

    def _known(self, clients: ClientState, family: str, time: float) -> bool:
        return clients.families.effective(family, time, self._decay) >= self.established
