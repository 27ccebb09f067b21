"""Login brute-force protection against the probe's findings: every padding
and case variant of an e-mail is one account (one counter, one lock), and
concurrent guesses are claimed atomically, so no more passwords are checked
than the limits allow."""
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor

from test_auth import PASSWORD, Api, api, operator, private_gateway, refused, tenants  # noqa: F401


def test_padding_variants_share_one_lock(api, tenants):
    t = tenants.create()
    email = t["owner"]["email"]
    for _ in range(5):  # SERPHONA_LOGIN_MAX_FAILURES
        refused(api.login(t["slug"], email, "Wrong-Password-123!"), 401, "invalid_credentials")
    # The right password, padded in every way tenant-manager would trim, is
    # still the locked account: no variant gets its own counter.
    for variant in (email, " " + email, "\t" + email, email + " ", f" \t{email.upper()}\t "):
        refused(api.login(t["slug"], variant, PASSWORD), 429, "too_many_login_attempts")


def test_padded_failures_count_towards_the_same_account(api, tenants):
    t = tenants.create()
    email = t["owner"]["email"]
    for pad in (" ", "\t", "  ", " \t", "\t\t"):
        refused(api.login(t["slug"], pad + email + pad, "Wrong-Password-123!"), 401,
                "invalid_credentials")
    refused(api.login(t["slug"], email, PASSWORD), 429, "too_many_login_attempts")


def test_concurrent_guesses_are_claimed_before_checking(stack, tenants):
    t = tenants.create()
    # A private gateway with a small address limit, so both limits are hit
    # in one test; each attempt comes from its own (forwarded) address for
    # the account case, from one address for the address case.
    with private_gateway(stack, SERPHONA_TRUSTED_PROXY_HOPS=1,
                         SERPHONA_LOGIN_IP_MAX_FAILURES=10) as url:
        gw = Api(stack, url)

        def guess(i, same_ip):
            ip = "198.51.100.77" if same_ip else f"10.{i // 250}.{i % 250}.{secrets.randbelow(250)}"
            email = t["owner"]["email"] if not same_ip else f"spray-{i}-{uuid.uuid4().hex[:6]}@x.test"
            return gw.login(t["slug"], email, "Wrong-Password-123!",
                            headers={"X-Forwarded-For": ip}).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            account = list(pool.map(lambda i: guess(i, False), range(40)))
        assert account.count(401) == 5, account          # SERPHONA_LOGIN_MAX_FAILURES
        assert account.count(429) == 35, account

        with ThreadPoolExecutor(max_workers=20) as pool:
            address = list(pool.map(lambda i: guess(i, True), range(30)))
        assert address.count(401) == 10, address         # SERPHONA_LOGIN_IP_MAX_FAILURES
        assert address.count(429) == 20, address
