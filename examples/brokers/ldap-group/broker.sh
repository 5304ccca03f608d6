#!/bin/sh
# A reference exec broker for time-bound LDAP group membership (README.md, "The exec contract").
#
#   broker.sh request|end|renew|status [defect]
#
# The grant is a privilege on the requester's own identity (scenario credential `requester`):
# request  puts the requester (JITC_REQUESTER, a DN) into a new group named with JITC_PREFIX under
#          LDAP_GROUPS_DN, made an RFC 2589 dynamic object whose entryTtl is the approval window
#          (ldapexop refresh), and nests that group in the grant group (JITC_TERM_LDAP_GRANT_GROUP).
#          The directory deletes the group at its TTL, and with it the membership, even if the
#          broker never comes back. The broker's approval rule is automatic. The answer names the
#          group (and any account it made) as `made`: jitc looks them up after the end.
# end      takes the group out of the grant group and deletes it.
# renew    refuses: a longer grant needs a new approval.
# status   reads the group's expiry.
#
# The directory and the broker's bind come from LDAP_URL, LDAP_BIND_DN and LDAP_BIND_PASSWORD. The
# password goes to the ldap tools in a file only this user can read (-y), removed on exit: never on
# a command line, where every user of the machine sees it (ps).
#
# The optional last word breaks the broker on purpose, for the project's tests (README.md):
# forgets-to-end, says-revoked, grants-longer, durable, renews-without-approval, same-credential,
# understated-expiry. same-credential hands every task the bind of one shared service account (a
# scenario with credential `ldap-bind`), since a membership of the requester is no credential to share.
set -eu

hook=${1:?usage: broker.sh request|end|renew|status [defect]}
defect=${2:-}

password_file=$(umask 077 && mktemp)
trap 'rm -f "$password_file"' EXIT
printf '%s' "${LDAP_BIND_PASSWORD:?}" >"$password_file"
ldap() { tool=$1; shift; "$tool" -x -H "${LDAP_URL:?}" -D "${LDAP_BIND_DN:?}" -y "$password_file" "$@"; }

# A JSON string (or null for an empty value): quotes and backslashes escaped, control characters dropped.
str() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr -d '\000-\037')"; }
str_or_null() { if [ -n "$1" ]; then str "$1"; else printf null; fi; }
now() { t=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ); case $t in *N*) date -u +%Y-%m-%dT%H:%M:%SZ ;; *) printf '%s\n' "$t" ;; esac; }
# Milliseconds since the epoch where date can (GNU), else the whole second.
now_ms() { t=$(date -u +%s%3N); case $t in *N*) printf '%s000\n' "$(date -u +%s)" ;; *) printf '%s\n' "$t" ;; esac; }
iso_at() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ; }
# LDIF values base64-encoded: a DN with any character at all stays one value.
b64() { printf '%s' "$1" | base64 | tr -d '\n'; }

window=${JITC_WINDOW_SECONDS:?}
grant_group=${JITC_TERM_LDAP_GRANT_GROUP:?}
group="cn=$JITC_PREFIX.broker-grant,${LDAP_GROUPS_DN:?}"
account="cn=$JITC_PREFIX.broker-account,${LDAP_ACCOUNTS_DN:-$LDAP_GROUPS_DN}"

# Exit status of the last command: 0, or already gone (16 noSuchAttribute, 32 noSuchObject).
gone() { [ "$1" -eq 16 ] || [ "$1" -eq 32 ]; }

# When the directory says an entry expires (entryExpireTimestamp, as ISO); empty when it states none.
# Fails when the entry does not exist.
expiry_of() {
  found=$(ldap ldapsearch -LLL -o ldif-wrap=no -b "$1" -s base '(objectClass=*)' entryExpireTimestamp) || return
  printf '%s\n' "$found" |
    sed -n 's/^entryExpireTimestamp: \([0-9]\{4\}\)\([0-9]\{2\}\)\([0-9]\{2\}\)\([0-9]\{2\}\)\([0-9]\{2\}\)\([0-9]\{2\}\)Z$/\1-\2-\3T\4:\5:\6Z/p'
}

# Where the same-credential defect keeps the shared account's bind until the end: one file per scenario.
state_file() {
  dir=${TMPDIR:-/tmp}/jitc-ldap-group-broker
  (umask 077 && mkdir -p "$dir")
  printf '%s/%s' "$dir" "$(printf '%s' "${JITC_TASK_ID%%#*}" | tr -c 'A-Za-z0-9_.-' '_')"
}

case $hook in
request)
  approved_ms=$(now_ms)
  approved_at=$(now)
  credential=
  made=$(str "$group")
  member=${JITC_REQUESTER:?}
  if [ "$defect" = same-credential ]; then
    if [ -s "$(state_file)" ]; then
      # Broken: the second task is handed the first task's bind.
      { read -r dn; read -r secret; read -r first_group; } <"$(state_file)"
      printf '{"requestId":%s,"approver":%s,"approvedAt":%s,"expiresAt":%s,"credential":{"type":"ldap-bind","dn":%s,"password":%s}}\n' \
        "$(str "lg-$JITC_PREFIX")" "$(str_or_null "${JITC_APPROVER:-}")" "$(str "$approved_at")" "$(str_or_null "$(expiry_of "$first_group")")" \
        "$(str "$dn")" "$(str "$secret")"
      exit 0
    fi
    # Broken: one service account for every task. It is created with a value no password hashes to,
    # then given its password through Password Modify, so the directory stores only a hash.
    secret=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    ldap ldapadd >/dev/null <<EOF
