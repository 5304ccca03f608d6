#!/bin/sh
# A reference exec broker for Vault/OpenBao token grants (README.md, "The exec contract").
#
#   broker.sh request|end|renew|status [defect]
#
# request  creates a token carrying the task's policy (JITC_TERM_VAULT_POLICY) whose TTL and
#          explicit max TTL are both the approval window and which cannot be renewed, named with
#          JITC_PREFIX and marked with the run id (so `jitc cleanup` finds it), and answers with it.
#          The broker's approval rule is automatic: the approver is the one the task names.
# end      revokes the token by its accessor (JITC_CREDENTIAL_ID).
# renew    refuses: a longer grant needs a new approval, and the tokens are not renewable anyway.
# status   looks the accessor up.
#
# The CLI is $BAO_BIN when set, else `bao` or `vault` on PATH, else jitc's own local install
# (found from this script's own place in the project, wherever the hook runs).
# It reads the address and the broker's token from BAO_ADDR/BAO_TOKEN (VAULT_ADDR/VAULT_TOKEN
# for `vault`). No token is ever put on a command line, where every user of the machine sees it
# (ps): the new token is read back through the environment of the one call that needs it.
#
# The optional last word breaks the broker on purpose, for the project's tests (README.md):
# forgets-to-end, says-revoked, grants-longer, durable, renews-without-approval, same-credential,
# understated-expiry.
set -eu

hook=${1:?usage: broker.sh request|end|renew|status [defect]}
defect=${2:-}

if [ -n "${BAO_BIN:-}" ]; then cli=$BAO_BIN
elif command -v bao >/dev/null 2>&1; then cli=bao
elif command -v vault >/dev/null 2>&1; then cli=vault
elif [ -x "$(dirname "$0")/../../../.targets/venv/bin/bao" ]; then cli="$(dirname "$0")/../../../.targets/venv/bin/bao"
else echo "broker.sh: neither bao nor vault found (set BAO_BIN)" >&2; exit 1
fi

# A JSON string (or null for an empty value): quotes and backslashes escaped, control characters dropped.
str() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr -d '\000-\037')"; }
str_or_null() { if [ -n "$1" ]; then str "$1"; else printf null; fi; }
# Now, to the millisecond where date can (GNU), so approval never reads as earlier than the request.
now() { t=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ); case $t in *N*) date -u +%Y-%m-%dT%H:%M:%SZ ;; *) printf '%s\n' "$t" ;; esac; }
# Milliseconds since the epoch where date can (GNU), else the whole second.
now_ms() { t=$(date -u +%s%3N); case $t in *N*) printf '%s000\n' "$(date -u +%s)" ;; *) printf '%s\n' "$t" ;; esac; }
# An epoch second as an ISO time (GNU date, then BSD date).
iso_at() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ; }
lookup() { "$cli" token lookup -accessor -field="$1" "$2"; }
# One flat field (a string or a number) of the CLI's indented JSON; empty when absent or null.
field() { printf '%s\n' "$2" | sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" | sed -e 1q -e /^null\$/d; }

window=${JITC_WINDOW_SECONDS:?}
# Where the same-credential defect keeps the first task's token until its end: one file per scenario.
state_file() {
  dir=${TMPDIR:-/tmp}/jitc-vault-token-broker
  (umask 077 && mkdir -p "$dir")
  printf '%s/%s' "$dir" "$(printf '%s' "${JITC_TASK_ID%%#*}" | tr -c 'A-Za-z0-9_.-' '_')"
}

answer_grant() { # token accessor issued-at stated-expiry request-id approved-at
  printf '{"requestId":%s,"approver":%s,"approvedAt":%s,"issuedAt":%s,"expiresAt":%s,' \
    "$(str "$5")" "$(str_or_null "${JITC_APPROVER:-}")" "$(str "$6")" "$(str "$3")" "$(str_or_null "$4")"
  printf '"credential":{"type":"vault-token","token":%s,"accessor":%s},"scope":[%s]}\n' \
    "$(str "$1")" "$(str "$2")" "$(str "policy $JITC_TERM_VAULT_POLICY")"
}

case $hook in
request)
  approved_ms=$(now_ms)
  approved_at=$(now)
  if [ "$defect" = same-credential ] && [ -s "$(state_file)" ]; then
    # Broken: the second task is handed the first task's token.
    { read -r token; read -r accessor; read -r issued; read -r stated; } <"$(state_file)"
    answer_grant "$token" "$accessor" "$issued" "$stated" "vt-$accessor-again" "$approved_at"
    exit 0
  fi
  # The approval covers the window from the moment it was given: a token issued later gets what is
  # left of it. Vault counts a TTL from the token's creation, which comes after this shell has
  # started the CLI (slow on a loaded machine), so the broker checks the expiry Vault gave the token
  # and, should it reach past the window, revokes it and issues one shorter by the lag it saw.
  attempt=0 lag=0
  while :; do
    attempt=$((attempt + 1))
    asked_ms=$(now_ms)
    left=$(( (approved_ms + window * 1000 - asked_ms) / 1000 - lag ))
    if [ "$left" -lt 1 ]; then echo "broker.sh: the approval window passed before a token could be issued" >&2; exit 1; fi
    ttl=$left max=$left renewable=false
    case $defect in
    grants-longer) ttl=$((window * 10)) max=$ttl ;;
    understated-expiry) ttl=$((window * 3)) max=$ttl ;;
    renews-without-approval) ttl=$window renewable=true max=$((window * 10)) ;;
    esac
    if [ "$defect" = durable ]; then
      # Broken: a periodic token, renewable for ever, with no end.
      token=$("$cli" token create -policy="$JITC_TERM_VAULT_POLICY" -period=24h -display-name="$JITC_PREFIX" \
        -metadata="jitc_run=$JITC_RUN_ID" -field=token)
    else
      token=$("$cli" token create -policy="$JITC_TERM_VAULT_POLICY" -ttl="${ttl}s" -explicit-max-ttl="${max}s" \
        -renewable="$renewable" -display-name="$JITC_PREFIX" -metadata="jitc_run=$JITC_RUN_ID" -field=token)
    fi
    # The token looks itself up (lookup-self): its accessor and the times Vault gave it.
    facts=$(BAO_TOKEN=$token VAULT_TOKEN=$token "$cli" token lookup -format=json)
    accessor=$(field accessor "$facts")
    # Vault states the creation to the whole second: the expiry is before the next second plus the TTL.
    created=$(field creation_time "$facts")
    if [ -n "$defect" ] || [ "$attempt" -ge 3 ] ||
      [ $(( (created + 1 + ttl) * 1000 )) -le $((approved_ms + window * 1000 + 1000)) ]; then
      break
    fi
    lag=$((created + 1 - asked_ms / 1000))
    "$cli" token revoke -accessor "$accessor" >/dev/null
  done
  case $defect in
  durable) stated= ;;
  understated-expiry) stated=$(iso_at $((created + window))) ;;
  *) stated=$(field expire_time "$facts") ;;
  esac
  if [ "$defect" = same-credential ]; then
    (umask 077 && printf '%s\n%s\n%s\n%s\n' "$token" "$accessor" "$(field issue_time "$facts")" "$stated" >"$(state_file)")
  fi
  answer_grant "$token" "$accessor" "$(field issue_time "$facts")" "$stated" "vt-$accessor" "$approved_at"
  ;;
