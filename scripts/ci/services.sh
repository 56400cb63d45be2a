#!/usr/bin/env bash
# Installs and runs the real components kadd's integration tests use: etcd 3.4 (Debian etcd-server,
# etcd-client), OpenSSH (openssh-server, openssh-client), cloud-init and zsh (completion test).
#
#   scripts/ci/services.sh [install|start|stop|status] [STATE_DIR]     (default: install + start)
#
# Idempotent and noninteractive; quick when already installed/running. Daemons listen on 127.0.0.1
# only; state, logs, keys and PIDs live under STATE_DIR (default /tmp/kadd-services).
# `start` writes STATE_DIR/env (KADD_IT_ETCD_ENDPOINTS, KADD_IT_SSH_PORT, KADD_IT_SSH_KEY,
# KADD_IT_SSH_FINGERPRINT). The integration tests (test/integration/*.integration.test.ts) start
# their own isolated processes and only need `install`; the running services are for manual runs,
# the simulator's real-etcd mode and debugging.
set -euo pipefail

cmd="${1:-all}"
case "$cmd" in install|start|stop|status|all) shift || true ;; *) cmd=all ;; esac
DIR="${1:-/tmp/kadd-services}"
ETCD_CLIENT=(23791 23792 23793)
ETCD_PEER=(23801 23802 23803)
SSH_PORT=22220

log() { printf 'services: %s\n' "$*" >&2; }

have_all() {
  command -v etcd >/dev/null && command -v etcdctl >/dev/null && [ -x /usr/sbin/sshd ] &&
    command -v ssh-keygen >/dev/null && [ -x /usr/lib/openssh/sftp-server ] && command -v cloud-init >/dev/null && command -v zsh >/dev/null
}

do_install() {
  if have_all; then log "etcd, etcdctl, sshd, cloud-init, zsh already installed"; return 0; fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  log "installing etcd-server etcd-client openssh-server openssh-client cloud-init zsh"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  # cloud-init: its `cloud-init schema -c` checks the rendered user-data in the integration suite
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends etcd-server etcd-client openssh-server openssh-client cloud-init zsh >/dev/null
  # the package may have been started by its maintainer script: we run our own instances
  have_all || { log "install failed"; exit 1; }
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_port() {
  local port=$1 i
  for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  log "nothing listens on 127.0.0.1:$port (see $DIR/*.log)"; return 1
}

do_start() {
  have_all || do_install
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  local ic="" n
  for n in 1 2 3; do ic+="${ic:+,}m$n=http://127.0.0.1:${ETCD_PEER[$((n-1))]}"; done
  for n in 1 2 3; do
    if alive "$DIR/etcd-m$n.pid"; then continue; fi
    local state=new
    [ -d "$DIR/etcd-m$n/member" ] && state=existing
    nohup etcd --name "m$n" --data-dir "$DIR/etcd-m$n" \
      --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT[$((n-1))]}" --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT[$((n-1))]}" \
      --listen-peer-urls "http://127.0.0.1:${ETCD_PEER[$((n-1))]}" --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER[$((n-1))]}" \
      --initial-cluster "$ic" --initial-cluster-state "$state" --initial-cluster-token kadd-services \
      >>"$DIR/etcd-m$n.log" 2>&1 </dev/null &
    echo $! >"$DIR/etcd-m$n.pid"
    log "etcd m$n started (pid $!)"
  done

  mkdir -p /run/sshd 2>/dev/null || sudo -n mkdir -p /run/sshd
  [ -f "$DIR/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$DIR/ssh_host_ed25519_key"
  [ -f "$DIR/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$DIR/client_key"
  cp "$DIR/client_key.pub" "$DIR/authorized_keys"
  cat >"$DIR/sshd.conf" <<CONF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $DIR/ssh_host_ed25519_key
PidFile $DIR/sshd.pidfile
AuthorizedKeysFile $DIR/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
AllowUsers $(id -un)
Subsystem sftp /usr/lib/openssh/sftp-server
CONF
  if ! alive "$DIR/sshd.pid"; then
    nohup /usr/sbin/sshd -D -f "$DIR/sshd.conf" -E "$DIR/sshd.log" </dev/null >/dev/null 2>&1 &
    echo $! >"$DIR/sshd.pid"
    log "sshd started on 127.0.0.1:$SSH_PORT (pid $!)"
  fi
  wait_port "$SSH_PORT"
  for p in "${ETCD_CLIENT[@]}"; do wait_port "$p"; done
  local eps; eps=$(printf 'http://127.0.0.1:%s,' "${ETCD_CLIENT[@]}"); eps=${eps%,}
  for _ in $(seq 1 50); do
    ETCDCTL_API=3 etcdctl --endpoints="$eps" --dial-timeout=1s --command-timeout=2s endpoint health >/dev/null 2>&1 && break
    sleep 0.2
  done
  cat >"$DIR/env" <<ENV
KADD_IT_ETCD_ENDPOINTS=$eps
KADD_IT_SSH_HOST=127.0.0.1
KADD_IT_SSH_PORT=$SSH_PORT
KADD_IT_SSH_USER=$(id -un)
KADD_IT_SSH_KEY=$DIR/client_key
KADD_IT_SSH_FINGERPRINT=$(ssh-keygen -lf "$DIR/ssh_host_ed25519_key.pub" | cut -d' ' -f2)
ENV
  do_status
}

do_stop() {
  local f pid
  for f in "$DIR"/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
      log "stopped $(basename "$f" .pid) (pid $pid)"
    fi
    rm -f "$f"
  done
}

do_status() {
  local f rc=0
  for f in "$DIR"/etcd-m1.pid "$DIR"/etcd-m2.pid "$DIR"/etcd-m3.pid "$DIR"/sshd.pid; do
    if alive "$f"; then log "$(basename "$f" .pid): running (pid $(cat "$f"))"; else log "$(basename "$f" .pid): not running"; rc=1; fi
  done
  return $rc
}

case "$cmd" in
  install) do_install ;;
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  all) do_install; do_start ;;
esac
