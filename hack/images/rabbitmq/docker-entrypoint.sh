#!/bin/bash
# The official RabbitMQ image's entrypoint contract, for Debian's rabbitmq-server: started as
# root it drops to the rabbitmq user (uid 100) after giving it its data dir; the server reads
# RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS itself; long host names get long node names.
set -euo pipefail

if [[ ${1:-} == rabbitmq* && $(id -u) == 0 ]]; then
	if [[ $1 == rabbitmq-server ]]; then
		find /var/lib/rabbitmq \! -user rabbitmq -exec chown rabbitmq:rabbitmq '{}' +
	fi
	exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$BASH_SOURCE" "$@"
fi

if [[ -z ${RABBITMQ_USE_LONGNAME:-} && $(hostname) != "$(hostname -s)" ]]; then
	export RABBITMQ_USE_LONGNAME=true
fi

exec "$@"