end)
  accessor=${JITC_CREDENTIAL_ID:?}
  case $defect in
  forgets-to-end) printf '{"ended":false,"detail":"the broker keeps the token"}\n'; exit 0 ;;
  says-revoked) printf '{"ended":true,"endedAt":%s,"detail":"revoked"}\n' "$(str "$(now)")"; exit 0 ;;
  same-credential) rm -f "$(state_file)" ;;
  esac
  # Revoking an accessor that is already gone (expired, revoked) succeeds: end is idempotent.
  "$cli" token revoke -accessor "$accessor" >/dev/null
  printf '{"ended":true,"endedAt":%s,"detail":%s}\n' "$(str "$(now)")" "$(str "revoked token $accessor")"
  ;;
renew)
  if [ "$defect" = renews-without-approval ]; then
    # Broken: the token is renewed although nobody approved it.
    "$cli" token renew -accessor -increment="${JITC_RENEW_SECONDS:?}s" "$JITC_CREDENTIAL_ID" >/dev/null
    printf '{"renewed":true,"expiresAt":%s,"approver":null}\n' "$(str "$(lookup expire_time "$JITC_CREDENTIAL_ID")")"
  elif [ -z "${JITC_APPROVER:-}" ]; then
    printf '{"renewed":false,"detail":"needs a new approval"}\n'
  else
    printf '{"renewed":false,"detail":"tokens are issued non-renewable: request a new grant"}\n'
  fi
  ;;
status)
  if expires=$(lookup expire_time "${JITC_CREDENTIAL_ID:?}" 2>&1); then
    printf '{"state":"active","expiresAt":%s,"detail":"token is live"}\n' "$(str_or_null "$expires")"
  else
    # Only the target's own "invalid accessor" says it ended; any other failure is not an answer.
    case $expires in *"invalid accessor"*) ;; *) printf '%s\n' "$expires" >&2; exit 1 ;; esac
    printf '{"state":"ended","detail":"accessor no longer resolves"}\n'
  fi
  ;;
*) echo "broker.sh: unknown hook $hook" >&2; exit 2 ;;
esac