dn:: $(b64 "$account")
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: $JITC_PREFIX.broker-account
userPassword: {SSHA}unset
EOF
    secret_file=$(umask 077 && mktemp)
    printf '%s' "$secret" >"$secret_file"
    ldap ldappasswd -T "$secret_file" "$account" >/dev/null
    rm -f "$secret_file"
    (umask 077 && printf '%s\n%s\n%s\n' "$account" "$secret" "$group" >"$(state_file)")
    member=$account
    made="$made,$(str "$account")"
    credential=$(printf ',"credential":{"type":"ldap-bind","dn":%s,"password":%s}' "$(str "$account")" "$(str "$secret")")
  fi
  dynamic=dynamicObject
  [ "$defect" = durable ] && dynamic=top # Broken: a plain group, which only a revocation removes.
  ldap ldapadd >/dev/null <<EOF
dn:: $(b64 "$group")
objectClass: groupOfNames
objectClass: $dynamic
cn: $JITC_PREFIX.broker-grant
member:: $(b64 "$member")
EOF
  issued=$(date -u +%s)
  if [ "$defect" != durable ]; then
    # The approval covers the window from the moment it was given: the group gets what is left of
    # it. The directory counts the TTL from the refresh, which comes after the tools have started
    # (slow on a loaded machine), so a refresh that reached past the window is made again, shorter
    # by the lag it saw (a refresh sets the TTL anew).
    attempt=0 lag=0
    while :; do
      attempt=$((attempt + 1))
      asked_ms=$(now_ms)
      ttl=$(( (approved_ms + window * 1000 - asked_ms) / 1000 - lag ))
      if [ "$ttl" -lt 1 ]; then echo "broker.sh: the approval window passed before the membership could be granted" >&2; exit 1; fi
      case $defect in grants-longer) ttl=$((window * 10)) ;; understated-expiry) ttl=$((window * 3)) ;; esac
      ldap ldapexop refresh "$group" "$ttl" >/dev/null
      refreshed=$(date -u +%s)
      if [ -n "$defect" ] || [ "$attempt" -ge 3 ] || [ $(( (refreshed + 1 + ttl) * 1000 )) -le $((approved_ms + window * 1000 + 1000)) ]; then
        break
      fi
      lag=$((refreshed + 1 - asked_ms / 1000))
    done
  fi
  # Only now, time-bound, does the group reach the privilege.
  ldap ldapmodify >/dev/null <<EOF
dn:: $(b64 "$grant_group")
changetype: modify
add: member
member:: $(b64 "$group")
EOF
  issued_at=$(now)
  case $defect in
  durable) stated= ;;
  understated-expiry) stated=$(iso_at $((issued + window))) ;;
  *) stated=$(expiry_of "$group") ;;
  esac
  printf '{"requestId":%s,"approver":%s,"approvedAt":%s,"issuedAt":%s,"expiresAt":%s%s,"scope":[%s],"made":[%s]}\n' \
    "$(str "lg-$JITC_PREFIX")" "$(str_or_null "${JITC_APPROVER:-}")" "$(str "$approved_at")" "$(str "$issued_at")" \
    "$(str_or_null "$stated")" "$credential" "$(str "member of $grant_group through $group")" "$made"
  ;;
end)
  case $defect in
  forgets-to-end) printf '{"ended":false,"detail":"the broker keeps the membership"}\n'; exit 0 ;;
  says-revoked) printf '{"ended":true,"endedAt":%s,"detail":"revoked"}\n' "$(str "$(now)")"; exit 0 ;;
  esac
  # Already gone (expired, or ended before) counts as ended.
  ldap ldapmodify >/dev/null 2>&1 <<EOF || gone $?
dn:: $(b64 "$grant_group")
changetype: modify
delete: member
member:: $(b64 "$group")
EOF
  ldap ldapdelete "$group" >/dev/null 2>&1 || gone $?
  if [ "$defect" = same-credential ]; then
    ldap ldapdelete "$account" >/dev/null 2>&1 || gone $?
    rm -f "$(state_file)"
  fi
  printf '{"ended":true,"endedAt":%s,"detail":%s}\n' "$(str "$(now)")" "$(str "removed $group")"
  ;;
renew)
  if [ "$defect" = renews-without-approval ]; then
    # Broken: the membership is refreshed although nobody approved it.
    ldap ldapexop refresh "$group" "${JITC_RENEW_SECONDS:?}" >/dev/null
    printf '{"renewed":true,"expiresAt":%s,"approver":null}\n' "$(str_or_null "$(expiry_of "$group")")"
  elif [ -z "${JITC_APPROVER:-}" ]; then
    printf '{"renewed":false,"detail":"needs a new approval"}\n'
  else
    printf '{"renewed":false,"detail":"memberships are not renewed: request a new grant"}\n'
  fi
  ;;
status)
  if expires=$(expiry_of "$group" 2>/dev/null); then
    printf '{"state":"active","expiresAt":%s,"detail":%s}\n' "$(str_or_null "$expires")" "$(str "$group exists")"
  elif gone $?; then
    printf '{"state":"ended","detail":%s}\n' "$(str "$group is gone")"
  else
    exit 1
  fi
  ;;
*) echo "broker.sh: unknown hook $hook" >&2; exit 2 ;;
esac
