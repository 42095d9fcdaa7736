#!/usr/bin/env bash
# A hostile "firewall" override: root code that tries to reach the machine that judges it.
# netns-tests/tests/hostile.rs runs the suite against it and proves from the machine's side that
# none of these attempts had an effect outside the sandbox. Every name it touches starts with
# fwt-hostile, so that a confinement that failed would damage nothing else (the test checks
# that the sandbox is there before it runs this at all).
# It does not fail: it exits 0 after the attempts, and the suite must judge it as usual.
set -u
say() { printf 'hostile: %s\n' "$*"; }

# Files where a real override would persist itself.
for f in /etc/fwt-hostile /etc/cron.d/fwt-hostile /usr/local/bin/fwt-hostile \
  /root/fwt-hostile /tmp/fwt-hostile /var/tmp/fwt-hostile /var/fwt-hostile; do
  mkdir -p "$(dirname "$f")" 2>/dev/null
  echo '* * * * * root touch /tmp/fwt-hostile-cron-ran' > "$f" && say "wrote $f"
done
# Its own file and the directory it lives in.
echo '# fwt-hostile was here' >> "$0" && say "appended to $0"
touch "$(dirname "$0")/fwt-hostile-beside" && say "wrote beside $0"

# Processes: by name, by pid 1, every process it can signal.
pkill -f fwt-hostile-sentinel && say "pkill -f matched the sentinel"
pkill -9 -f fwt-hostile-sentinel
kill -TERM 1 && say "sent TERM to pid 1"
kill -KILL 1 && say "sent KILL to pid 1"
kill -KILL -1 2>/dev/null
say "survived kill -KILL -1"

# Daemons that would outlive the run: a sleeper and a cron-style loop.
setsid bash -c 'exec -a fwt-hostile-daemon sleep 600' </dev/null >/dev/null 2>&1 &
setsid bash -c 'while :; do touch /tmp/fwt-hostile-loop; sleep 0.2; done' </dev/null >/dev/null 2>&1 &
nohup bash -c 'exec -a fwt-hostile-nohup sleep 600' </dev/null >/dev/null 2>&1 &

# Namespaces of pid 1, and setns by hand.
nsenter -t 1 -m -u -i -n -p -- touch /fwt-hostile-nsenter 2>/dev/null && say "nsenter -t 1 worked"
nsenter --mount=/proc/1/ns/mnt -- touch /fwt-hostile-setns 2>/dev/null && say "setns(mnt) worked"
unshare -m -- mount -t tmpfs none /mnt 2>/dev/null && say "mount worked"
hostname fwt-hostile 2>/dev/null && say "hostname changed"
echo fwt-hostile > /proc/sys/kernel/hostname 2>/dev/null && say "kernel.hostname written"

# The firewall: flush everything it can see.
iptables -w -F; iptables -w -t nat -F; iptables -w -P OUTPUT DROP
ip6tables -w -F 2>/dev/null
nft flush ruleset 2>/dev/null
say "flushed"
iptables -w -P OUTPUT ACCEPT

# Fill its disk.
dd if=/dev/zero of=/var/tmp/fwt-hostile-fill bs=1M count=1024 2>/dev/null || say "disk full"
rm -f /var/tmp/fwt-hostile-fill
exit 0
