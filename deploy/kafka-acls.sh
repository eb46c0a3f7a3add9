#!/usr/bin/env bash
# Kafka ACLs of jointcase, for a broker with the StandardAuthorizer (KRaft) and
# allow.everyone.if.no.acl.found=false: whatever is not granted here is refused.
#
# Agencies that produce directly (twelve agency streams and the grid's meter feed, `power`):
#   User:agency-<stream>   WRITE and DESCRIBE on its own topic <prefix><stream>; nothing else:
#                          no READ, no other topic, no consumer group.
#   The task force has no principal: it writes through the HTTP gateway only.
#
# The internal services, when they connect with principals of their own (SASL):
#   worker    READ and DESCRIBE on every stream topic; WRITE and DESCRIBE on the dead-letter
#             topic; CREATE on the system's topics (it provisions them at start); READ on its
#             consumer group <prefix>projector; for its Faust app, every operation on the topics
#             prefixed <prefix>worker- and READ on the group <prefix>worker.
#   gateway   WRITE and DESCRIBE on every stream topic (the outbox relay); DESCRIBE on the
#             dead-letter topic; CREATE on the system's topics; DESCRIBE on the group
#             <prefix>projector (the worker lag reported by /readyz).
#   both      IDEMPOTENT_WRITE on the cluster (their producers are idempotent).
# In docker-compose.yml they use the PLAINTEXT listener, whose principal (User:ANONYMOUS) is a
# super user, and these grants are not consulted; they are what the services need without it.
#
# Usage: kafka-acls.sh [--dry-run]
#   --dry-run   print the kafka-acls.sh commands, one a line, instead of running them
# Environment:
#   KAFKA_BOOTSTRAP          an admin listener (default kafka:9092)
#   KAFKA_COMMAND_CONFIG     client properties for it (security.protocol, sasl.*), if needed
#   KAFKA_BIN                where kafka-acls.sh is (default /opt/kafka/bin)
#   TOPIC_PREFIX             topic prefix (default jointcase.)
#   WORKER_GROUP             the projection workers' group (default <prefix>projector)
#   WORKER_PRINCIPAL         default User:jointcase-worker
#   GATEWAY_PRINCIPAL        default User:jointcase-gateway
#
# Adding an ACL that exists is a no-op: the script can be run again at any time.
set -euo pipefail

dry_run=false
case "${1:-}" in
  --dry-run) dry_run=true ;;
  "") ;;
  *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac

bootstrap="${KAFKA_BOOTSTRAP:-kafka:9092}"
command_config="${KAFKA_COMMAND_CONFIG:-}"
kafka_bin="${KAFKA_BIN:-/opt/kafka/bin}"
prefix="${TOPIC_PREFIX:-jointcase.}"
projector_group="${WORKER_GROUP:-${prefix}projector}"
faust_app="${prefix}worker"
worker="${WORKER_PRINCIPAL:-User:jointcase-worker}"
gateway="${GATEWAY_PRINCIPAL:-User:jointcase-gateway}"

# The streams whose systems publish on Kafka directly (events/streams.py).
agency_streams=(
  ndrc miit quality land environment housing safety customs tax market credit
  steel_association power
)
# Every stream topic the services use: the agencies' and the task force's.
all_streams=("${agency_streams[@]}" taskforce)
dead_letter="${prefix}deadletter"

acls() {
  local cmd=("$kafka_bin/kafka-acls.sh" --bootstrap-server "$bootstrap")
  if [[ -n "$command_config" ]]; then
    cmd+=(--command-config "$command_config")
  fi
  cmd+=(--add "$@")
  if $dry_run; then
    printf '%q ' "${cmd[@]}"
    printf '\n'
  else
    "${cmd[@]}" > /dev/null
  fi
}

for stream in "${agency_streams[@]}"; do
  acls --allow-principal "User:agency-${stream}" \
    --operation Write --operation Describe --topic "${prefix}${stream}"
done

# Internal services: one command per grant, over every topic it concerns (each kafka-acls.sh
# run starts a JVM). A command grants each of its principals each operation on each resource.
stream_topics=()
for stream in "${all_streams[@]}"; do
  stream_topics+=(--topic "${prefix}${stream}")
done

acls --allow-principal "$worker" --operation Read --operation Describe "${stream_topics[@]}"
acls --allow-principal "$gateway" --operation Write --operation Describe "${stream_topics[@]}"
acls --allow-principal "$worker" --operation Write --operation Describe --topic "$dead_letter"
acls --allow-principal "$gateway" --operation Describe --topic "$dead_letter"
acls --allow-principal "$worker" --allow-principal "$gateway" \
  --operation Create "${stream_topics[@]}" --topic "$dead_letter"

acls --allow-principal "$worker" --operation Read --group "$projector_group"
acls --allow-principal "$gateway" --operation Describe --group "$projector_group"

acls --allow-principal "$worker" --operation All \
  --resource-pattern-type prefixed --topic "${faust_app}-"
acls --allow-principal "$worker" --operation Read --group "$faust_app"

acls --allow-principal "$worker" --allow-principal "$gateway" \
  --operation IdempotentWrite --cluster

if ! $dry_run; then
  echo "ACLs in place: ${#agency_streams[@]} agency principals (write own topic only)," \
    "worker ${worker}, gateway ${gateway}, prefix ${prefix}"
fi
