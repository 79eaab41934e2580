#!/bin/bash
# The load-test tables of docs/benchmarks.md: every run's --json and output in $OUT, and its
# start time and load average in $OUT/runs.log. Run it on a quiet machine.
#   TABLES="io main sweep poll"   session 3's tables (harness I/O modes, main rows, sweep, drives)
#   TABLES="main sweep threads"   session 4's (the default): trains and sender threads (D37, D38)
S=$(cd "$(dirname "$0")" && pwd)
B=${DAIS_LOADGEN:-/work/target-load/release/dais-loadgen}
D=${OUT:-/tmp/lgfinal}; mkdir -p $D
TABLES=${TABLES:-main sweep threads}
cd $D
run() { # name, args...
  local name=$1; shift
  echo "$name|$(date -u +%H:%M:%S)|$(cut -d' ' -f1-3 /proc/loadavg)|$*" >> $D/runs.log
  $B --spawn --quiet --json $D/$name.json "$@" > $D/$name.txt 2>&1
}
want() { [[ " $TABLES " == *" $1 "* ]]; }
if want io; then
  for io in simple batched gso; do run io-$io --venues 128 --duration 10 --switch-every 2 --io $io; done
fi
if want main; then
  for n in 16 64 256 500; do
    # daisd per thread (tid, name, CPU in 5 s), sampled 12 s into the run
    "$S"/daisd-threads.sh 12 > $D/threads-$n.txt &
    run main-$n --venues $n --duration 20 --switch-every 2 --reference
    wait
  done
fi
if want sweep; then
  for n in 8 16 24 32 48 64 96 128 160 192 224; do run sweep-$n --venues $n --duration 15 --switch-every 2; done
fi
if want threads; then
  # The same 500-venue meeting with 0 (the task sends everything), 1 and 2 sender threads.
  for t in 0 1 2; do
    echo "send_threads = $t" > $D/send-threads-$t.toml
    run threads-$t --venues 500 --duration 15 --switch-every 2 --daisd-config $D/send-threads-$t.toml
  done
  echo "udp_offload = false" > $D/no-offload.toml
  run no-offload-256 --venues 256 --duration 15 --switch-every 2 --daisd-config $D/no-offload.toml
  run over-800 --venues 800 --duration 15 --switch-every 2
fi
if want poll; then
  run poll-64 --venues 64 --duration 20 --polling 2
  run dialout-64 --venues 64 --duration 20 --switch-every 2 --dial-out
  run dialout-256 --venues 256 --duration 20 --switch-every 2 --dial-out
fi
echo done >> $D/runs.log
