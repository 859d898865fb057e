"""Where the simulated organisation's requests come from: named address pools.

Every address the simulator writes is drawn from one pool, and every public pool says
which country (and, for small blocks, which city) the embedded GeoLite2-City database
places it in: a detector that reasons about location must see the places the scenarios
describe. The blocks were chosen against that database (its 2018 edition: Google Cloud
ranges geolocate to Mountain View there, wherever the region) and the tests check every
address the simulator writes against it.

Private pools are the organisation's own networks (the inventory lists them as the
services' CIDRs); they are not looked up.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["POOLS", "AddressPool", "pool_of"]


@dataclass(frozen=True, slots=True)
class AddressPool:
    """A set of networks one kind of client uses.

    Parameters
    ----------
    name
        Short name, used by the organisation and the scenarios.
    cidrs
        The networks; addresses are drawn uniformly from all of them.
    kind
        ``private``, ``office``, ``residential``, ``cloud``, ``hosting`` or ``mobile``.
    country
        ISO code GeoLite2 gives every address of the pool (``None`` for private pools).
    city
        The city GeoLite2 gives every address, where the blocks are that precise.
    description
        Who uses these addresses, for a reader of the organisation.
    """

    name: str
    cidrs: tuple[str, ...]
    kind: str
    country: str | None = None
    city: str | None = None
    description: str = ""
    _blocks: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        blocks = []
        for cidr in self.cidrs:
            net = ipaddress.ip_network(cidr)
            blocks.append((int(net.network_address), net.num_addresses))
        object.__setattr__(self, "_blocks", tuple(blocks))

    def pick(self, rng: random.Random) -> str:
        """One address of the pool; never the .0 or .255 of a block larger than a /29."""
        total = sum(size for _, size in self._blocks)
        while True:
            offset = rng.randrange(total)
            for base, size in self._blocks:
                if offset < size:
                    value = base + offset
                    if size <= 8 or value & 0xFF not in (0, 255):
                        return str(ipaddress.IPv4Address(value))
                    break
                offset -= size

    def __contains__(self, ip: str) -> bool:
        value = int(ipaddress.IPv4Address(ip))
        return any(base <= value < base + size for base, size in self._blocks)


def _pools(*pools: AddressPool) -> dict[str, AddressPool]:
    return {pool.name: pool for pool in pools}


#: Every pool the simulation draws from, by name.
POOLS: dict[str, AddressPool] = _pools(
    # -- the organisation's own networks -----------------------------------------------
    AddressPool("cart-hosts", ("10.1.0.0/24",), "private", description="cart VMs, DC Berlin"),
    AddressPool("billing-pods", ("10.2.16.0/24",), "private", description="billing node pool"),
    AddressPool(
        "notifications-pods", ("10.2.32.0/24",), "private", description="notifications nodes"
    ),
    AddressPool("auth-gateway-hosts", ("10.3.0.0/24",), "private", description="gateway VMs"),
    AddressPool("inventory-hosts", ("172.16.4.0/24",), "private", description="inventory VMs"),
    AddressPool("staging-hosts", ("10.20.0.0/24",), "private", description="staging VMs"),
    AddressPool("ops-hosts", ("10.9.0.0/24",), "private", description="backup, rotation, bastion"),
    # -- public clouds the services and CI run in --------------------------------------
    AddressPool(
        "aws-eu-central-1",
        ("3.120.0.0/14", "18.184.0.0/15", "52.58.0.0/15"),
        "cloud",
        "DE",
        "Frankfurt am Main",
        "AWS Frankfurt NAT gateway addresses",
    ),
    AddressPool(
        "aws-us-east-1",
        ("54.80.0.0/13", "18.204.0.0/14"),
        "cloud",
        "US",
        "Ashburn",
        "AWS N. Virginia NAT gateway addresses",
    ),
    AddressPool(
        "gcp-us-west1",
        ("35.233.0.0/16",),
        "cloud",
        "US",
        "Mountain View",
        "Google Cloud NAT addresses (GeoLite2 2018 places them at Google's seat)",
    ),
    AddressPool(
        "github-actions",
        ("13.82.0.0/16", "13.90.0.0/16", "40.76.0.0/16", "52.168.0.0/16", "20.185.0.0/16"),
        "cloud",
        "US",
        "Washington",
        "GitHub-hosted runners (Azure East US): a new address every run",
    ),
    # -- offices: a few static NAT addresses each ---------------------------------------
    AddressPool(
        "berlin-office", ("87.138.104.16/29",), "office", "DE", "Berlin", "Telekom business line"
    ),
    AddressPool("newyork-office", ("72.69.0.32/29",), "office", "US", "New York", "NYC office"),
    AddressPool(
        "bangalore-office", ("106.51.70.64/29",), "office", "IN", "Bengaluru", "ACT fibre line"
    ),
    AddressPool("saopaulo-office", ("200.158.10.96/29",), "office", "BR", "São Paulo", "SP office"),
    # -- where people live ----------------------------------------------------------------
    AddressPool(
        "berlin-home-cable", ("91.65.0.0/17",), "residential", "DE", None, "Vodafone cable"
    ),
    AddressPool("berlin-home-dsl", ("93.193.80.0/21",), "residential", "DE", None, "Telekom DSL"),
    AddressPool(
        "newyork-home",
        ("74.65.192.0/20", "67.80.24.0/21"),
        "residential",
        "US",
        "Brooklyn",
        "Spectrum and Optimum, Brooklyn",
    ),
    AddressPool(
        "newyork-hotel", ("66.108.16.0/20",), "residential", "US", "New York", "Manhattan hotel"
    ),
    AddressPool(
        "bangalore-home", ("122.172.32.0/19",), "residential", "IN", None, "Bengaluru broadband"
    ),
    AddressPool(
        "saopaulo-home",
        ("189.62.0.0/17",),
        "residential",
        "BR",
        "São Paulo",
        "São Paulo broadband",
    ),
    # -- attackers --------------------------------------------------------------------------
    AddressPool(
        "do-amsterdam", ("188.166.0.0/18",), "hosting", "NL", "Amsterdam", "DigitalOcean AMS"
    ),
    AddressPool(
        "do-singapore", ("128.199.128.0/17",), "hosting", "SG", "Singapore", "DigitalOcean SGP"
    ),
    AddressPool("ovh-roubaix", ("151.80.36.0/24",), "hosting", "FR", "Roubaix", "OVH Roubaix"),
    AddressPool("vps-pula", ("5.188.10.0/24",), "hosting", "HR", "Pula", "hosting range"),
    AddressPool("hosting-ru", ("95.213.128.0/18",), "hosting", "RU", None, "Russian hoster"),
    AddressPool(
        "nj-residential", ("73.10.0.0/20",), "residential", "US", None, "Comcast, New Jersey"
    ),
    AddressPool("ng-mobile", ("105.112.0.0/16",), "mobile", "NG", None, "Nigerian mobile"),
    # -- attackers who know the detector: networks in their victims' own cities ---------
    AddressPool(
        "do-frankfurt",
        ("46.101.128.0/17",),
        "hosting",
        "DE",
        "Frankfurt am Main",
        "DigitalOcean FRA1, the city of the AWS Frankfurt NAT addresses",
    ),
    AddressPool(
        "aws-sa-east-1",
        ("18.228.0.0/16",),
        "cloud",
        "BR",
        "São Paulo",
        "AWS São Paulo EC2 addresses, an attacker's instance",
    ),
    AddressPool(
        "strato-berlin",
        ("81.169.192.0/18",),
        "hosting",
        "DE",
        "Berlin",
        "Strato virtual servers, Berlin",
    ),
)


@lru_cache(maxsize=65536)
def pool_of(ip: str) -> AddressPool | None:
    """The pool an address was drawn from (the first that holds it), or ``None``."""
    for pool in POOLS.values():
        if ip in pool:
            return pool
    return None
