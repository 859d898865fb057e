# The secret-access detector's own Vault / OpenBao policy: least privilege.
#
# The detector revokes credentials; it never reads them. It can:
#   - look a token up by its accessor, to record what a revocation cuts (display name,
#     policies, TTL, entity) before cutting it;
#   - revoke a token by its accessor (its child tokens and leases go with it);
#   - revoke a dynamic secret's lease.
# Nothing else: no secret engine, no `sys/` beyond lease revocation, no token creation.
#
#   bao policy write secret-access-detector policies/detector.hcl
#   bao token create -policy=secret-access-detector -no-default-policy -orphan -period=24h
#
# Revocation by accessor needs the audit device to write accessors in the clear:
#   audit "file" "main" { options { file_path = "...", hmac_accessor = "false" } }

path "auth/token/lookup-accessor" {
  capabilities = ["update"]
}

path "auth/token/revoke-accessor" {
  capabilities = ["update"]
}

path "sys/leases/revoke" {
  capabilities = ["update"]
}

# The detector's periodic token renews itself (no other token).
path "auth/token/renew-self" {
  capabilities = ["update"]
}
