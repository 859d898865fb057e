"""Who exists in the simulated organisation: teams, services, people, pipelines, jobs.

"Acme Shop" sells online from Berlin, with engineers in New York, Bengaluru and São
Paulo. Its services run in its own data centre (private 10.x and 172.16.x networks), in
AWS Frankfurt and N. Virginia and in Google Cloud; GitHub Actions builds and deploys
them; nightly jobs back up databases and feed the warehouse. Everything here is data:
the behaviour lives in :mod:`~detector.simulate.services`, :mod:`~detector.simulate.people`
and :mod:`~detector.simulate.automation`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BATCH_JOBS",
    "CITIES",
    "CI_REPOS",
    "DATABASE_ROLES",
    "DEPLOY_PIPELINE",
    "KV1_SECRETS",
    "KV2_SECRETS",
    "PASSWORDS",
    "PEOPLE",
    "POLICIES",
    "SERVICES",
    "BatchJobSpec",
    "City",
    "CiRepoSpec",
    "PersonSpec",
    "ServiceSpec",
]


# -- secrets ------------------------------------------------------------------------------

_CREDS = ("username", "password")


def _secrets(prefix: str, **fields: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {f"{prefix}/{name.replace('_', '-')}": f for name, f in fields.items()}


_CI_NAMES = (
    "npm-token sonar-token codecov-token docker-registry sentry-auth-token snyk-token "
    "test-db pact-broker gradle-publish cypress-record-key chromatic-token percy-token "
    "lighthouse-token github-packages maven-settings pypi-token e2e-admin feature-flags-ci "
    "browserstack-key slack-release-webhook"
).split()
_ETL_SOURCES = (
    "salesforce hubspot zendesk stripe-export google-ads facebook-ads shopify netsuite jira "
    "github intercom mixpanel amplitude segment braze klaviyo marketo quickbooks xero "
    "workday greenhouse gong outreach pendo linkedin-ads bing-ads tiktok-ads snowflake "
    "bigquery s3-exports"
).split()

#: KV v2 secrets under ``secret/``: logical path -> field names.
KV2_SECRETS: dict[str, tuple[str, ...]] = {
    **_secrets(
        "shop/cart",
        db=_CREDS,
        redis=("password",),
        session_key=("key",),
        stripe_webhook_secret=("secret",),
        feature_flags=("sdk_key",),
    ),
    **_secrets(
        "shop/inventory",
        db=_CREDS,
        supplier_api_key=("api_key",),
        erp_credentials=_CREDS,
        s3_access=("access_key_id", "secret_access_key"),
        warehouse_api_token=("token",),
    ),
    **_secrets(
        "shop/staging/checkout",
        db=_CREDS,
        stripe_test_key=("key",),
        redis=("password",),
    ),
    **_secrets(
        "shop/frontend",
        sentry_dsn=("dsn",),
        cdn_signing_key=("key",),
        recaptcha_secret=("secret",),
        google_maps_key=("key",),
    ),
    **_secrets(
        "shop/marketing",
        mailchimp_api_key=("key",),
        segment_write_key=("key",),
        facebook_capi_token=("token",),
    ),
    **_secrets(
        "payments/billing",
        db=_CREDS,
        stripe_api_key=("secret_key", "publishable_key"),
        card_vault_key=("key",),
        pgp_signing_key=("private_key", "passphrase"),
        bank_sftp=("username", "private_key"),
    ),
    **_secrets(
        "payments/payments-api",
        db=_CREDS,
        adyen_api_key=("api_key", "hmac_key"),
        hmac_secret=("secret",),
        fraud_api_token=("token",),
    ),
    **_secrets(
        "platform/search",
        opensearch_admin=_CREDS,
        opensearch_reader=_CREDS,
        synonyms_api_key=("key",),
    ),
    **_secrets(
        "platform/auth-gateway",
        jwt_signing_key=("private_key",),
        oauth_client_secret=("client_id", "client_secret"),
        session_secret=("secret",),
    ),
    **_secrets(
        "platform/notifications",
        smtp=_CREDS,
        twilio_token=("account_sid", "auth_token"),
        firebase_key=("service_account_json",),
    ),
    **_secrets("data/reporting", warehouse=_CREDS, looker_api=("client_id", "client_secret")),
    **{f"data/etl/connectors/{s}": ("api_key",) for s in _ETL_SOURCES},
    **_secrets(
        "sre/backup",
        gpg_key=("private_key", "passphrase"),
        s3_credentials=("access_key_id", "secret_access_key"),
    ),
    **_secrets(
        "sre/monitoring",
        pagerduty_token=("token",),
        grafana_admin=_CREDS,
        datadog_api_key=("api_key", "app_key"),
    ),
    **{f"ci/{repo}/{name}": ("value",) for repo in ("shop", "payments") for name in _CI_NAMES},
    **{f"ci/{repo}/{name}": ("value",) for repo in ("platform",) for name in _CI_NAMES[:16]},
    **{f"ci/data-pipelines/{name}": ("value",) for name in _CI_NAMES[:12]},
    **{
        f"ci/shared/{name}": ("value",)
        for name in (
            "docker-hub",
            "github-app-key",
            "slack-webhook",
            "artifactory",
            "cosign-key",
            "terraform-cloud-token",
            "renovate-token",
            "dependency-track",
        )
    },
    **_secrets(
        "ci/deploy",
        kubeconfig_prod=("kubeconfig",),
        argocd_token=("token",),
        registry_push=_CREDS,
        helm_repo=_CREDS,
    ),
}

#: Secrets that do not exist until someone writes them during the run.
UNBORN_SECRETS = tuple(p for p in KV2_SECRETS if p.startswith("platform/notifications/"))

#: KV v1 secrets under ``kv-legacy/``.
KV1_SECRETS: dict[str, tuple[str, ...]] = {
    "ops/smtp": ("password",),
    "ops/s3-backup": ("access_key", "secret_key"),
    "ops/ldap-bind": ("bind_dn", "password"),
    "shop/inventory-feed": ("url", "token"),
    "shop/legacy-ftp": _CREDS,
    "payments/legacy-sftp": ("username", "private_key"),
}

#: Dynamic database roles (``database/creds/<role>``).
DATABASE_ROLES = (
    "cart",
    "inventory",
    "billing",
    "payments-api",
    "payments-migrate",
    "reporting-ro",
    "reporting-rw",
    "backup-cart",
    "backup-inventory",
    "backup-billing",
    "backup-payments",
    "backup-reporting",
)

# -- policies -----------------------------------------------------------------------------


def _team_dev(team: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [
        (f"secret/data/{team}/*", "read create update"),
        (f"secret/metadata/{team}/*", "read list"),
        (f"kv-legacy/{team}/*", "read list"),
        *extra,
    ]


def _ci(repo: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [(f"secret/data/ci/{repo}/*", "read"), ("secret/data/ci/shared/*", "read"), *extra]


#: ACL policies by name: (path pattern, capabilities).
POLICIES: dict[str, list[tuple[str, str]]] = {
    "default": [
        ("auth/token/lookup-self", "read"),
        ("auth/token/renew-self", "update"),
        ("auth/token/revoke-self", "update"),
        ("sys/capabilities-self", "update"),
        ("sys/internal/ui/resultant-acl", "read"),
        ("sys/internal/ui/mounts", "read"),
        ("sys/internal/ui/mounts/*", "read"),
        ("sys/leases/renew", "update"),
        ("sys/leases/lookup", "update"),
    ],
    # A shortcut taken long ago: cart may read every shop secret, not only its own.
    "cart": [("secret/data/shop/*", "read"), ("database/creds/cart", "read")],
    "inventory": [
        ("secret/data/shop/inventory/*", "read"),
        ("kv-legacy/shop/*", "read"),
        ("database/creds/inventory", "read"),
    ],
    "checkout-staging": [("secret/data/shop/staging/*", "read")],
    "billing": [
        ("secret/data/payments/billing/*", "read"),
        ("database/creds/billing", "read"),
        ("transit/encrypt/card-data", "update"),
        ("transit/decrypt/card-data", "update"),
    ],
    "payments-api": [
        ("secret/data/payments/payments-api/*", "read"),
        ("database/creds/payments-api", "read"),
        ("transit/encrypt/card-data", "update"),
    ],
    "search": [("secret/data/platform/search/*", "read")],
    "auth-gateway": [
        ("secret/data/platform/auth-gateway/*", "read"),
        ("pki_int/issue/auth-gateway", "update"),
        ("transit/encrypt/session", "update"),
        ("transit/decrypt/session", "update"),
    ],
    "notifications": [("secret/data/platform/notifications/*", "read")],
    "reporting": [
        ("secret/data/data/reporting/*", "read"),
        ("database/creds/reporting-ro", "read"),
    ],
    "backup": [
        ("database/creds/backup-*", "read"),
        ("kv-legacy/ops/*", "read"),
        ("secret/data/sre/backup/*", "read"),
    ],
    "etl": [
        ("secret/data/data/etl/*", "read"),
        ("database/creds/reporting-rw", "read"),
        ("transit/decrypt/pii", "update"),
    ],
    "secret-rotator": [
        ("secret/data/*", "read create update"),
        ("secret/metadata/*", "read list"),
    ],
    "ci-shop": _ci("shop"),
    # Deploy jobs run the payments database migrations, so CI may read payments secrets.
    "ci-payments": _ci(
        "payments",
        ("secret/data/payments/*", "read"),
        ("database/creds/payments-migrate", "read"),
    ),
    "ci-platform": _ci("platform"),
    "ci-data": _ci("data-pipelines"),
    "ci-deploy": [("secret/data/ci/deploy/*", "read")],
    "shop-dev": _team_dev(
        "shop", ("database/creds/cart", "read"), ("database/creds/inventory", "read")
    ),
    "payments-dev": _team_dev(
        "payments", ("database/creds/billing", "read"), ("database/creds/payments-api", "read")
    ),
    "platform-dev": _team_dev(
        "platform",
        ("auth/token/create", "update"),
        ("auth/token/revoke-accessor", "update"),
        ("pki_int/issue/*", "update"),
    ),
    # Finance reconciliation once needed the billing database: the grant stayed.
    "data-eng": _team_dev(
        "data",
        ("secret/data/payments/billing/*", "read"),
        ("database/creds/reporting-ro", "read"),
    ),
    "sre": [
        ("secret/data/*", "read create update"),
        ("secret/metadata/*", "read list"),
        ("kv-legacy/*", "read list"),
        ("database/creds/*", "read"),
        ("sys/leases/*", "update list"),
        ("pki_int/issue/*", "update"),
    ],
    "sre-admin": [
        ("secret/data/*", "read create update"),
        ("sys/policies/acl", "list"),
        ("sys/policies/acl/*", "read create update"),
        ("sys/mounts", "read"),
        ("sys/mounts/*", "read update"),
        ("sys/auth", "read"),
        ("sys/auth/*", "read update sudo"),
        ("sys/audit", "read sudo"),
        ("auth/approle/role", "list"),
        ("auth/approle/role/*", "read create update"),
        ("auth/kubernetes/role/*", "read create update"),
        ("auth/token/create", "update"),
        ("auth/token/create-orphan", "update sudo"),
        ("auth/token/revoke-accessor", "update"),
        ("auth/token/lookup-accessor", "update"),
    ],
}

# -- services -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSpec:
    """A service: how it authenticates, where it runs and what it reads how often.

    ``templates`` are re-read every ``template_interval`` seconds (Vault Agent templates,
    an SDK's refresh); ``traffic`` are calls driven by the service's own load: (operation,
    path, calls per hour per host on an average hour), shaped by ``profile`` in
    ``timezone``. A token lives ``token_ttl`` seconds and is renewed up to
    ``token_max_ttl``, then the host logs in again and gets a new accessor. A service in a
    public cloud reaches Vault through ``nat_addresses`` NAT gateway addresses; a new one
    goes live at ``deployed_at`` (a fraction of the period). ``stale_reads`` is the chance,
    per new login, that a cron job on the host later reads once with the old, expired
    token (denied, as a revoked token would be).
    """

    name: str
    team: str
    environment: str
    criticality: str
    auto_revoke: bool
    auth: str
    role: str
    pool: str
    hosts: int
    user_agent: str
    token_ttl: int
    token_max_ttl: int
    templates: tuple[str, ...]
    template_interval: int
    traffic: tuple[tuple[str, str, float], ...] = ()
    profile: str = "flat"
    timezone: str = "Europe/Berlin"
    business_hours_only: bool = False
    nat_addresses: int = 0
    restarts_per_week: float = 0.0
    k8s_namespace: str = ""
    deployed_at: float = 0.0
    stale_reads: float = 0.0
    namespaces: tuple[str, ...] = ()

    @property
    def policy(self) -> str:
        """Each service has a policy of its own name."""
        return self.name


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        name="cart",
        team="shop",
        environment="prod",
        criticality="high",
        auto_revoke=True,
        auth="approle",
        role="cart",
        pool="cart-hosts",
        hosts=3,
        user_agent="vault-agent/1.17",
        token_ttl=3600,
        token_max_ttl=86400,
        templates=(
            "secret/data/shop/cart/db",
            "secret/data/shop/cart/redis",
            "secret/data/shop/cart/session-key",
        ),
        template_interval=900,
        traffic=(("read", "database/creds/cart", 1.5),),
        profile="shop",
        namespaces=("secret/data/shop/cart/*", "database/creds/cart"),
    ),
    ServiceSpec(
        name="billing",
        team="payments",
        environment="prod",
        criticality="critical",
        auto_revoke=False,
        auth="kubernetes",
        role="billing",
        pool="billing-pods",
        hosts=3,
        user_agent="Apache-HttpClient/4.5.14 (Java/17.0.9)",
        token_ttl=3600,
        token_max_ttl=2764800,
        templates=(
            "secret/data/payments/billing/db",
            "secret/data/payments/billing/stripe-api-key",
            "secret/data/payments/billing/card-vault-key",
        ),
        template_interval=3600,
        traffic=(
            ("update", "transit/decrypt/card-data", 8.0),
            ("update", "transit/encrypt/card-data", 3.0),
            ("read", "database/creds/billing", 0.5),
        ),
        profile="shop",
        restarts_per_week=3,
        k8s_namespace="payments",
        namespaces=(
            "secret/data/payments/billing/*",
            "database/creds/billing",
            "transit/*/card-data",
        ),
    ),
    ServiceSpec(
        name="payments-api",
        team="payments",
        environment="prod",
        criticality="critical",
        auto_revoke=False,
        auth="kubernetes",
        role="payments-api",
        pool="aws-eu-central-1",
        hosts=2,
        user_agent="Go-http-client/1.1",
        token_ttl=3600,
        token_max_ttl=86400,
        templates=(
            "secret/data/payments/payments-api/db",
            "secret/data/payments/payments-api/adyen-api-key",
            "secret/data/payments/payments-api/hmac-secret",
        ),
        template_interval=1200,
        traffic=(("update", "transit/encrypt/card-data", 4.0),),
        profile="shop",
        nat_addresses=2,
        restarts_per_week=4,
        k8s_namespace="payments",
        namespaces=(
            "secret/data/payments/payments-api/*",
            "database/creds/payments-api",
            "transit/encrypt/card-data",
        ),
    ),
    ServiceSpec(
        name="inventory",
        team="shop",
        environment="prod",
        criticality="medium",
        auto_revoke=True,
        auth="approle",
        role="inventory",
        pool="inventory-hosts",
        hosts=2,
        user_agent="vault-agent/1.16",
        token_ttl=43200,
        token_max_ttl=43200,
        templates=(
            "secret/data/shop/inventory/db",
            "secret/data/shop/inventory/supplier-api-key",
            "secret/data/shop/inventory/erp-credentials",
            "kv-legacy/shop/inventory-feed",
        ),
        template_interval=1200,
        traffic=(("read", "database/creds/inventory", 1.0),),
        stale_reads=0.12,
        namespaces=(
            "secret/data/shop/inventory/*",
            "kv-legacy/shop/*",
            "database/creds/inventory",
        ),
    ),
    ServiceSpec(
        name="search",
        team="platform",
        environment="prod",
        criticality="medium",
        auto_revoke=True,
        auth="kubernetes",
        role="search",
        pool="gcp-us-west1",
        hosts=2,
        user_agent="Go-http-client/2.0",
        token_ttl=14400,
        token_max_ttl=14400,
        templates=(
            "secret/data/platform/search/opensearch-admin",
            "secret/data/platform/search/opensearch-reader",
        ),
        template_interval=1800,
        traffic=(("read", "secret/data/platform/search/synonyms-api-key", 2.0),),
        profile="shop",
        nat_addresses=2,
        restarts_per_week=2,
        k8s_namespace="platform",
        namespaces=("secret/data/platform/search/*",),
    ),
    ServiceSpec(
        name="auth-gateway",
        team="platform",
        environment="prod",
        criticality="critical",
        auto_revoke=False,
        auth="approle",
        role="auth-gateway",
        pool="auth-gateway-hosts",
        hosts=2,
        user_agent="vault-agent/1.17",
        token_ttl=3600,
        token_max_ttl=28800,
        templates=(
            "secret/data/platform/auth-gateway/jwt-signing-key",
            "secret/data/platform/auth-gateway/oauth-client-secret",
            "secret/data/platform/auth-gateway/session-secret",
        ),
        template_interval=900,
        traffic=(
            ("update", "transit/decrypt/session", 6.0),
            ("update", "pki_int/issue/auth-gateway", 1 / 6),
        ),
        profile="shop",
        namespaces=(
            "secret/data/platform/auth-gateway/*",
            "pki_int/issue/auth-gateway",
            "transit/*/session",
        ),
    ),
    ServiceSpec(
        name="reporting",
        team="data",
        environment="prod",
        criticality="medium",
        auto_revoke=True,
        auth="approle",
        role="reporting",
        pool="aws-us-east-1",
        hosts=1,
        user_agent="python-requests/2.32.3",
        token_ttl=7200,
        token_max_ttl=7200,
        templates=(),
        template_interval=0,
        traffic=(
            ("read", "database/creds/reporting-ro", 2.0),
            ("read", "secret/data/data/reporting/warehouse", 1.5),
            ("read", "secret/data/data/reporting/looker-api", 1.5),
        ),
        profile="office",
        timezone="America/New_York",
        nat_addresses=1,
        namespaces=("secret/data/data/reporting/*", "database/creds/reporting-ro"),
    ),
    ServiceSpec(
        name="checkout-staging",
        team="shop",
        environment="staging",
        criticality="low",
        auto_revoke=True,
        auth="approle",
        role="checkout-staging",
        pool="staging-hosts",
        hosts=1,
        user_agent="vault-agent/1.17",
        token_ttl=3600,
        token_max_ttl=3600,
        templates=(
            "secret/data/shop/staging/checkout/db",
            "secret/data/shop/staging/checkout/stripe-test-key",
            "secret/data/shop/staging/checkout/redis",
        ),
        template_interval=600,
        business_hours_only=True,
        namespaces=("secret/data/shop/staging/*",),
    ),
    ServiceSpec(
        name="notifications",
        team="platform",
        environment="prod",
        criticality="medium",
        auto_revoke=True,
        auth="kubernetes",
        role="notifications",
        pool="notifications-pods",
        hosts=2,
        user_agent="axios/1.7.7",
        token_ttl=3600,
        token_max_ttl=86400,
        templates=(
            "secret/data/platform/notifications/smtp",
            "secret/data/platform/notifications/twilio-token",
            "secret/data/platform/notifications/firebase-key",
        ),
        template_interval=900,
        profile="shop",
        restarts_per_week=5,
        k8s_namespace="platform",
        deployed_at=0.45,
        namespaces=("secret/data/platform/notifications/*",),
    ),
)

# -- people -------------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    """Where people live and work: time zone, office line, home providers."""

    timezone: str
    office: str
    homes: tuple[str, ...]


CITIES: dict[str, City] = {
    "berlin": City("Europe/Berlin", "berlin-office", ("berlin-home-cable", "berlin-home-dsl")),
    "newyork": City("America/New_York", "newyork-office", ("newyork-home",)),
    "bangalore": City("Asia/Kolkata", "bangalore-office", ("bangalore-home",)),
    "saopaulo": City("America/Sao_Paulo", "saopaulo-office", ("saopaulo-home",)),
}

_CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)
_CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)
_FIREFOX_LINUX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Safari/605.1.15"
)
_EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0"
)


@dataclass(frozen=True)
class PersonSpec:
    """A person: how they log in, their team's policy, city, habits and tools.

    ``ui_share`` is how much of their work is in the browser rather than the CLI;
    ``office_days`` the weekdays (Monday 0) they go to the office.
    """

    username: str
    method: str
    team: str
    policies: tuple[str, ...]
    city: str
    browser: str
    cli: str
    ui_share: float
    office_days: tuple[int, ...]
    start_hour: float
    end_hour: float
    sessions_per_day: float = 4.0
    admin: bool = False

    @property
    def email(self) -> str:
        return f"{self.username}@acme.example"

    @property
    def display_name(self) -> str:
        if self.method == "oidc":
            return f"oidc-{self.email}"
        return f"userpass-{self.username}"


PEOPLE: tuple[PersonSpec, ...] = (
    PersonSpec(
        username="mia",
        method="userpass",
        team="sre",
        policies=("sre", "sre-admin"),
        city="berlin",
        browser=_FIREFOX_LINUX,
        cli="Vault CLI/1.17",
        ui_share=0.2,
        office_days=(0, 1, 3),
        start_hour=8.5,
        end_hour=17.5,
        admin=True,
    ),
    PersonSpec(
        username="tobias",
        method="userpass",
        team="sre",
        policies=("sre",),
        city="berlin",
        browser=_CHROME_MAC,
        cli="Vault CLI/1.17",
        ui_share=0.5,
        office_days=(1, 2, 3),
        start_hour=9.0,
        end_hour=18.0,
    ),
    PersonSpec(
        username="jonas",
        method="userpass",
        team="shop",
        policies=("shop-dev",),
        city="berlin",
        browser=_CHROME_MAC,
        cli="Vault CLI/1.18",
        ui_share=0.8,
        office_days=(0, 2, 4),
        start_hour=9.5,
        end_hour=18.5,
    ),
    PersonSpec(
        username="lena",
        method="userpass",
        team="payments",
        policies=("payments-dev",),
        city="berlin",
        browser=_SAFARI,
        cli="Vault CLI/1.17",
        ui_share=0.9,
        office_days=(0, 1, 2, 3),
        start_hour=8.0,
        end_hour=16.5,
    ),
    PersonSpec(
        username="felix",
        method="userpass",
        team="shop",
        policies=("shop-dev",),
        city="berlin",
        browser=_CHROME_WIN,
        cli="Vault CLI/1.16",
        ui_share=0.6,
        office_days=(1, 3),
        start_hour=10.0,
        end_hour=19.0,
    ),
    PersonSpec(
        username="sam",
        method="oidc",
        team="platform",
        policies=("platform-dev",),
        city="newyork",
        browser=_CHROME_MAC,
        cli="Vault CLI/1.18",
        ui_share=0.3,
        office_days=(1, 2, 3),
        start_hour=9.0,
        end_hour=17.5,
    ),
    PersonSpec(
        username="olivia",
        method="oidc",
        team="payments",
        policies=("payments-dev",),
        city="newyork",
        browser=_SAFARI,
        cli="Vault CLI/1.17",
        ui_share=0.9,
        office_days=(0, 1, 2, 3),
        start_hour=8.5,
        end_hour=17.0,
    ),
    PersonSpec(
        username="noah",
        method="oidc",
        team="data",
        policies=("data-eng",),
        city="newyork",
        browser=_CHROME_WIN,
        cli="Vault CLI/1.17",
        ui_share=0.8,
        office_days=(1, 3),
        start_hour=9.5,
        end_hour=18.0,
        sessions_per_day=3.0,
    ),
    PersonSpec(
        username="arjun",
        method="userpass",
        team="platform",
        policies=("platform-dev",),
        city="bangalore",
        browser=_FIREFOX_LINUX,
        cli="Vault CLI/1.17",
        ui_share=0.3,
        office_days=(0, 1, 2, 3, 4),
        start_hour=10.0,
        end_hour=19.0,
    ),
    PersonSpec(
        username="divya",
        method="userpass",
        team="data",
        policies=("data-eng",),
        city="bangalore",
        browser=_EDGE,
        cli="Vault CLI/1.15",
        ui_share=0.85,
        office_days=(0, 2, 4),
        start_hour=9.5,
        end_hour=18.0,
        sessions_per_day=3.0,
    ),
    PersonSpec(
        username="ravi",
        method="userpass",
        team="sre",
        policies=("sre", "sre-admin"),
        city="bangalore",
        browser=_CHROME_WIN,
        cli="Vault CLI/1.17",
        ui_share=0.25,
        office_days=(0, 1, 2, 3),
        start_hour=9.0,
        end_hour=18.0,
        admin=True,
    ),
    PersonSpec(
        username="lucas",
        method="oidc",
        team="shop",
        policies=("shop-dev",),
        city="saopaulo",
        browser=_CHROME_MAC,
        cli="Vault CLI/1.18",
        ui_share=0.5,
        office_days=(1, 2, 3),
        start_hour=9.0,
        end_hour=18.0,
    ),
    PersonSpec(
        username="camila",
        method="oidc",
        team="payments",
        policies=("payments-dev",),
        city="saopaulo",
        browser=_CHROME_WIN,
        cli="Vault CLI/1.17",
        ui_share=0.9,
        office_days=(0, 2, 3),
        start_hour=8.5,
        end_hour=17.5,
        sessions_per_day=3.0,
    ),
)

#: Passwords that are not what they should be (the spray finds this one).
PASSWORDS = {"arjun": "Acme2026!"}

# -- pipelines and jobs -------------------------------------------------------------------


@dataclass(frozen=True)
class CiRepoSpec:
    """A GitHub repository whose workflows read CI secrets through JWT auth."""

    repository: str
    team: str
    role: str
    runs_per_workday: float
    secrets_prefix: str


CI_REPOS: tuple[CiRepoSpec, ...] = (
    CiRepoSpec("acme/shop", "shop", "ci-shop", 12, "ci/shop/"),
    CiRepoSpec("acme/payments", "payments", "ci-payments", 8, "ci/payments/"),
    CiRepoSpec("acme/platform", "platform", "ci-platform", 10, "ci/platform/"),
    CiRepoSpec("acme/data-pipelines", "data", "ci-data", 5, "ci/data-pipelines/"),
)

#: The deploy workflow logs in with an AppRole whose secret id is a repository secret.
DEPLOY_PIPELINE = {"role": "ci-deploy", "runs_per_workday": 3.0, "prefix": "ci/deploy/"}


@dataclass(frozen=True)
class BatchJobSpec:
    """A scheduled job: when it runs (local time) and what it reads."""

    name: str
    team: str
    role: str
    pool: str
    address: str
    user_agent: str
    timezone: str
    hour: float
    weekdays: tuple[int, ...]
    reads: tuple[tuple[str, str], ...]
    writes: tuple[str, ...] = ()
    token_ttl: int = 7200
    namespaces: tuple[str, ...] = ()


BATCH_JOBS: tuple[BatchJobSpec, ...] = (
    BatchJobSpec(
        "backup",
        "sre",
        "backup",
        "ops-hosts",
        "10.9.0.10",
        "Vault CLI/1.17",
        "Europe/Berlin",
        2.0,
        (0, 1, 2, 3, 4, 5, 6),
        (
            *(
                ("read", f"database/creds/backup-{db}")
                for db in ("cart", "inventory", "billing", "payments", "reporting")
            ),
            ("read", "kv-legacy/ops/s3-backup"),
            ("read", "secret/data/sre/backup/gpg-key"),
            ("read", "secret/data/sre/backup/s3-credentials"),
        ),
        namespaces=("database/creds/backup-*", "kv-legacy/ops/*", "secret/data/sre/backup/*"),
    ),
    BatchJobSpec(
        "etl-nightly",
        "data",
        "etl",
        "aws-eu-central-1",
        "",
        "python-requests/2.32.3",
        "Europe/Berlin",
        2.0,
        (0, 1, 2, 3, 4, 5, 6),
        (
            ("read", "database/creds/reporting-rw"),
            *(("read", f"secret/data/data/etl/connectors/{s}") for s in _ETL_SOURCES),
            *(("update", "transit/decrypt/pii") for _ in range(10)),
        ),
        token_ttl=14400,
        namespaces=("secret/data/data/etl/*", "database/creds/reporting-rw", "transit/decrypt/pii"),
    ),
    BatchJobSpec(
        "secret-rotator",
        "sre",
        "secret-rotator",
        "ops-hosts",
        "10.9.0.20",
        "Go-http-client/1.1",
        "Europe/Berlin",
        3.0,
        (1,),
        (),
        writes=(
            "shop/cart/redis",
            "shop/cart/session-key",
            "shop/inventory/supplier-api-key",
            "shop/inventory/warehouse-api-token",
            "payments/billing/stripe-api-key",
            "payments/payments-api/hmac-secret",
            "platform/auth-gateway/session-secret",
            "platform/search/opensearch-reader",
            "data/reporting/looker-api",
            "sre/monitoring/grafana-admin",
            "ci/shared/slack-webhook",
            "shop/frontend/cdn-signing-key",
        ),
        namespaces=("secret/data/*", "secret/metadata/*"),
    ),
)
