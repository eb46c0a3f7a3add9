#!/usr/bin/env bash
# SCRAM-SHA-512 credentials on the Kafka cluster, from a file of "<user> <password>" lines
# (blank lines and lines starting with # are skipped). Users are Kafka principals without the
# "User:" prefix, e.g. agency-ndrc. Setting a user's password again replaces it.
#
# Usage: kafka-scram-users.sh CREDENTIALS_FILE [--dry-run]
# Environment: KAFKA_BOOTSTRAP (default kafka:9092), KAFKA_COMMAND_CONFIG, KAFKA_BIN
# (default /opt/kafka/bin), SCRAM_ITERATIONS (default 8192).
#
# Passwords: at least 16 characters of A-Z a-z 0-9 . _ ~ + / - (the config syntax of
# kafka-configs.sh reserves , = [ ]). --dry-run checks the file and prints the users only.
set -euo pipefail

file="${1:-}"
dry_run=false
[[ "${2:-}" == "--dry-run" ]] && dry_run=true
if [[ -z "$file" || ! -r "$file" ]]; then
  echo "usage: $0 CREDENTIALS_FILE [--dry-run] (file missing or unreadable: '${file}')" >&2
  exit 2
fi

bootstrap="${KAFKA_BOOTSTRAP:-kafka:9092}"
command_config="${KAFKA_COMMAND_CONFIG:-}"
kafka_bin="${KAFKA_BIN:-/opt/kafka/bin}"
iterations="${SCRAM_ITERATIONS:-8192}"

count=0
line_no=0
while IFS= read -r line || [[ -n "$line" ]]; do
  line_no=$((line_no + 1))
  [[ -z "${line//[[:space:]]/}" || "$line" =~ ^[[:space:]]*# ]] && continue
  read -r user password rest <<< "$line"
  if [[ -n "${rest:-}" || -z "${password:-}" ]]; then
    echo "$file:$line_no: expected '<user> <password>'" >&2
    exit 1
  fi
  if [[ ! "$user" =~ ^[A-Za-z0-9._-]+$ ]]; then
    echo "$file:$line_no: user '$user': only A-Z a-z 0-9 . _ -" >&2
    exit 1
  fi
  if [[ ! "$password" =~ ^[A-Za-z0-9._~+/-]{16,}$ ]]; then
    echo "$file:$line_no: the password of '$user' needs 16 or more of A-Z a-z 0-9 . _ ~ + / -" >&2
    exit 1
  fi
  if $dry_run; then
    echo "$user"
  else
    cmd=("$kafka_bin/kafka-configs.sh" --bootstrap-server "$bootstrap")
    if [[ -n "$command_config" ]]; then
      cmd+=(--command-config "$command_config")
    fi
    "${cmd[@]}" --alter --entity-type users --entity-name "$user" \
      --add-config "SCRAM-SHA-512=[iterations=${iterations},password=${password}]" > /dev/null
  fi
  count=$((count + 1))
done < "$file"

if ! $dry_run; then
  echo "SCRAM-SHA-512 credentials set for ${count} user(s)"
fi
